r"""Cached calls: the result of an lrbook function, stored under a key of its arguments.

A chapter that searches fixed points (:func:`lrbook.dynamics.find_fixed_points`),
trains a linear network with snapshots (:func:`lrbook.training.train`) or an LSTM
(:func:`lrbook.nlp.train_classifier`) computes the same result every time it runs.
:func:`cached_call` runs such a call once and reads it back afterwards::

    fp = cached_call(find_fixed_points, W, W_in, starts, W_out=W_out)

The key is the sha256 of the function's name, lrbook's version, :data:`CALL_SCHEMA`
and a canonical form of every argument: arrays and tensors by dtype, shape and the
sha256 of their bytes, dataclasses (tasks, models) by class and fields, numbers
exactly (floats as hex). Only functions of lrbook itself are accepted: their code is
covered by the lrbook version in the key, whereas a function defined in a notebook
may read globals that no key could see. The function must be deterministic given
its arguments (every lrbook function is: randomness comes from explicit seeds), and
a cached call does not modify its arguments (``train`` updates its model in place
when it runs; pass a fresh model and use the result).

Results are stored without pickle, in the folder of the
:class:`~lrbook.experiments.ResultCache`::

    <cache>/
        calls/
            <key>.npz     arrays of the result, and its structure as JSON

Values may be None, booleans, numbers, strings, numpy arrays and scalars, torch
tensors, lists, tuples, dicts with string keys, dataclasses defined in lrbook and
lrbook's torch modules that describe themselves (``init_kwargs()``); anything else
is refused with a TypeError before it is stored. Files are written atomically and
verified when read (version, key, sha256 of the arrays); a file failing a check is
reported with a :class:`~lrbook.experiments.CacheWarning`, moved to ``corrupt/`` and
recomputed.

Used by the chapters :doc:`/book/07_dynamics`, :doc:`/book/08_linear_rnn` to
:doc:`/book/11_cosine` and :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import socket
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .._version import __version__
from .cache import ResultCache, _atomic_write, payload_sha256
from .specs import canonical_json

__all__ = ["CALL_SCHEMA", "call_key", "cached_call", "CallTime", "call_times"]

#: Version of the layout of stored calls; part of every key.
CALL_SCHEMA = 1

R = TypeVar("R")


def _qualname(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _lrbook_class(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "lrbook"


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- keys
def _canon(obj: Any) -> Any:
    """A JSON form of an argument that differs whenever the argument differs."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return {"int": int(obj)}
    if isinstance(obj, (float, np.floating)):
        return {"float": float(obj).hex()}
    if isinstance(obj, torch.Tensor):
        a = obj.detach().cpu().contiguous()
        return {"tensor": [str(a.dtype), list(a.shape), _sha(a.view(torch.uint8).numpy()
                                                                  if a.numel() else np.zeros(0))]}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return {"objects": [_canon(x) for x in obj.ravel()], "shape": list(obj.shape)}
        return {"array": [obj.dtype.str, list(obj.shape), _sha(obj)]}
    if isinstance(obj, torch.Generator):
        return {"generator": _sha(obj.get_state().numpy())}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__ if type(obj) in (list, tuple) else "tuple": [_canon(x) for x in obj]}
    if isinstance(obj, dict):
        return {"dict": [[_canon(k), _canon(v)] for k, v in sorted(obj.items(), key=lambda kv: repr(kv[0]))]}
    if isinstance(obj, torch.nn.Module):
        return {"module": _qualname(type(obj)),
                "state": {k: _canon(v) for k, v in obj.state_dict().items()}, "training": obj.training}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"dataclass": _qualname(type(obj)),
                "fields": {f.name: _canon(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if hasattr(obj, "__dict__") and _lrbook_class(type(obj)):
        return {"object": _qualname(type(obj)), "vars": {k: _canon(v) for k, v in sorted(vars(obj).items())}}
    raise TypeError(f"cached_call cannot key an argument of type {type(obj).__name__}: use numbers, "
                    "strings, arrays, tensors, sequences, dicts and lrbook's own objects")


def call_key(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> str:
    """Cache key of ``fn(*args, **kwargs)``.

    Parameters
    ----------
    fn : callable
        a function of lrbook.
    args : tuple
    kwargs : dict

    Returns
    -------
    str
        64 hex characters: the sha256 of the canonical JSON of the function's name,
        lrbook's version, :data:`CALL_SCHEMA` and the arguments.

    Raises
    ------
    TypeError
        if ``fn`` is not a function of lrbook, or an argument cannot be keyed.
    """
    if not callable(fn) or not hasattr(fn, "__module__") or not hasattr(fn, "__qualname__") \
            or (fn.__module__ or "").split(".")[0] != "lrbook":
        raise TypeError(f"fn must be a function of lrbook (its code is covered by lrbook's version in "
                        f"the key); got {fn!r}")
    body = {"fn": _qualname(fn), "lrbook": __version__, "schema": CALL_SCHEMA,
            "args": [_canon(a) for a in args], "kwargs": {k: _canon(v) for k, v in sorted(kwargs.items())}}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


# ----------------------------------------------------------------------------- values
def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """JSON structure of a result; its arrays go to ``arrays`` under names a0, a1, ..."""
    def put(a: np.ndarray) -> str:
        name = f"a{len(arrays)}"
        arrays[name] = np.ascontiguousarray(a)
        return name

    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int) and not isinstance(obj, bool):
        return {"int": obj}
    if isinstance(obj, float):
        return {"float": obj.hex()}
    if isinstance(obj, np.generic):
        return {"scalar": put(np.asarray(obj))}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("cached_call cannot store an array of Python objects")
        return {"array": put(obj)}
    if isinstance(obj, torch.Tensor):
        return {"tensor": put(obj.detach().cpu().numpy())}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(x, arrays) for x in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("cached_call can store dicts with string keys only")
        return {"dict": {k: _encode(v, arrays) for k, v in obj.items()}}
    cls = type(obj)
    if isinstance(obj, torch.nn.Module) and _lrbook_class(cls) and hasattr(obj, "init_kwargs"):
        init: Callable[[], dict[str, Any]] = getattr(obj, "init_kwargs")   # noqa: B009 (mypy: Module attrs)
        return {"module": _qualname(cls), "init": _encode(init(), arrays),
                "state": {k: put(v.detach().cpu().numpy()) for k, v in obj.state_dict().items()},
                "training": obj.training}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and _lrbook_class(cls):
        return {"dataclass": _qualname(cls),
                "fields": {f.name: _encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj)}}
    raise TypeError(f"cached_call cannot store a value of type {cls.__name__}")


def _lrbook_type(path: str) -> type:
    module, _, qual = path.partition(":")
    if module.split(".")[0] != "lrbook":
        raise ValueError(f"stored class {path!r} is not lrbook's")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f"stored class {path!r} is not a class")
    return obj


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if node is None or isinstance(node, (bool, str)):
        return node
    if "dataclass" in node:
        cls = _lrbook_type(node["dataclass"])
        values = {k: _decode(v, arrays) for k, v in node["fields"].items()}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        obj = cls(**{k: v for k, v in values.items() if fields[k].init})
        for k, v in values.items():
            if not fields[k].init:
                object.__setattr__(obj, k, v)
        return obj
    if "module" in node:
        cls = _lrbook_type(node["module"])
        mod = cls(**_decode(node["init"], arrays))
        mod.load_state_dict({k: torch.from_numpy(arrays[v].copy()) for k, v in node["state"].items()})
        return mod.train(node["training"])
    (kind, val), = node.items()
    if kind == "int":
        return int(val)
    if kind == "float":
        return float.fromhex(val)
    if kind == "scalar":
        return arrays[val][()]
    if kind == "array":
        return arrays[val]
    if kind == "tensor":
        return torch.from_numpy(arrays[val].copy())
    if kind == "list":
        return [_decode(x, arrays) for x in val]
    if kind == "tuple":
        return tuple(_decode(x, arrays) for x in val)
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in val.items()}
    raise ValueError(f"unknown stored node {kind!r}")


# ----------------------------------------------------------------------------- the cache
def _folder(cache: ResultCache) -> Path:
    return cache.root / "calls"


def _load(path: Path, arrays: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON metadata of a stored call and (if ``arrays``) its arrays, unverified."""
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        return meta, ({k: z[k] for k in z.files if k != "meta"} if arrays else {})


def _read(path: Path, key: str) -> Any:
    meta, arrays = _load(path)
    if meta.get("schema") != CALL_SCHEMA or meta.get("lrbook_version") != __version__:
        raise ValueError(f"stored by another version ({meta.get('lrbook_version')}, schema {meta.get('schema')})")
    if meta.get("key") != key:
        raise ValueError(f"holds key {meta.get('key')!r}, not {key!r}")
    if payload_sha256(arrays) != meta.get("sha256"):
        raise ValueError("checksum mismatch")
    return _decode(meta["value"], arrays)


def cached_call(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """``fn(*args, **kwargs)``, computed once and then read from the cache.

    See the module docstring for the key and the storage; the folder is the result
    cache's (``LRBOOK_CACHE``, default ``~/.cache/lrbook``). Used by
    :doc:`/book/07_dynamics` for its fixed-point searches.

    Parameters
    ----------
    fn : callable
        a deterministic function of lrbook, e.g. :func:`lrbook.dynamics.find_fixed_points`
        or :func:`lrbook.training.train`.
    *args, **kwargs
        its arguments (not modified on a cache hit).

    Returns
    -------
    object
        what ``fn`` returns (for a stored call: an equal value, arrays as numpy
        arrays or torch tensors as returned).

    Raises
    ------
    TypeError
        if ``fn`` is not lrbook's, or an argument cannot be keyed (before anything
        runs), or the result cannot be stored (after it is computed; it is then
        returned by no call, so the error says what to change).
    """
    key = call_key(fn, args, kwargs)
    cache = ResultCache()
    writable = cache.check()
    path = _folder(cache) / f"{key}.npz"
    found = cache.read_verified(path, lambda p: _read(p, key))
    if found is not None:
        return found
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    seconds = time.perf_counter() - t0
    arrays: dict[str, np.ndarray] = {}
    node = _encode(value, arrays)
    if writable:
        meta = {"schema": CALL_SCHEMA, "lrbook_version": __version__, "key": key, "fn": _qualname(fn),
                "seconds": seconds, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "host": socket.gethostname(), "value": node, "sha256": payload_sha256(arrays)}
        blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)   # dict order kept

        def write(f):
            np.savez(f, meta=blob, **arrays)  # type: ignore[arg-type]

        _atomic_write(path, write, _folder(cache), tag=key)
    return value


@dataclasses.dataclass(frozen=True)
class CallTime:
    """What the cache holds of one function's calls.

    Attributes
    ----------
    fn : str
        ``module:qualname``.
    calls : int
        stored results (for this lrbook version and :data:`CALL_SCHEMA`).
    seconds : float
        the seconds they took when they ran.
    """

    fn: str
    calls: int
    seconds: float


def call_times(cache: str | ResultCache | None = None) -> list[CallTime]:
    """Stored calls and their recorded seconds, per function (run times as data).

    See :doc:`/book/reproducibility`.

    Parameters
    ----------
    cache : str or ResultCache, optional
        default: ``LRBOOK_CACHE``.

    Returns
    -------
    list of CallTime
        sorted by function name; calls of other lrbook versions and unreadable files
        are not counted.
    """
    store = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    folder = _folder(store)
    tally: dict[str, list[float]] = {}
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        try:
            meta = _load(path, arrays=False)[0]
        except Exception:  # noqa: BLE001 - an unreadable file counts as missing
            continue
        if meta.get("lrbook_version") != __version__ or meta.get("schema") != CALL_SCHEMA:
            continue
        tally.setdefault(str(meta["fn"]), []).append(float(meta["seconds"]))
    return [CallTime(fn, len(s), float(sum(s))) for fn, s in sorted(tally.items())]
