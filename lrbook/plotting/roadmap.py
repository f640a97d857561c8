"""The roadmap of the book: its chapters by part, with an arrow where a chapter builds on another.

Drawn on :doc:`/book/paper_map` from the table of contents and the chapters'
cross-references.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["plot_roadmap"]


def plot_roadmap(chapters: Sequence[tuple[str, str, str]], edges: Sequence[tuple[str, str]],
                 ax=None, *, width: float = 3.2, height: float = 0.62):
    """Boxes for the chapters, one column per part, arrows from prerequisite to chapter.

    Parameters
    ----------
    chapters : sequence of (key, title, part)
        in reading order; ``part`` names the column.
    edges : sequence of (from_key, to_key)
        ``to`` builds on ``from``; keys not in ``chapters`` are ignored.
    ax : matplotlib Axes, optional
    width, height : float
        box size in data units (columns are ``width + 0.8`` apart).

    Returns
    -------
    matplotlib Axes
    """
    parts: list[str] = []
    for _, _, part in chapters:
        if part not in parts:
            parts.append(part)
    rows = {p: 0 for p in parts}
    pos = {}
    for key, _, part in chapters:
        col = parts.index(part)
        pos[key] = (col * (width + 0.8), -rows[part] * (height + 0.35))
        rows[part] += 1
    n_rows = max(rows.values()) if rows else 1
    if ax is None:
        _, ax = plt.subplots(figsize=(3.4 * len(parts), 0.75 * n_rows + 0.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for key, title, part in chapters:
        x, y = pos[key]
        c = colors[parts.index(part) % len(colors)]
        ax.add_patch(FancyBboxPatch((x, y - height / 2), width, height, boxstyle="round,pad=0.02",
                                    fc="white", ec=c, lw=1.5))
        ax.text(x + width / 2, y, title, ha="center", va="center", fontsize=7.5, wrap=True)
    for a, b in edges:
        if a not in pos or b not in pos:
            continue
        (xa, ya), (xb, yb) = pos[a], pos[b]
        same = xa == xb
        start = (xa + (0 if same else width), ya) if not same else (xa, ya)
        end = (xb, yb)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, lw=0.6,
                                     color="0.55", connectionstyle="arc3,rad=0.35" if same else
                                     "arc3,rad=0.08", shrinkA=2, shrinkB=2))
    for i, part in enumerate(parts):
        ax.text(i * (width + 0.8) + width / 2, height + 0.1, part, ha="center", va="bottom",
                fontsize=9, fontweight="bold")
    ax.set_xlim(-0.6, len(parts) * (width + 0.8) - 0.2)
    ax.set_ylim(-(n_rows - 1) * (height + 0.35) - height, height + 0.6)
    ax.set_axis_off()
    return ax
