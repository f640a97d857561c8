"""The on-disk cache of trained networks: one safe ``.npz`` file per network.

Layout
------
The cache lives in :func:`lrbook.config.cache_dir` (environment variable
``LRBOOK_CACHE``, default ``~/.cache/lrbook``) unless a folder is given::

    <cache>/
        networks/
            <key>.npz                     one trained network (key: NetworkConfig.key)
            .<key>.<host>.<pid>.<random>.tmp   a write in progress (never read)
        corrupt/
            <key>.<time>.npz              files that failed verification, moved aside
            evaluations-<key>.<time>.npz  likewise, from evaluations/ (lrbook.experiments.evaluations)
        README.txt                        this description

Each ``<key>.npz`` is written by :func:`numpy.savez` and read with
``allow_pickle=False`` (no pickle anywhere). It holds float32 arrays

``loss``, ``grad_norm`` (epochs,)
    training loss before each update, and Frobenius norm of dL/dW;
``W0``, ``W`` (N, N); ``W_in0``, ``W_in`` (n_in, N); ``W_out0``, ``W_out`` (N, n_out)
    weights before and after training;
``snapshots`` (S, N, N) and ``snapshot_epochs`` (S,) int64
    only when the config asks for snapshots,

plus ``meta``: UTF-8 JSON as a uint8 array with the schema version, the lrbook
version, the key, the network config, the training config, the learning rate, the
epoch of divergence (-1 if none), the seconds spent, the creation time, a summary
(``L0``, ``final_loss``, ``dW_norm``, ``convergence_epoch``, ``diverged_epoch``) and
the sha256 checksum of the array payload (see :func:`payload_sha256`).

Writes are atomic: the file is written to a temporary name in the same folder,
flushed and fsync'ed, then renamed over ``<key>.npz`` with :func:`os.replace`; a
crash leaves at most a ``.tmp`` file, which readers ignore and
:meth:`ResultCache.clean_temp` removes. Reading verifies the zip CRCs, the schema
and lrbook versions, the key, the config, the array shapes and the checksum; a
file failing any check is reported with a :class:`CacheWarning` naming it, moved
to ``corrupt/``, and treated as missing (so it is recomputed), never returned.

Before training, the runs (:func:`~lrbook.experiments.run_ensemble`,
:func:`~lrbook.experiments.sweep`, :func:`~lrbook.experiments.evaluate_cached`) check
the folder with :meth:`ResultCache.check`: a folder that can be read but not written
(read-only, or on a read-only file system) is used for reading only, with a
:class:`CacheWarning` saying that new results will not be saved; a path that cannot
be used at all (a file, or a folder that can be neither created nor read) is refused
with a :class:`ValueError` before anything is trained. In a read-only cache a corrupt
file is reported, treated as missing and left in place.

Loss curves are stored as float32 without loss: the training loop computes them
in float32.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .._version import __version__
from ..analysis.measures import convergence_epoch, norm_dW
from ..config import cache_dir
from ..training import TrainResult
from .specs import SCHEMA_VERSION, NetworkConfig

#: Arrays stored for every network.
ARRAYS = ("loss", "grad_norm", "W0", "W", "W_in0", "W_in", "W_out0", "W_out")
#: Arrays stored only when the config asks for snapshots.
SNAPSHOT_ARRAYS = ("snapshots", "snapshot_epochs")
#: The factors of a network trained with ``rank`` (shape (N, rank) each).
FACTOR_ARRAYS = ("U", "V")

T = TypeVar("T")

_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_README = __doc__


class CacheWarning(UserWarning):
    """A cache file was unreadable or failed verification (it is recomputed)."""


class CacheCorruptError(ValueError):
    """Raised internally when a cache file fails verification."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def payload_sha256(arrays: dict[str, np.ndarray]) -> str:
    """sha256 of the arrays: for each name in sorted order, the name, dtype, shape and
    C-order bytes.

    Parameters
    ----------
    arrays : dict of str to ndarray

    Returns
    -------
    str
        64 hex characters; it changes with any name, dtype, shape or byte.
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def snapshot_schedule(epochs: int, every: int) -> np.ndarray:
    """Epochs at which :func:`lrbook.training.train` keeps ``W``: 0, every multiple of
    ``every`` and the last epoch.

    Parameters
    ----------
    epochs : int
        training epochs.
    every : int
        ``snapshot_every``.

    Returns
    -------
    ndarray of int64, shape (S,)

    Examples
    --------
    >>> snapshot_schedule(10, 4).tolist()
    [0, 4, 8, 10]
    """
    return np.array([0] + [e for e in range(1, epochs + 1) if e % every == 0 or e == epochs],
                    dtype=np.int64)


# --------------------------------------------------------------------------- one network
@dataclass
class NetworkResult:
    """One trained network: its config and a one-network :class:`~lrbook.training.TrainResult`.

    The chapter :doc:`/book/02_training` trains its networks once into the cache;
    the later chapters read them back.

    Attributes
    ----------
    config : NetworkConfig
    result : TrainResult
        K = 1; arrays as stored (float32 weights, float64 loss curves holding float32
        values), snapshots on the full schedule when asked.
    created : str
        ISO time the result was computed.
    from_cache : bool
        True when read from disk, False when trained in this process.
    """

    config: NetworkConfig
    result: TrainResult
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    from_cache: bool = False

    @property
    def key(self) -> str:
        """The cache key, :attr:`NetworkConfig.key`."""
        return self.config.key

    def summary(self) -> dict[str, Any]:
        """The headline numbers of the network.

        Returns
        -------
        dict
            ``L0``, ``final_loss``, ``dW_norm`` (:func:`lrbook.analysis.norm_dW`),
            ``convergence_epoch`` (:func:`lrbook.analysis.convergence_epoch`: first epoch
            with loss < 0.05 L0, -1 if never) and ``diverged_epoch`` (-1 if not).
        """
        r = self.result
        return {
            "L0": float(r.L0[0]),
            "final_loss": float(r.final_loss[0]),
            "dW_norm": float(norm_dW(r.W0[0], r.W[0])),
            "convergence_epoch": int(convergence_epoch(r.loss[:, 0])),
            "diverged_epoch": int(r.diverged_epoch[0]),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The stored arrays (float32 / int64), see the module docstring.

        Returns
        -------
        dict of str to ndarray
            ``loss``, ``grad_norm`` (epochs,), the weights without the network axis,
            and ``snapshots`` (S, N, N), ``snapshot_epochs`` (S,) when the config
            asks for snapshots.
        """
        r = self.result
        out = {"loss": r.loss[:, 0], "grad_norm": r.grad_norm[:, 0]}
        for name in ARRAYS[2:]:
            out[name] = getattr(r, name)[0]
        out = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}
        if self.config.snapshot_every is not None:
            assert r.snapshots is not None
            out["snapshots"] = np.ascontiguousarray(r.snapshots[:, 0], dtype=np.float32)
            out["snapshot_epochs"] = np.asarray(r.snapshot_epochs, dtype=np.int64)
        if self.config.rank is not None:
            assert r.U is not None and r.V is not None
            for name, a in (("U", r.U), ("V", r.V)):
                out[name] = np.ascontiguousarray(a[0, :, :self.config.rank], dtype=np.float32)
        return out


def split_result(result: TrainResult, configs: list[NetworkConfig]) -> list[NetworkResult]:
    """Cut an ensemble :class:`TrainResult` into one :class:`NetworkResult` per network.

    Arrays are cast to their stored types (float32), so a fresh part equals the same
    part read back from disk bit for bit. Each network is charged an equal share of
    the ensemble's wall time. When all networks of an ensemble diverged, training
    stopped early; the missing snapshots are filled with the final (frozen) weights.

    Parameters
    ----------
    result : TrainResult
        K networks.
    configs : list of NetworkConfig
        one per network, in order (their ``g`` and ``seed`` must match the result's).

    Returns
    -------
    list of NetworkResult
        K one-network results, ``from_cache`` False.

    Raises
    ------
    ValueError
        if the number of configs, or a network's ``g`` or seed, does not match.
    """
    if len(configs) != result.K:
        raise ValueError(f"configs must have one entry per network (K={result.K}); got {len(configs)}")
    created = datetime.now(timezone.utc).isoformat()
    parts = []
    for k, cfg in enumerate(configs):
        if abs(float(result.g[k]) - cfg.g) > 1e-9 or int(result.seeds[k]) != cfg.seed:
            raise ValueError(f"network {k} of the result has g={result.g[k]}, seed={result.seeds[k]} "
                             f"but configs[{k}] has g={cfg.g}, seed={cfg.seed}")
        tr = result.network(k)
        f32 = lambda a: None if a is None else np.asarray(a, dtype=np.float32)  # noqa: E731
        for name in ("W0", "W", "W_in0", "W_in", "W_out0", "W_out", "U", "V"):
            setattr(tr, name, f32(getattr(tr, name)))
        tr.loss, tr.grad_norm = (np.asarray(a, dtype=np.float32).astype(np.float64)
                                 for a in (tr.loss, tr.grad_norm))
        tr.g, tr.seeds = np.array([cfg.g]), np.array([cfg.seed], dtype=np.int64)
        tr.lr = np.array([float(tr.lr[0])])
        tr.config = json.loads(json.dumps(result.config))
        tr.diverged_epoch = np.array([int(tr.diverged_epoch[0])], dtype=np.int64)
        tr.snapshots, tr.snapshot_epochs = None, np.zeros(0, dtype=np.int64)
        if cfg.snapshot_every is not None:
            sched = snapshot_schedule(cfg.epochs, cfg.snapshot_every)
            assert result.snapshots is not None
            s = np.asarray(result.snapshots[:, k:k + 1], dtype=np.float32)
            if s.shape[0] < sched.size:                # all networks diverged: training stopped early
                fill = np.repeat(tr.W[None], sched.size - s.shape[0], axis=0)
                s = np.concatenate([s, fill])
            tr.snapshots, tr.snapshot_epochs = s, sched
        parts.append(NetworkResult(cfg, tr, created=created, from_cache=False))
    return parts


# --------------------------------------------------------------------------- the cache
class ResultCache:
    """A folder of per-network results (see the module docstring for the layout).

    The chapter :doc:`/book/02_training` trains its networks once into the cache;
    :doc:`/book/04_low_rank` and :doc:`/book/05_randomness` read them back.

    Parameters
    ----------
    folder : str or Path, optional
        the cache root, a non-empty path; default :func:`lrbook.config.cache_dir`.
        Pass it explicitly to worker processes so they all write to the same place.
    read_only : bool
        never write (results are not saved, corrupt files are left in place); also
        set by :meth:`check` when the folder cannot be written.

    Raises
    ------
    TypeError
        if ``folder`` is not a path.
    ValueError
        if it is empty (``""`` would silently mean the current folder).

    Examples
    --------
    >>> cache = ResultCache("/tmp/lrbook-cache")        # doctest: +SKIP
    >>> cache.load(network_config) is None              # doctest: +SKIP
    True
    """

    def __init__(self, folder: str | os.PathLike | None = None, *, read_only: bool = False):
        if folder is not None:
            if isinstance(folder, bytes) or not isinstance(folder, (str, os.PathLike)):
                raise TypeError(f"folder must be a path (str or os.PathLike); got {folder!r}")
            text = os.fspath(folder)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"folder must be a non-empty path; got {text!r}")
            if "\0" in text:
                raise ValueError(f"folder must not contain NUL characters; got {text!r}")
        self.root = Path(folder if folder is not None else cache_dir()).expanduser()
        self.networks = self.root / "networks"
        self.corrupt = self.root / "corrupt"
        self.read_only = bool(read_only)
        self._checked = False

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"ResultCache({str(self.root)!r}{ro})"

    def __reduce__(self):
        return (_rebuild, (str(self.root), self.read_only))

    # ------------------------------------------------------------------ usability
    def check(self) -> bool:
        """Check, before any work, that the folder can hold results; returns whether it is writable.

        Creates the folder (and ``networks/``) when missing and writes and removes a
        probe file. A folder that cannot be written but can be read is switched to
        :attr:`read_only` with a :class:`CacheWarning` (results computed now will not
        be saved); the check runs once per object.

        Returns
        -------
        bool
            True when results can be saved.

        Raises
        ------
        ValueError
            if the path is a file (or ``networks/`` is), or the folder can be neither
            created nor read: the cache cannot be used at all. (A cache opened with
            ``read_only=True`` is not written to, not even to create it: a missing
            folder is then an empty cache.)
        """
        if self._checked:
            return not self.read_only
        for p in (self.root, self.networks):
            if p.exists() and not p.is_dir():
                raise ValueError(f"cache folder {self.root} cannot be used: {p} is a file, not a folder; "
                                 "give another cache folder (LRBOOK_CACHE, --cache)")
        problem = None
        if not self.read_only:
            try:
                self._ensure()
                probe = self.networks / f".probe.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                try:
                    with open(probe, "xb"):
                        pass
                finally:                                 # also when interrupted: leave nothing behind
                    try:
                        probe.unlink()
                    except FileNotFoundError:
                        pass
            except OSError as exc:
                problem = f"{type(exc).__name__}: {exc.strerror or exc}"
        if problem is not None:
            if not (self.root.is_dir() and os.access(self.root, os.R_OK | os.X_OK)):
                raise ValueError(f"cache folder {self.root} can be neither created nor read ({problem}); "
                                 "give another cache folder (LRBOOK_CACHE, --cache)")
            warnings.warn(f"lrbook cache: {self.root} is not writable ({problem}); reading it only: "
                          "results computed now will not be saved", CacheWarning, stacklevel=2)
            self.read_only = True
        self._checked = True
        return not self.read_only

    # ------------------------------------------------------------------ paths
    def path(self, key: str) -> Path:
        """Where the result of ``key`` lives.

        Parameters
        ----------
        key : str
            a :attr:`NetworkConfig.key`, 64 lowercase hex characters.

        Returns
        -------
        Path
            ``<root>/networks/<key>.npz`` (whether it exists or not).

        Raises
        ------
        ValueError
            if ``key`` is not 64 lowercase hex characters.
        """
        if not _KEY_RE.match(key):
            raise ValueError(f"key must be 64 lowercase hex characters; got {key!r}")
        return self.networks / f"{key}.npz"

    def keys(self) -> list[str]:
        """Keys with a file in the cache (not verified; temporary files are ignored).

        Returns
        -------
        list of str
            sorted.
        """
        if not self.networks.is_dir():
            return []
        return sorted(p.stem for p in self.networks.glob("*.npz") if _KEY_RE.match(p.stem))

    def __contains__(self, config: NetworkConfig) -> bool:
        return self.path(config.key).is_file()

    def _ensure(self) -> None:
        self.networks.mkdir(parents=True, exist_ok=True)
        readme = self.root / "README.txt"
        if not readme.exists():
            _atomic_write(readme, lambda f: f.write(_README.encode()), self.root)

    # ------------------------------------------------------------------ writing
    def save(self, part: NetworkResult) -> Path | None:
        """Write one network's result atomically; returns its path.

        Parameters
        ----------
        part : NetworkResult

        Returns
        -------
        Path or None
            ``path(part.key)``, replaced if it existed; None (nothing written) when the
            cache is :attr:`read_only`.
        """
        if self.read_only:
            return None
        self._ensure()
        arrays = part.arrays()
        r = part.result
        meta = {
            "schema": SCHEMA_VERSION, "lrbook_version": __version__, "key": part.key,
            "config": part.config.to_dict(), "train_config": r.config,
            "lr": float(r.lr[0]), "diverged_epoch": int(r.diverged_epoch[0]),
            **({} if r.lr_factors is None else {"lr_factors": float(r.lr_factors[0])}),
            "seconds": float(r.seconds), "created": part.created, "host": socket.gethostname(),
            "summary": part.summary(), "arrays": {k: [v.dtype.str, list(v.shape)] for k, v in arrays.items()},
            "sha256": payload_sha256(arrays),
        }
        blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        path = self.path(part.key)

        def write(f):
            # numpy's stub types savez(..., allow_pickle: bool = True, **kwds: ArrayLike); mypy
            # lets **arrays fill allow_pickle. Passing allow_pickle explicitly would store it as
            # an array on numpy < 2.1 (no such parameter there), so the ignore is targeted.
            np.savez(f, meta=blob, **arrays)  # type: ignore[arg-type]

        _atomic_write(path, write, self.networks, tag=part.key)
        return path

    # ------------------------------------------------------------------ reading
    def load(self, config: NetworkConfig) -> NetworkResult | None:
        """The stored result of ``config``, or None when absent or invalid.

        An invalid file (truncated, bytes flipped, other version or config, wrong
        checksum) is reported with a :class:`CacheWarning` naming it and moved to
        ``corrupt/``; None is returned so the caller recomputes it.

        Parameters
        ----------
        config : NetworkConfig

        Returns
        -------
        NetworkResult or None
            with ``from_cache`` True.
        """
        return self.read_verified(self.path(config.key), lambda p: self._read(p, config))

    def read_verified(self, path: Path, read: Callable[[Path], T]) -> T | None:
        """``read(path)``, or None when the file is absent or fails ``read``.

        A file that ``read`` cannot parse or verify (any exception) is reported with a
        :class:`CacheWarning` naming it and moved to ``corrupt/``. Used for the
        networks (:meth:`load`) and their evaluations
        (:func:`lrbook.experiments.evaluate_cached`).

        Parameters
        ----------
        path : Path
            a file of this cache.
        read : callable
            ``read(path)`` returns the verified content or raises.

        Returns
        -------
        object or None
        """
        if not path.is_file():
            return None
        try:
            return read(path)
        except FileNotFoundError:                    # removed meanwhile by another process
            return None
        except Exception as exc:                      # any failure to parse or verify
            try:
                dest = self._quarantine(path)
                where = f"moved to {dest}" if dest is not None else "gone meanwhile"
            except OSError as err:                    # a read-only cache: leave it where it is
                where = f"left in place ({type(err).__name__}: {err.strerror or err})"
            warnings.warn(f"lrbook cache: {path} is unreadable or corrupt ({type(exc).__name__}: "
                          f"{exc}); {where}; treated as missing and recomputed", CacheWarning,
                          stacklevel=3)
            return None

    def meta(self, key: str) -> dict[str, Any]:
        """The JSON metadata of a stored result (not verified; may raise on a bad file).

        Parameters
        ----------
        key : str

        Returns
        -------
        dict
            see the module docstring.
        """
        with open(self.path(key), "rb") as f, np.load(f, allow_pickle=False) as z:
            return json.loads(z["meta"].tobytes().decode())

    def _read(self, path: Path, config: NetworkConfig) -> NetworkResult:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            names = set(z.files)
            if "meta" not in names:
                raise CacheCorruptError("no metadata")
            arrays = {n: z[n] for n in names if n != "meta"}
            meta = json.loads(z["meta"].tobytes().decode())
        if meta.get("schema") != SCHEMA_VERSION:
            raise CacheCorruptError(f"schema {meta.get('schema')} != {SCHEMA_VERSION}")
        if meta.get("lrbook_version") != __version__:
            raise CacheCorruptError(f"lrbook version {meta.get('lrbook_version')} != {__version__}")
        if meta.get("key") != config.key:
            raise CacheCorruptError("key does not match the file name")
        if meta.get("config") != json.loads(json.dumps(config.to_dict())):
            raise CacheCorruptError("stored config differs from the requested one")
        want = set(ARRAYS) | (set(SNAPSHOT_ARRAYS) if config.snapshot_every is not None else set()) \
            | (set(FACTOR_ARRAYS) if config.rank is not None else set())
        if set(arrays) != want:
            raise CacheCorruptError(f"arrays {sorted(arrays)} != {sorted(want)}")
        if payload_sha256(arrays) != meta.get("sha256"):
            raise CacheCorruptError("sha256 checksum of the arrays does not match")
        task = config.make_task()
        N, E = config.N, config.epochs
        shapes = {"loss": (E,), "grad_norm": (E,), "W0": (N, N), "W": (N, N),
                  "W_in0": (task.n_in, N), "W_in": (task.n_in, N),
                  "W_out0": (N, task.n_out), "W_out": (N, task.n_out)}
        if config.snapshot_every is not None:
            S = snapshot_schedule(E, config.snapshot_every).size
            shapes.update(snapshots=(S, N, N), snapshot_epochs=(S,))
        if config.rank is not None:
            shapes.update(U=(N, config.rank), V=(N, config.rank))
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise CacheCorruptError(f"{name} has shape {arrays[name].shape}, expected {shape}")
        tr = TrainResult(
            loss=arrays["loss"].astype(np.float64)[:, None],
            grad_norm=arrays["grad_norm"].astype(np.float64)[:, None],
            **{n: arrays[n][None] for n in ARRAYS[2:]},
            g=np.array([config.g]), seeds=np.array([config.seed], dtype=np.int64),
            lr=np.array([float(meta["lr"])]), config=meta["train_config"],
            seconds=float(meta["seconds"]),
            diverged_epoch=np.array([int(meta["diverged_epoch"])], dtype=np.int64),
            snapshots=arrays["snapshots"][:, None] if "snapshots" in arrays else None,
            snapshot_epochs=arrays.get("snapshot_epochs", np.zeros(0, dtype=np.int64)))
        if config.rank is not None:
            tr.rank = np.array([config.rank], dtype=np.int64)
            tr.U, tr.V = arrays["U"][None], arrays["V"][None]
            tr.lr_factors = np.array([float(meta["lr_factors"])])
        return NetworkResult(config, tr, created=str(meta["created"]), from_cache=True)

    # ------------------------------------------------------------------ housekeeping
    def discard(self, key: str) -> Path | None:
        """Move the file of ``key`` to ``corrupt/``; returns the new path (None if gone).

        Parameters
        ----------
        key : str

        Returns
        -------
        Path or None

        Raises
        ------
        PermissionError
            in a :attr:`read_only` cache (the file is left alone).
        """
        return self._quarantine(self.path(key))

    def _quarantine(self, path: Path) -> Path | None:
        """Move ``path`` to ``corrupt/<folder>-<stem>.<time>.<random>.npz`` (None if gone).

        Raises PermissionError (an OSError) in a read-only cache, leaving the file alone."""
        if self.read_only:
            raise PermissionError(13, "the cache is read-only")
        self.corrupt.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.strftime('%Y%m%dT%H%M%S')}.{secrets.token_hex(3)}"
        prefix = "" if path.parent == self.networks else f"{path.parent.name}-"
        dest = self.corrupt / f"{prefix}{path.stem}.{stamp}.npz"
        try:
            os.replace(path, dest)
        except FileNotFoundError:
            return None
        return dest

    def temp_files(self) -> list[Path]:
        """Temporary files of writes in progress or interrupted.

        Returns
        -------
        list of Path
            sorted.
        """
        if not self.networks.is_dir():
            return []
        return sorted(p for p in self.networks.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))

    def clean_temp(self, max_age_s: float = 24 * 3600.0) -> list[Path]:
        """Remove temporary files left by dead writers.

        A file is removed when its writer ran on this host and its process is gone, or
        when it is older than ``max_age_s`` (writers on other hosts).

        Parameters
        ----------
        max_age_s : float
            age in seconds past which any temporary file counts as dead (default one day).

        Returns
        -------
        list of Path
            what was removed.
        """
        removed = []
        host, now = _host(), time.time()
        for p in self.temp_files():
            parts = p.name[1:-4].split(".")
            stale = False
            if len(parts) >= 3 and parts[1] == host and parts[2].isdigit():
                stale = not _pid_alive(int(parts[2]))
            try:
                stale = stale or now - p.stat().st_mtime > max_age_s
                if stale:
                    p.unlink()
                    removed.append(p)
            except OSError:                          # gone meanwhile, or a read-only cache
                pass
        return removed


def _rebuild(root: str, read_only: bool) -> ResultCache:
    return ResultCache(root, read_only=read_only)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _atomic_write(path: Path, write, folder: Path, tag: str | None = None) -> None:
    """Write ``path`` through a fsync'ed temporary file in ``folder`` and :func:`os.replace`."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = tag or path.stem
    tmp = folder / f".{tag}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    try:                                            # make the rename itself durable
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
