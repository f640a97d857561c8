"""Figures of the book, drawn from lrbook results with one shipped style.

Submodules hold the figures of one part of the book each; the style lives in
:mod:`lrbook.plotting.style`.
"""

from __future__ import annotations

from .style import g_colors, style_path, use_style

__all__ = ["use_style", "style_path", "g_colors"]
