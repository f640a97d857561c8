"""Run-time settings of lrbook.config that the other tests do not cover."""

from __future__ import annotations

import sys
import types

from lrbook.config import on_colab


def test_on_colab_follows_the_colab_module(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert on_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert on_colab() is True
