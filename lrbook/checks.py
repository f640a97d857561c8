"""Named checks of a chapter's claims, and the tables that show them to the reader.

Every claim a chapter makes in its prose is backed by a named check: the claim in
words, the value the chapter measured, the condition it must meet, and whether it
did. A failing check raises :class:`CheckFailed` (an ``AssertionError``), so the
test-suite (nbval) and the book build fail on it; a passing one is recorded and
shown at the end of the chapter in the table "What this chapter checked"
(:meth:`Checks.table`). Check names are stable identifiers (lower case, digits and
``-``), so other pages can refer to them.

The module also holds :func:`glue`, which hands a computed value to the page's
prose (myst-nb's ``{glue:text}`` role), and :class:`Table`, a small HTML table for
results.

This module imports only numpy: it is safe to use from any chapter.

Examples
--------
>>> ck = Checks("04_low_rank", scale="ci")
>>> ck.check("rank-g0", "the functional rank is 2 at g = 0", [2, 2],
...          between=(1, 3))
>>> ck.check("small-change", "||dW|| is below 0.3 ||W0||", 0.12, lt=0.3)
>>> [c.passed for c in ck]
[True, True]
>>> ck.check("big", "5 < 1", 5.0, lt=1.0)
Traceback (most recent call last):
...
lrbook.checks.CheckFailed: check 'big' failed: 5 < 1: measured 5, required < 1
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["Check", "CheckFailed", "Checks", "Table", "glue", "fmt"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class CheckFailed(AssertionError):
    """A chapter's claim did not hold: the message names the check, the value and the condition."""


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number (or an array of numbers) for a table: ``digits`` significant digits.

    Arrays with one distinct value show that value; others show ``min–max``.
    Integers stay integers; NaN shows as ``nan``; strings pass through.

    Parameters
    ----------
    value : number, bool, str or array-like
    digits : int
        significant digits of floats.

    Returns
    -------
    str
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    arr = np.ma.asarray(value)
    if arr.ndim > 0:
        data = np.ma.compressed(arr)
        if data.size == 0:
            return "–"
        lo, hi = data.min(), data.max()
        return fmt(lo.item(), digits) if lo == hi else f"{fmt(lo.item(), digits)}–{fmt(hi.item(), digits)}"
    v = arr.item()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 10 ** digits:
        return str(int(v))
    return f"{v:.{digits}g}"


@dataclass(frozen=True)
class Check:
    """One checked claim.

    Attributes
    ----------
    name : str
        stable identifier, e.g. ``"flipflop-rank-g0"``.
    claim : str
        the claim in words, as the prose states it.
    value : str
        the measured value, formatted (``min–max`` over networks for arrays).
    condition : str
        what the value had to satisfy, e.g. ``"< 0.5"`` or ``"in [1, 3]"``.
    passed : bool
    scale : str
        the scale (``LRBOOK_SCALE``) at which it was measured.
    """

    name: str
    claim: str
    value: str
    condition: str
    passed: bool
    scale: str

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return asdict(self)


class Table:
    """A small table of results that renders as HTML in a notebook and as text elsewhere.

    Parameters
    ----------
    columns : sequence of str
        column headers (units in the header, e.g. ``"||dW|| / ||W0||"``).
    rows : iterable of sequences
        one sequence per row, as long as ``columns``; numbers are formatted with
        :func:`fmt` (``digits`` significant digits), strings are shown as given.
    caption : str, optional
    digits : int
        significant digits of floats (3).

    Examples
    --------
    >>> t = Table(["g", "loss / L0"], [[0.0, 0.01234], [0.9, 0.002]])
    >>> print(t)
    g    loss / L0
    0    0.0123
    0.9  0.002
    """

    def __init__(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
                 caption: str | None = None, digits: int = 3):
        self.columns = [str(c) for c in columns]
        self.rows = [[c if isinstance(c, str) else fmt(c, digits) for c in r] for r in rows]
        for i, r in enumerate(self.rows):
            if len(r) != len(self.columns):
                raise ValueError(f"rows[{i}] has {len(r)} cells; columns has {len(self.columns)}")
        self.caption = caption

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        cells = [self.columns] + self.rows
        widths = [max(len(r[j]) for r in cells) for j in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        cap = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="lrbook-table">{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")


class Checks:
    """The named checks of one chapter.

    See :doc:`/book/04_low_rank` (every chapter ends with the table of its checks).

    Parameters
    ----------
    chapter : str
        the chapter's name, e.g. ``"04_low_rank"``.
    scale : str, optional
        the scale the chapter runs at (default: :func:`lrbook.config.get_scale`).
    """

    def __init__(self, chapter: str, scale: str | None = None):
        if not isinstance(chapter, str) or not chapter:
            raise ValueError(f"chapter must be a non-empty string; got {chapter!r}")
        if scale is None:
            from .config import get_scale

            scale = get_scale()
        self.chapter = chapter
        self.scale = scale
        self._checks: dict[str, Check] = {}

    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)

    def __getitem__(self, name: str) -> Check:
        return self._checks[name]

    def _record(self, name: str, claim: str, value: str, condition: str, passed: bool) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"check name must be lower case letters, digits and '-'; got {name!r}")
        if name in self._checks:
            raise ValueError(f"check {name!r} is already recorded in {self.chapter}")
        if not isinstance(claim, str) or not claim:
            raise ValueError(f"claim must be a non-empty string; got {claim!r}")
        self._checks[name] = Check(name, claim, value, condition, bool(passed), self.scale)
        if not passed:
            raise CheckFailed(f"check {name!r} failed: {claim}: measured {value}, required {condition}")

    def check(self, name: str, claim: str, value: Any, *, lt: float | None = None,
              le: float | None = None, gt: float | None = None, ge: float | None = None,
              between: tuple[float, float] | None = None, digits: int = 3) -> None:
        """Check that a measured value (every element of an array) meets a numeric condition.

        Parameters
        ----------
        name : str
            stable identifier: lower case letters, digits and ``-``; unique in the chapter.
        claim : str
            the claim in words.
        value : number or array-like
            the measurement; for an array every element must meet the condition
            (masked elements of a masked array are ignored, but an all-masked or
            empty array fails). NaN never meets a condition.
        lt, le, gt, ge : float, optional
            strict / non-strict upper and lower bounds.
        between : (lo, hi), optional
            closed interval ``lo <= value <= hi``.
        digits : int
            significant digits shown in the table.

        Raises
        ------
        CheckFailed
            if the condition does not hold (after recording it).
        ValueError
            if no condition is given, or the name is invalid or repeated.
        """
        conds: list[tuple[str, Any]] = []
        if between is not None:
            lo, hi = between
            conds.append((f"in [{fmt(lo, digits)}, {fmt(hi, digits)}]",
                          lambda v: (v >= lo) & (v <= hi)))
        for op, bound, f in (("<", lt, np.less), ("≤", le, np.less_equal),
                             (">", gt, np.greater), ("≥", ge, np.greater_equal)):
            if bound is not None:
                conds.append((f"{op} {fmt(bound, digits)}", lambda v, f=f, b=bound: f(v, b)))
        if not conds:
            raise ValueError("check needs a condition: lt, le, gt, ge or between")
        arr: np.ma.MaskedArray = np.ma.asarray(value, dtype=float)
        data = np.ma.compressed(arr)
        with np.errstate(invalid="ignore"):
            passed = data.size > 0 and all(bool(np.all(f(data))) for _, f in conds)
        self._record(name, claim, fmt(arr, digits), " and ".join(c for c, _ in conds), passed)

    def that(self, name: str, claim: str, passed: Any, *, value: Any = "",
             condition: str = "true") -> None:
        """Record a claim checked by a boolean condition computed by the chapter.

        Parameters
        ----------
        name, claim : str
            as in :meth:`check`.
        passed : bool or array-like of bool
            the outcome; an array passes when every element is true (and it is not empty).
        value : object, optional
            what to show as the measured value.
        condition : str
            the condition in words.

        Raises
        ------
        CheckFailed
            if ``passed`` is false.
        """
        arr: np.ndarray = np.asarray(passed)
        ok = arr.size > 0 and bool(np.all(arr))
        self._record(name, claim, fmt(value), condition, ok)

    def table(self) -> Table:
        """The table "What this chapter checked": one row per check, in the order run."""
        rows = [[c.name, c.claim, c.value, c.condition, "pass" if c.passed else "FAIL"]
                for c in self]
        return Table(["check", "claim", "measured", "required", "result"], rows,
                     caption=f"What this chapter checked (scale: {self.scale})")

    def to_dict(self) -> dict[str, Any]:
        """All checks as a JSON-ready dict."""
        return {"chapter": self.chapter, "scale": self.scale, "checks": [c.to_dict() for c in self]}


def glue(name: str, value: Any, display: bool = False) -> None:
    """Hand a computed value to the page's prose (``{glue:text}`name``` in MyST).

    Uses :func:`myst_nb.glue` where myst-nb is installed (the book build); elsewhere
    (Colab, a plain Jupyter) it does nothing, since only the book build reads glued
    values. It returns nothing, so that a cell ending with ``glue(...)`` shows no
    output of its own.

    Parameters
    ----------
    name : str
        the key the prose refers to; unique within the page.
    value : object
        a number (formatted in the prose with e.g. ``{glue:text}`name:.2f```), a
        :class:`Table`, a figure, ...
    display : bool
        also show the value in the cell's output.

    """
    if isinstance(value, np.generic):
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # not building the book
        return
    _glue(name, value, display=display)
