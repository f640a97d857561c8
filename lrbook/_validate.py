"""Argument checks shared by every layer.

Each check raises :class:`ValueError` (or :class:`TypeError` for a wrong type)
with a message that names the parameter, the value received and the allowed
range, e.g. ``"g must be >= 0 and finite; got -0.5"``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Largest seed: seeds are stored as int64 (numpy and torch accept them all).
MAX_SEED = 2 ** 63 - 1
#: Most networks in one ensemble (``len(g) x len(seeds)``): a clear limit well above
#: the paper's largest ensemble (40), below what a Python loop over networks can build
#: in reasonable time.
MAX_NETWORKS = 10_000
#: Most torch threads a call may ask for.
MAX_THREADS = 1024
#: Dtypes lrbook trains in.
DTYPES = ("float32", "float64")


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def real(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, hi_open: bool = False) -> float:
    """Check that ``value`` is a finite real number in the given interval.

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : object
        a real number (``bool`` is refused) or a 0-d numpy array holding one.
    lo, hi : float, optional
        bounds of the interval (none by default).
    lo_open, hi_open : bool
        exclude the bound itself (``> lo``, ``< hi``) instead of including it.

    Returns
    -------
    float
        ``value`` as a Python float.

    Raises
    ------
    TypeError
        if ``value`` is not a real number.
    ValueError
        if it is NaN, infinite or outside the interval.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    v = float(value)
    lo_s = "" if lo is None else (f"{'>' if lo_open else '>='} {lo}")
    hi_s = "" if hi is None else (f"{'<' if hi_open else '<='} {hi}")
    rng = " and ".join(s for s in (lo_s, hi_s) if s)
    want = f"{rng} and finite" if rng else "finite"
    if not math.isfinite(v):
        raise ValueError(f"{name} must be {want}; got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {want}; got {value!r}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ValueError(f"{name} must be {want}; got {value!r}")
    return v


def integer(name: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[lo, hi]``.

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : object
        an integral number (``bool`` and floats such as ``3.0`` are refused) or a
        0-d numpy array holding one.
    lo, hi : int, optional
        inclusive bounds (none by default).

    Returns
    -------
    int
        ``value`` as a Python int.

    Raises
    ------
    TypeError
        if ``value`` is not an integer.
    ValueError
        if it is outside ``[lo, hi]``.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        if hi is None:
            rng = f">= {lo}"
        elif lo is None:
            rng = f"<= {hi}"
        else:
            rng = f"in {lo}..{hi}"
        raise ValueError(f"{name} must be an integer {rng}; got {v}")
    return v


def seed(name: str, value: Any) -> int:
    """Check a seed: an integer in ``0..MAX_SEED`` (seeds are stored as int64).

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : object
        an integer (see :func:`integer`).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        if ``value`` is not an integer.
    ValueError
        if it is negative or larger than :data:`MAX_SEED`.
    """
    v = integer(name, value, lo=0)
    if v > MAX_SEED:
        raise ValueError(f"{name} must be an integer <= 2**63 - 1 = {MAX_SEED} (seeds are int64); got {v}")
    return v


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Check that ``value`` is one of ``allowed``.

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : object
        the value to check.
    allowed : iterable of str
        the accepted values.

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    ValueError
        if ``value`` is not in ``allowed``.
    """
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def multiple_of_dt(name: str, value: float, dt: float, tol: float = 1e-6) -> int:
    """Return ``value / dt`` as an integer number of steps, or raise.

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : float
        a duration (units of tau).
    dt : float
        the Euler step.
    tol : float
        relative tolerance: ``value / dt`` may differ from an integer by
        ``tol * max(1, |value / dt|)``.

    Returns
    -------
    int
        the number of steps, ``round(value / dt)``.

    Raises
    ------
    ValueError
        if ``value`` is not a multiple of ``dt`` within the tolerance.
    """
    steps = value / dt
    if not math.isfinite(steps) or abs(steps) > 2 ** 53:
        raise ValueError(f"{name} must be at most 2**53 steps of dt={dt}; got {value}")
    if abs(steps - round(steps)) > tol * max(1.0, abs(steps)):
        raise ValueError(f"{name} must be a multiple of dt={dt}; got {value}")
    return int(round(steps))


def real_sequence(name: str, values: Any, *, lo: float | None = None, hi: float | None = None,
                  lo_open: bool = False, nonempty: bool = True) -> list[float]:
    """Check a non-empty sequence of finite reals in an interval.

    Parameters
    ----------
    name : str
        the parameter's name; entry ``i`` is reported as ``name[i]``.
    values : real, sequence of real or ndarray
        a single real counts as a one-element sequence; an array is flattened.
    lo, hi : float, optional
        bounds of every entry (see :func:`real`).
    lo_open : bool
        exclude ``lo`` itself.
    nonempty : bool
        refuse an empty sequence (default True).

    Returns
    -------
    list of float

    Raises
    ------
    TypeError
        if ``values`` is not a number or a sequence of numbers (a string is refused),
        or an entry is not a real number.
    ValueError
        if it is empty (with ``nonempty``) or an entry is not finite or outside the
        interval.
    """
    if _is_real(values):
        values = [values]
    if isinstance(values, np.ndarray):
        values = values.ravel().tolist()
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(f"{name} must be a number or a sequence of numbers; got {values!r}")
    if nonempty and len(values) == 0:
        raise ValueError(f"{name} must be non-empty; got {values!r}")
    return [real(f"{name}[{i}]", v, lo=lo, hi=hi, lo_open=lo_open) for i, v in enumerate(values)]


def g_and_seeds(g: Any, seeds: Any) -> tuple[list[float], list[int]]:
    """Check ``g`` (>= 0) and ``seeds`` (integers >= 0) and broadcast them to one length.

    Either may be a scalar or have length 1; otherwise their lengths must agree.
    Seeds are at most :data:`MAX_SEED`; an ensemble has at most :data:`MAX_NETWORKS`
    networks.

    Parameters
    ----------
    g : float or sequence of float
    seeds : int or sequence of int

    Returns
    -------
    gs : list of float
    sd : list of int
        of the same length K.
    """
    for name, v in (("g", g), ("seeds", seeds)):
        n = np.size(v) if isinstance(v, np.ndarray) else (len(v) if isinstance(v, (Sequence, range))
                                                           and not isinstance(v, str) else 1)
        if n > MAX_NETWORKS:
            raise ValueError(f"{name} must have at most {MAX_NETWORKS} entries (networks per ensemble); "
                             f"got {n}")
    gs = real_sequence("g", g, lo=0.0)
    if isinstance(seeds, (numbers.Integral, np.integer)) and not isinstance(seeds, bool):
        seeds = [int(seeds)]
    if isinstance(seeds, np.ndarray):
        seeds = seeds.ravel().tolist()
    if not isinstance(seeds, (Sequence, range)) or isinstance(seeds, str) or len(seeds) == 0:
        raise TypeError(f"seeds must be an integer or a non-empty sequence of integers; got {seeds!r}")
    sd = [seed(f"seeds[{i}]", s) for i, s in enumerate(seeds)]
    if len(gs) != len(sd):
        if len(gs) == 1:
            gs = gs * len(sd)
        elif len(sd) == 1:
            sd = sd * len(gs)
        else:
            raise ValueError(f"g and seeds must have the same length (or one of them length 1); "
                             f"got {len(gs)} and {len(sd)}")
    return gs, sd


def torch_dtype(name: str, value: Any):
    """Check a training dtype: ``torch.float32`` or ``torch.float64`` (or their names).

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : torch.dtype, numpy dtype or str
        ``torch.float32``, ``torch.float64``, ``np.float32``, ``"float64"``, ...

    Returns
    -------
    torch.dtype

    Raises
    ------
    ValueError
        for any other dtype (integer, complex, half precision, ...).
    """
    import torch

    allowed = ", ".join(f"torch.{d}" for d in DTYPES)
    key = None
    if isinstance(value, torch.dtype):
        key = str(value).replace("torch.", "")
    elif isinstance(value, str):
        key = value.replace("torch.", "")
    elif value is not None:
        try:
            key = np.dtype(value).name
        except TypeError:
            key = None
    if key not in DTYPES:
        raise ValueError(f"{name} must be one of {allowed} (a floating-point training dtype); got {value!r}")
    return getattr(torch, key)


def torch_device(name: str, value: Any):
    """Check a device: ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"``, a ``torch.device``...

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : str or torch.device

    Returns
    -------
    torch.device

    Raises
    ------
    TypeError
        if ``value`` is neither a string nor a ``torch.device``.
    ValueError
        if it names no device type of torch, or a device this machine does not have.
    """
    import torch

    want = "'cpu', 'cuda', 'cuda:<index>' or 'mps'"
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a device name ({want}) or a torch.device; got {value!r}")
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"{name} must be one of {want}; got {value!r}") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(f"{name} {value!r} is not available on this machine (no CUDA device); "
                             "use 'cpu'")
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"{name} must be 'cuda:0'..'cuda:{n - 1}' on this machine; got {value!r}")
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"{name} {value!r} is not available on this machine (no MPS); use 'cpu'")
    elif dev.type != "cpu":
        raise ValueError(f"{name} must be one of {want}; got {value!r}")
    return dev


def mask(name: str, value: Any) -> None:
    """Check a loss mask: every entry finite and >= 0 (weights of the squared errors).

    Parameters
    ----------
    name : str
        the parameter's name, used in the error message.
    value : ndarray or Tensor
        the mask (a torch tensor is checked where it lives, on any device).

    Raises
    ------
    ValueError
        if an entry is negative, NaN or infinite, with how many of each.
    """
    if hasattr(value, "detach"):                      # a torch Tensor
        ok = bool(((value >= 0) & (value < math.inf)).all())
        if ok:
            return
        neg = int((value < 0).sum())
        bad = int((~(value == value) | (value.abs() == math.inf)).sum())
    else:
        a = np.asarray(value, dtype=float)
        if bool(((a >= 0) & (a < math.inf)).all()):
            return
        neg = int(np.sum(a < 0))
        bad = int(np.sum(~np.isfinite(a)))
    raise ValueError(f"{name} must hold finite weights >= 0 (1 where the loss counts, 0 elsewhere); "
                     f"got {neg} negative and {bad} NaN/inf entries")
