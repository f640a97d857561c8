"""Run-time settings read from the environment, in one place.

The book runs every chapter at one of three scales, chosen by the environment
variable ``LRBOOK_SCALE``:

``ci``
    seconds to a minute per chapter; used by the test-suite (nbval).
``book``
    minutes on a laptop CPU; the rendered book. Results show the paper's claims.
``paper``
    the paper's full sizes.

Every chapter picks its sizes with :func:`by_scale`; see :doc:`/book/01_tasks`.
"""

from __future__ import annotations

import os
from typing import TypeVar

SCALES = ("ci", "book", "paper")
DEFAULT_SCALE = "book"

T = TypeVar("T")


def get_scale(scale: str | None = None) -> str:
    """Return the active scale, validated (``LRBOOK_SCALE``, default ``book``).

    The variable is read on every call, stripped and lower-cased; unset or empty
    means ``book``.

    Every chapter prints it at the top, e.g. :doc:`/book/01_tasks`.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        a scale given explicitly (e.g. a function's ``scale`` argument): returned
        as is after validation, taken as given (not lower-cased); None (default)
        reads ``LRBOOK_SCALE``.

    Returns
    -------
    str
        ``"ci"``, ``"book"`` or ``"paper"``.

    Raises
    ------
    ValueError
        if ``scale`` is not, or (``scale`` None) ``LRBOOK_SCALE`` is set to anything
        but, ``ci``, ``book`` or ``paper``.
    """
    if scale is not None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
        return scale
    value = os.environ.get("LRBOOK_SCALE", DEFAULT_SCALE).strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise ValueError(
            f"LRBOOK_SCALE must be one of {', '.join(SCALES)}; got {value!r}"
        )
    return value


def by_scale(ci: T, book: T, paper: T, scale: str | None = None) -> T:
    """Pick the value for the active scale.

    Every chapter sizes its experiments with it, e.g. :doc:`/book/01_tasks`.

    Parameters
    ----------
    ci, book, paper : object
        the value to use at each scale (any type; all three usually share one).
    scale : {"ci", "book", "paper"}, optional
        the scale to use instead of the active one (:func:`get_scale`, i.e.
        ``LRBOOK_SCALE``); taken as given (not lower-cased).

    Returns
    -------
    object
        ``ci``, ``book`` or ``paper``, whichever belongs to the scale.

    Raises
    ------
    ValueError
        if ``scale`` (or ``LRBOOK_SCALE`` when ``scale`` is None) is not one of
        ``ci``, ``book``, ``paper``.

    Examples
    --------
    >>> n_epochs = by_scale(ci=50, book=1000, paper=1000)
    >>> by_scale(ci=64, book=256, paper=256, scale="ci")
    64
    """
    return {"ci": ci, "book": book, "paper": paper}[get_scale(scale)]


def cache_dir() -> str:
    """Folder of the on-disk result cache (:class:`lrbook.experiments.ResultCache`).

    Returns
    -------
    str
        ``LRBOOK_CACHE`` if set and non-empty (as given), else ``~/.cache/lrbook``
        with ``~`` expanded. The folder is not created here.
    """
    path = os.environ.get("LRBOOK_CACHE")
    if not path:
        path = os.path.join(os.path.expanduser("~"), ".cache", "lrbook")
    return path


def on_colab() -> bool:
    """Whether this runs in a Google Colab kernel (Colab's own module is imported).

    Chapters use it to fetch what a Colab runtime lacks, e.g. the data of
    :doc:`/book/14_sentiment`.

    Returns
    -------
    bool
    """
    import sys

    return "google.colab" in sys.modules
