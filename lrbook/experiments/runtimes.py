"""Run times as data: what the result cache holds for each preset and scale.

Every network stored in the cache carries the seconds its training took (its
share of the ensemble's wall time) and its epochs. :func:`run_times` adds them up
for the presets the chapters use, at each scale, so that the book reports its
run times as computed from the cache, never typed by hand
(:doc:`/book/reproducibility`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..config import SCALES
from .cache import ResultCache
from .presets import PRESETS
from .run import as_cache
from .specs import EnsembleConfig

__all__ = ["RunTime", "run_times", "PRESET_CHAPTERS"]

#: The chapters that read each preset's ensembles from the cache.
PRESET_CHAPTERS: dict[str, str] = {
    "nonlinear": "2 Training, 4 Low rank, 5 Randomness, 7 Dynamics, 12 Back to nonlinear",
    "nscaling": "6 Scaling with N",
}


@dataclass(frozen=True)
class RunTime:
    """What the cache holds of one preset at one scale.

    Attributes
    ----------
    preset : str
        a key of :data:`lrbook.experiments.presets.PRESETS`.
    scale : str
    chapters : str
        the chapters that use it.
    networks : int
        networks the preset defines at this scale.
    cached : int
        of those, networks found in the cache.
    network_epochs : int
        sum of the epochs of the cached networks.
    seconds : float
        sum of their training seconds (as recorded when they were trained).
    """

    preset: str
    scale: str
    chapters: str
    networks: int
    cached: int
    network_epochs: int
    seconds: float

    @property
    def ms_per_network_epoch(self) -> float | None:
        """Training milliseconds per network-epoch, or None if nothing is cached."""
        return 1e3 * self.seconds / self.network_epochs if self.network_epochs else None

    def to_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict."""
        return asdict(self)


def _tally(configs: Iterable[EnsembleConfig], cache: ResultCache) -> tuple[int, int, int, float]:
    seen: set[str] = set()
    networks = cached = epochs = 0
    seconds = 0.0
    for ens in configs:
        for net in ens.networks():
            if net.key in seen:
                continue
            seen.add(net.key)
            networks += 1
            if not cache.path(net.key).exists():
                continue
            try:
                meta = cache.meta(net.key)
            except Exception:  # noqa: BLE001 - an unreadable file counts as missing
                continue
            cached += 1
            epochs += int(meta["config"]["epochs"])
            seconds += float(meta["seconds"])
    return networks, cached, epochs, seconds


def run_times(scales: Iterable[str] = SCALES, *, cache: str | ResultCache | None = None,
              presets: Mapping[str, Callable[..., Mapping[Any, EnsembleConfig]]] | None = None
              ) -> list[RunTime]:
    """Networks, network-epochs and training seconds in the cache, per preset and scale.

    See :doc:`/book/reproducibility`.

    Parameters
    ----------
    scales : iterable of {"ci", "book", "paper"}
    cache : str or ResultCache, optional
        the cache to read (default: ``LRBOOK_CACHE``).
    presets : mapping of name to preset function, optional
        default :data:`lrbook.experiments.presets.PRESETS`.

    Returns
    -------
    list of RunTime
        one per preset and scale, in the order of ``presets`` then ``scales``.

    Raises
    ------
    ValueError
        if a scale is not one of ``ci``, ``book``, ``paper``.
    """
    scales = tuple(scales)
    for s in scales:
        if s not in SCALES:
            raise ValueError(f"scales must be among {', '.join(SCALES)}; got {s!r}")
    store = as_cache(True if cache is None else cache)
    assert store is not None
    out = []
    for name, preset in (PRESETS if presets is None else presets).items():
        for s in scales:
            n, c, e, sec = _tally(preset(s).values(), store)
            out.append(RunTime(name, s, PRESET_CHAPTERS.get(name, ""), n, c, e, sec))
    return out
