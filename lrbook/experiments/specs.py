"""Experiment configurations: what to train, validated, serialisable, with a stable key.

An :class:`EnsembleConfig` describes the grid ``g x seeds`` of networks trained on one
task with one set of hyper-parameters; a :class:`NetworkConfig` is one network of it
(one ``g``, one ``seed``). Results are cached per network, under
:attr:`NetworkConfig.key`, so an ensemble is only a grouping of networks: two
ensembles that share a network share its cached result.

The key is the sha256 of the canonical JSON (sorted keys, no blanks) of the
configuration together with the lrbook version (:data:`lrbook.__version__`) and
:data:`SCHEMA_VERSION`, so a new release of the code, or a new layout of the stored
results, never reads an old result as its own.

Used by the chapters :doc:`/book/05_randomness` and :doc:`/book/06_scaling`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .. import _validate as V
from .._version import __version__
from ..engine import PHIS
from ..models import PARAMS
from ..tasks import TASKS, Task, make_task
from ..training import OPTIMIZERS, default_batch_size, default_optimizer

#: Version of the layout of configurations and stored results; part of every key.
SCHEMA_VERSION = 1

#: Significant digits kept of ``g`` and ``lr`` (so ``0.3 * 3`` and ``0.9`` are one key).
FLOAT_DIGITS = 12


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no blanks; NaN and inf are refused.

    Parameters
    ----------
    obj : object
        JSON types only.

    Returns
    -------
    str
        equal objects give equal strings (the input of the sha256 keys).

    Raises
    ------
    ValueError
        if ``obj`` holds NaN or inf.
    TypeError
        if it holds a type JSON cannot represent.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _round(x: float) -> float:
    return float(f"{float(x):.{FLOAT_DIGITS}g}")


def _canonical_task(task: str | Task, task_params: Mapping[str, Any] | Sequence | None
                    ) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """Resolve a task name (or object) and parameters into ``(name, sorted full params)``.

    Every parameter the task has is listed, defaults included, with floats as
    floats and sequences as tuples, so equal tasks give equal keys.
    """
    if isinstance(task, Task):
        if task_params:
            raise ValueError("task_params must be empty when task is a Task object; "
                             f"got {dict(task_params)!r}")
        params = task.params()
        name = params.pop("name")
    else:
        if not isinstance(task, str):
            raise TypeError(f"task must be a task name or an lrbook Task; got {task!r}")
        name = V.choice("task", task, TASKS)
        params = dict(task_params or {})
    cls = TASKS[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in params:
        if k not in fields:
            raise ValueError(f"task_params has no parameter {k!r} for task {name}; "
                             f"allowed: {', '.join(fields)}")
    full = {}
    for k, f in fields.items():
        v = params.get(k, f.default)
        full[k] = _like(v, f.default)
    obj = make_task(name, **full)                        # validates the values
    canon = {k: _like(v, fields[k].default) for k, v in obj.params().items() if k != "name"}
    return name, tuple(sorted(canon.items()))


def _like(v: Any, default: Any) -> Any:
    """Cast ``v`` to the type of the field default (float, int, tuple of those)."""
    if isinstance(v, (list, tuple)):
        ref = default[0] if isinstance(default, tuple) and default else None
        return tuple(_like(x, ref) for x in v)
    if isinstance(default, float) and isinstance(v, numbers.Real) and not isinstance(v, bool):
        return float(v)
    if isinstance(default, int) and not isinstance(default, bool) \
            and isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    return v


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def _resolve_common(name: str, task_params: tuple, N, epochs, lr, optimizer, batch_size,
                    trained, phi, snapshot_every) -> dict[str, Any]:
    """Validate and fill in the hyper-parameters shared by both config classes."""
    task = make_task(name, **dict(task_params))
    out: dict[str, Any] = {}
    out["N"] = V.integer("N", N, lo=1)
    out["epochs"] = V.integer("epochs", epochs, lo=1)
    out["lr"] = None if lr is None else _round(V.real("lr", lr, lo=0.0, lo_open=True))
    out["optimizer"] = V.choice("optimizer", optimizer if optimizer is not None
                                else default_optimizer(task), OPTIMIZERS)
    out["batch_size"] = V.integer("batch_size", batch_size if batch_size is not None
                                  else default_batch_size(task), lo=1)
    if trained is None:
        trained = task.default_trained
    if isinstance(trained, str):
        trained = (trained,)
    trained = tuple(trained)
    for p in trained:
        V.choice("trained", p, PARAMS)
    if not trained:
        raise ValueError("trained must name at least one of W_in, W, W_out; got ()")
    out["trained"] = tuple(p for p in PARAMS if p in trained)
    if phi is None:
        phi = task.phi
    out["phi"] = V.choice("phi", phi, PHIS)
    out["snapshot_every"] = None if snapshot_every is None else \
        V.integer("snapshot_every", snapshot_every, lo=1)
    return out


def _key(kind: str, body: dict) -> str:
    payload = {"schema": SCHEMA_VERSION, "lrbook": __version__, "kind": kind, "config": body}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


_Config = TypeVar("_Config", bound="_TaskConfig")


class _TaskConfig:
    """What :class:`NetworkConfig` and :class:`EnsembleConfig` share: the task and the dict form."""

    __dataclass_fields__: ClassVar[dict[str, Any]]    # the subclasses are dataclasses
    task: str
    task_params: tuple
    N: int
    epochs: int
    lr: float | None
    optimizer: str | None
    batch_size: int | None
    trained: tuple[str, ...] | None
    phi: str | None
    snapshot_every: int | None

    def _resolve(self) -> dict[str, Any]:
        """The task (name, every parameter) and the hyper-parameters both configs have,
        validated and with the paper's defaults filled in: the values to store."""
        name, params = _canonical_task(self.task, self.task_params)
        resolved = _resolve_common(name, params, self.N, self.epochs, self.lr, self.optimizer,
                                   self.batch_size, self.trained, self.phi, self.snapshot_every)
        resolved.update(task=name, task_params=params)
        return resolved

    def _store(self, resolved: Mapping[str, Any]) -> None:
        """Set the fields of this frozen dataclass to the resolved values."""
        for k, v in resolved.items():
            object.__setattr__(self, k, v)

    @property
    def task_kwargs(self) -> dict[str, Any]:
        """Task parameters as a dict (for :func:`lrbook.tasks.make_task`)."""
        return dict(self.task_params)

    def make_task(self) -> Task:
        """The task object."""
        return make_task(self.task, **self.task_kwargs)

    def _fields_dict(self) -> dict[str, Any]:
        """Every field, with the task parameters and ``trained`` as JSON-ready values."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["task_params"] = {k: _jsonable(v) for k, v in self.task_params}
        d["trained"] = list(self.trained or ())
        return d

    @classmethod
    def from_dict(cls: type[_Config], d: Mapping[str, Any]) -> _Config:
        """Inverse of :meth:`to_dict` (unknown keys are an error).

        Parameters
        ----------
        d : mapping
            fields of the config, as from :meth:`to_dict`.

        Returns
        -------
        NetworkConfig or EnsembleConfig
            of the class it is called on.

        Raises
        ------
        TypeError
            if ``d`` is not a mapping.
        ValueError
            if it has a key that is not a field (or a value out of range).
        """
        if not isinstance(d, Mapping):
            raise TypeError(f"config must be a mapping; got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        extra = set(d) - names
        if extra:
            raise ValueError(f"config has unknown field(s) {sorted(extra)}; allowed: {', '.join(sorted(names))}")
        return cls(**d)


@dataclass(frozen=True)
class NetworkConfig(_TaskConfig):
    """One network to train: a task, a size, one ``g``, one ``seed`` and the training rule.

    Defaults left as ``None`` are resolved to the paper's choices on construction
    (optimizer, batch size, trained weights, nonlinearity), so equal experiments
    compare equal and share a :attr:`key`. ``lr=None`` stays ``None``: the paper's
    rule :func:`lrbook.training.default_lr` for the task, ``N`` and ``g``.

    Parameters
    ----------
    task : str or Task
        a name of :data:`lrbook.tasks.TASKS` or a task object.
    task_params : mapping, optional
        task parameters (defaults filled in; stored as sorted ``(name, value)`` pairs).
    N : int
        neurons, >= 1.
    g : float
        initial connectivity strength, >= 0.
    seed : int
        network seed, 0..2**63-1 (initialisation and training data).
    epochs : int
        parameter updates, >= 1.
    lr : float, optional
        learning rate, > 0; ``None`` for the paper's rule.
    optimizer : {"adam", "sgd"}, optional
    batch_size : int, optional
    trained : sequence of {"W_in", "W", "W_out"}, optional
    phi : {"tanh", "linear", "relu", "softplus"}, optional
    snapshot_every : int, optional
        also store ``W`` every this many epochs.
    rank : int, optional
        train the recurrent change as ``W0 + U V^T`` of this rank (1..N), see
        :func:`lrbook.training.train`; None: unconstrained.
    lr_factors : float, optional
        learning rate of U and V (> 0; only with ``rank``); None for
        :func:`lrbook.factors.lowrank_lr`.

    Raises
    ------
    ValueError, TypeError
        naming the parameter, the value and the allowed range.

    Examples
    --------
    >>> c = NetworkConfig("flipflop", N=32, g=0.9, seed=1, epochs=50)
    >>> c.optimizer, c.batch_size, c.trained, c.phi
    ('adam', 32, ('W_in', 'W', 'W_out'), 'tanh')
    >>> c == NetworkConfig.from_dict(c.to_dict()), len(c.key)
    (True, 64)

    The networks of an :class:`EnsembleConfig` are NetworkConfigs; they are the
    unit of :func:`~lrbook.experiments.run_ensemble` and
    :func:`~lrbook.experiments.sweep` (chapters :doc:`/book/05_randomness`,
    :doc:`/book/06_scaling`).
    """

    task: str
    task_params: tuple = ()
    N: int = 256
    g: float = 0.0
    seed: int = 0
    epochs: int = 1000
    lr: float | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    trained: tuple[str, ...] | None = None
    phi: str | None = None
    snapshot_every: int | None = None
    rank: int | None = None
    lr_factors: float | None = None

    def __post_init__(self) -> None:
        resolved = self._resolve()
        if self.rank is not None:
            resolved["rank"] = V.integer("rank", self.rank, lo=1, hi=resolved["N"])
            if "W" not in resolved["trained"]:
                raise ValueError(f"rank constrains the change of W: trained must include 'W'; "
                                 f"got {resolved['trained']}")
        if self.lr_factors is not None:
            if self.rank is None:
                raise ValueError("lr_factors is the learning rate of the low-rank factors: it needs rank; "
                                 "got rank=None")
            resolved["lr_factors"] = _round(V.real("lr_factors", self.lr_factors, lo=0.0, lo_open=True))
        resolved.update(g=_round(V.real("g", self.g, lo=0.0)), seed=V.seed("seed", self.seed))
        self._store(resolved)

    # ------------------------------------------------------------------ accessors
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``NetworkConfig.from_dict(c.to_dict()) == c``.

        ``rank`` and ``lr_factors`` appear only when set, so the keys of
        unconstrained networks do not depend on the low-rank option.
        """
        d = self._fields_dict()
        for k in ("rank", "lr_factors"):
            if d[k] is None:
                del d[k]
        return d

    @property
    def key(self) -> str:
        """sha256 hex digest identifying this network's result (64 characters)."""
        return _key("network", self.to_dict())

    @property
    def group_key(self) -> tuple:
        """Everything but ``g``, ``seed``, ``lr``, ``rank`` and ``lr_factors`` (only
        whether a rank is set): networks with equal group keys can be trained together
        in one ensemble."""
        d = self.to_dict()
        for k in ("g", "seed", "lr", "rank", "lr_factors"):
            d.pop(k, None)
        d["lowrank"] = self.rank is not None
        return (canonical_json(d),)


@dataclass(frozen=True)
class EnsembleConfig(_TaskConfig):
    """The networks ``g x seeds`` (g-major order) trained alike on one task.

    Network ``k = i * len(seeds) + j`` has ``g[i]`` and ``seeds[j]``; networks that share a
    seed share the random matrix chi (``W0 = g chi``). See :class:`NetworkConfig` for
    the other parameters.

    Used (through :func:`~lrbook.experiments.run_ensemble`) by the chapters
    :doc:`/book/02_training`, :doc:`/book/04_low_rank`, :doc:`/book/05_randomness`
    and :doc:`/book/06_scaling`.

    Parameters
    ----------
    task : str or Task
        a name of :data:`lrbook.tasks.TASKS` or a task object.
    task_params : mapping, optional
        task parameters.
    N : int
        neurons, >= 1.
    g : float or sequence of float
        strengths, each >= 0, no repeats.
    seeds : int or sequence of int
        seeds, each 0..2**63-1, no repeats; ``len(g) * len(seeds)`` is at most
        :data:`lrbook._validate.MAX_NETWORKS`.
    epochs, lr, optimizer, batch_size, trained, phi, snapshot_every
        shared by every network, as in :class:`NetworkConfig`.

    Raises
    ------
    ValueError, TypeError
        naming the parameter, the value and the allowed range.

    Examples
    --------
    >>> cfg = EnsembleConfig("flipflop", N=32, g=(0.0, 0.9), seeds=(0, 1), epochs=50)
    >>> cfg.K, [(n.g, n.seed) for n in cfg.networks()]
    (4, [(0.0, 0), (0.0, 1), (0.9, 0), (0.9, 1)])
    """

    task: str
    task_params: tuple = ()
    N: int = 256
    g: tuple[float, ...] = (0.0,)
    seeds: tuple[int, ...] = (0,)
    epochs: int = 1000
    lr: float | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    trained: tuple[str, ...] | None = None
    phi: str | None = None
    snapshot_every: int | None = None

    def __post_init__(self) -> None:
        resolved = self._resolve()
        if hasattr(self.g, "__len__") and not isinstance(self.g, str) and len(self.g) > V.MAX_NETWORKS:
            raise ValueError(f"g must have at most {V.MAX_NETWORKS} entries; got {len(self.g)}")
        gs = tuple(_round(x) for x in V.real_sequence("g", self.g, lo=0.0))
        seeds = self.seeds
        if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
            seeds = (seeds,)
        if not isinstance(seeds, Sequence) and not hasattr(seeds, "__len__"):
            raise TypeError(f"seeds must be an integer or a sequence of integers; got {seeds!r}")
        if len(seeds) > V.MAX_NETWORKS:
            raise ValueError(f"seeds must have at most {V.MAX_NETWORKS} entries; got {len(seeds)}")
        seeds = tuple(V.seed(f"seeds[{i}]", s) for i, s in enumerate(seeds))
        if not seeds:
            raise ValueError(f"seeds must be non-empty; got {self.seeds!r}")
        if len(gs) * len(seeds) > V.MAX_NETWORKS:
            raise ValueError(f"g x seeds must be at most {V.MAX_NETWORKS} networks; got "
                             f"{len(gs)} x {len(seeds)} = {len(gs) * len(seeds)}")
        for nm, vals in (("g", gs), ("seeds", seeds)):
            if len(set(vals)) != len(vals):
                raise ValueError(f"{nm} must not repeat a value; got {vals!r}")
        resolved.update(g=gs, seeds=seeds)
        self._store(resolved)

    @property
    def K(self) -> int:
        """Number of networks, ``len(g) * len(seeds)``."""
        return len(self.g) * len(self.seeds)

    def networks(self) -> list[NetworkConfig]:
        """The K network configs, g-major: ``[(g0, s0), (g0, s1), ..., (g1, s0), ...]``."""
        common = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name not in ("g", "seeds")}
        return [NetworkConfig(g=g, seed=s, **common) for g in self.g for s in self.seeds]

    def __iter__(self) -> Iterator[NetworkConfig]:
        return iter(self.networks())

    def __len__(self) -> int:
        return self.K

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``EnsembleConfig.from_dict(c.to_dict()) == c``."""
        d = self._fields_dict()
        d["g"] = list(self.g)
        d["seeds"] = list(self.seeds)
        return d

    @property
    def key(self) -> str:
        """sha256 hex digest of the whole ensemble (its networks are cached one by one
        under :attr:`NetworkConfig.key`)."""
        return _key("ensemble", self.to_dict())

    def replace(self, **changes: Any) -> EnsembleConfig:
        """A copy with some fields changed (validated again).

        Parameters
        ----------
        **changes : Any
            new values of fields, e.g. ``epochs=500`` or ``g=(0.0, 1.5)``.

        Returns
        -------
        EnsembleConfig
        """
        return dataclasses.replace(self, **changes)
