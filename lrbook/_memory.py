"""Memory a run needs, known before it starts, and the memory the machine has (private).

Every size of a training run is known before anything is allocated: ``N`` neurons,
``K`` networks, ``B`` trials of ``T`` steps, the dtype, the epochs and the snapshots.
:func:`training_bytes` adds up what :func:`lrbook.models.RNN.create` and
:func:`lrbook.training.train` allocate, and :func:`check` refuses a run that cannot
fit with a :class:`ValueError` that names the parameter responsible, how much the
run would need and how much memory is available: the run is refused at the
boundary, not by a ``MemoryError`` half-way through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Bytes per element of the dtypes lrbook trains in.
ITEMSIZE = {"float32": 4, "float64": 8}


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``: a byte count for error messages."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"                             # pragma: no cover


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    """Room left under a cgroup v2 memory limit (containers), None when unlimited."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            current = int(f.read().strip())
        return max(0, int(limit) - current)
    except (OSError, ValueError):
        return None


def available_bytes(device: object = "cpu") -> int | None:
    """Memory available for a new allocation, in bytes; None when unknown.

    CPU: ``MemAvailable`` of ``/proc/meminfo`` (else ``os.sysconf`` free pages),
    capped by a cgroup v2 limit; CUDA: the free memory of the device.
    """
    dev = str(getattr(device, "type", device)).split(":")[0]
    if dev == "cuda":
        try:
            import torch

            return int(torch.cuda.mem_get_info(device)[0])  # type: ignore[arg-type]
        except Exception:                              # no CUDA, or a driver error: unknown
            return None
    if dev != "cpu":
        return None
    avail = _meminfo_available()
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    cg = _cgroup_available()
    if cg is not None:
        avail = cg if avail is None else min(avail, cg)
    return avail


def weights_bytes(N: int, K: int, n_in: int, n_out: int, itemsize: int) -> dict[str, int]:
    """What :meth:`lrbook.models.RNN.create` allocates: float64 draws, stacked, cast."""
    P = K * (N * N + N * (n_in + n_out))
    return {"weights": P * (2 * 8 + itemsize) + 2 * N * N * 8}


def training_bytes(N: int, K: int, B: int, T: int, n_in: int, n_out: int, itemsize: int, *,
                   epochs: int = 1, n_snapshots: int = 0, trained_fraction: float = 1.0,
                   adam: bool = True) -> dict[str, int]:
    """What :func:`lrbook.training.train` allocates beyond the model's own weights.

    Returns a breakdown in bytes: ``weights`` (initial and final copies, gradients,
    optimizer state and scratch, the last finite weights, the engine's block matrices),
    ``trials`` (the stored rates and
    adjoints of every time step of every trial, and the trials themselves),
    ``loss curves`` and ``snapshots``.
    """
    P = K * (N * N + N * (n_in + n_out))
    Pt = int(P * trained_fraction)
    opt = (2 if adam else 0) + 3                        # Adam m, v; gradients; last finite; step
    blocks = 3 * K * (N + max(n_in, n_out)) ** 2       # the engine's block matrices and HA^T RA
    steps = K * (T + 1) * B
    return {
        "weights": P * itemsize * 3 + Pt * itemsize * opt + P * 4 + blocks * itemsize,
        "trials": steps * (2 * N + n_in + n_out) * itemsize + 6 * K * B * N * itemsize
        + 2 * steps * (n_in + 2 * n_out) * (4 + itemsize),
        "loss curves": 2 * epochs * K * 8,
        "snapshots": n_snapshots * K * N * N * itemsize,
    }


#: The parameters that make each part of the memory large (for the error message).
DRIVERS = {"weights": ("N", "K"), "trials": ("N", "K", "batch_size", "T"),
           "loss curves": ("epochs", "K"), "snapshots": ("snapshot_every", "N", "K"),
           "analysis": ("N", "K"), "batch": ("batch_size", "T")}


def check(parts: Mapping[str, int], sizes: Mapping[str, object], *, device: object = "cpu",
          names: Mapping[str, str] | None = None, available: int | None = None) -> int:
    """Raise :class:`ValueError` when ``sum(parts)`` bytes do not fit in the available memory.

    Parameters
    ----------
    parts : mapping of str to int
        bytes by part (keys of :data:`DRIVERS`).
    sizes : mapping of str to object
        the sizes of the run, by parameter name (``N``, ``K``, ``batch_size``, ``T``,
        ``epochs``, ...), quoted in the message.
    device : str or torch.device
        whose memory counts.
    names : mapping of str to str, optional
        how to call a parameter in the message (the CLI says ``--neurons`` for ``N``).
    available : int, optional
        bytes available (default :func:`available_bytes`); None: unknown, no check.

    Returns
    -------
    int
        the total bytes needed.

    Raises
    ------
    ValueError
        naming the parameter(s) that make the largest part, the bytes needed and
        the bytes available.
    """
    need = int(sum(parts.values()))
    avail = available_bytes(device) if available is None else available
    if avail is None or need <= avail:
        return need
    names = dict(names or {})
    top = max(parts, key=lambda k: parts[k])
    drivers = [d for d in DRIVERS.get(top, ()) if d in sizes]
    shown = ", ".join(f"{names.get(d, d)}={sizes[d]}" for d in drivers) or \
        ", ".join(f"{names.get(k, k)}={v}" for k, v in sizes.items())
    what = " or ".join(names.get(d, d) for d in drivers) or "the sizes"
    raise ValueError(f"{shown}: the run needs about {fmt_bytes(need)} of memory ({top}: {fmt_bytes(parts[top])}), "
                     f"but {fmt_bytes(avail)} is available on {getattr(device, 'type', device)}; "
                     f"reduce {what}")
