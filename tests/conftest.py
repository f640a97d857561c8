"""Fixtures shared by several test modules."""

from __future__ import annotations

import importlib.util

import pytest
from helpers.dist import build_dists


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> dict:
    """The sdist and wheel of this checkout, built once per session (``python -m build``)."""
    if importlib.util.find_spec("build") is None:
        pytest.fail("the `build` package is missing: `pip install build` (the Makefile's toolchain installs it)")
    return build_dists(tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist"))
