"""Conversion and shape checks shared by the analysis modules (private).

Every public analysis function accepts numpy arrays or torch tensors and works
in float64 numpy internally.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(name: str, x: Any, *, dtype=np.float64) -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested sequence) as a numpy array of ``dtype``."""
    if x is None:
        raise TypeError(f"{name} must be an array or a tensor; got None")
    complex_msg = (f"{name} must be real; got a complex array: pass its real part (np.real) "
                   "explicitly if the imaginary part is meant to be dropped")
    if hasattr(x, "detach") and hasattr(x, "cpu"):          # torch.Tensor without importing torch
        t = x.detach().cpu()
        if callable(getattr(t, "is_complex", None)) and t.is_complex():
            raise ValueError(complex_msg)
        try:
            x = t.numpy()
        except (RuntimeError, TypeError):                   # e.g. bfloat16: no numpy dtype
            x = t.double().numpy()
    try:
        a = np.asarray(x)
        if a.dtype.kind != "c":
            a = np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real array or tensor; got {type(x).__name__} ({err})") from None
    if a.dtype.kind == "c":
        raise ValueError(complex_msg)
    return a


def matrices(name: str, x: Any, *, square: bool = True, finite: bool = True) -> np.ndarray:
    """Check a matrix (N, M) or a stack of matrices (..., N, M); square by default."""
    a = to_numpy(name, x)
    if a.ndim < 2:
        raise ValueError(f"{name} must have shape (N, N) or (K, N, N); got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be square, shape (N, N) or (K, N, N); got shape {a.shape}")
    if a.shape[-1] == 0 or a.shape[-2] == 0:
        raise ValueError(f"{name} must have N >= 1; got shape {a.shape}")
    if finite and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite values; got {int(np.sum(~np.isfinite(a)))} "
                         f"NaN/inf entries")
    return a


def same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape; got {a.shape} and {b.shape}")


def ranks_arg(ranks: Any, n_max: int, name: str = "ranks") -> np.ndarray:
    """Integer ranks in 0..n_max as an int64 array (order kept, non-empty)."""
    if isinstance(ranks, (int, np.integer)) and not isinstance(ranks, bool):
        ranks = [ranks]
    try:
        r = list(ranks)
    except TypeError:
        raise TypeError(f"{name} must be an integer or a sequence of integers; got {ranks!r}") from None
    if not r:
        raise ValueError(f"{name} must be non-empty; got {ranks!r}")
    out = []
    for i, v in enumerate(r):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}[{i}] must be an integer in 0..{n_max}; got {v!r}")
        if not 0 <= int(v) <= n_max:
            raise ValueError(f"{name}[{i}] must be an integer in 0..{n_max} (0 <= R <= N); got {int(v)}")
        out.append(int(v))
    return np.asarray(out, dtype=np.int64)


def jsonable(x: Any) -> Any:
    """Convert numpy scalars/arrays, complex numbers, NaN/inf and dataclasses to JSON types.

    Arrays become (nested) lists, complex numbers ``[re, im]`` pairs, NaN and inf ``None``.
    """
    import dataclasses

    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        if hasattr(x, "to_dict"):
            return x.to_dict()
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        if np.iscomplexobj(x):
            return jsonable(np.stack([x.real, x.imag], axis=-1))
        return jsonable(x.tolist())
    if isinstance(x, (complex, np.complexfloating)):
        return [jsonable(float(x.real)), jsonable(float(x.imag))]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if np.isfinite(v) else None
    if x is None or isinstance(x, str):
        return x
    if hasattr(x, "detach"):
        return jsonable(to_numpy("value", x))
    raise TypeError(f"cannot convert {type(x).__name__} to JSON")
