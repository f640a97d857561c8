"""Packaging: ``python -m build`` makes an sdist and a wheel that hold the whole package.

The build runs on a copy of the source tree (what a clean checkout has: ``pyproject.toml``,
``README.md``, the licence and ``lrbook/``) in PEP 517 isolation, exactly as a user's
``python -m build`` does. The wheel must hold every module, every subpackage and every
data file of ``lrbook/`` (the matplotlib style included) and nothing else. The slow test
installs it, with the Makefile's pinned torch, into a fresh virtual environment and runs
``lrbook --version`` and a forward pass there. Needs the ``build`` package (PyPI).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers.dist import clean_env, fresh_venv, subpackages

import lrbook

VERSION = lrbook.__version__
STYLE = "lrbook/plotting/lrbook.mplstyle"
ROOT = Path(__file__).resolve().parents[1]


def test_file_names_carry_the_version(dists):
    assert dists["wheel"].name == f"lrbook-{VERSION}-py3-none-any.whl"
    assert dists["sdist"].name == f"lrbook-{VERSION}.tar.gz"


def test_wheel_holds_the_package_and_nothing_else(dists):
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = set(zf.namelist())
        meta = zf.read(f"lrbook-{VERSION}.dist-info/METADATA").decode()
        entry_points = zf.read(f"lrbook-{VERSION}.dist-info/entry_points.txt").decode()
    in_package = {n for n in names if n.startswith("lrbook/")}
    dist_info = {n for n in names if n.startswith(f"lrbook-{VERSION}.dist-info/")}
    assert names == in_package | dist_info, f"files outside the package: {sorted(names - in_package - dist_info)}"
    assert not any(re.search(r"(^|/)(tests?|book|benchmarks)/|__pycache__|\.pyc$", n) for n in names)
    # every module, every subpackage, every data file (the style, lrbook/data/...) of the source
    files = dists["files"]
    assert {"lrbook/__init__.py", "lrbook/_version.py", "lrbook/cli.py", STYLE} <= files
    missing = files - in_package
    assert not missing, f"the wheel lacks {sorted(missing)}"
    assert STYLE in in_package
    data = {f for f in files if not f.endswith(".py")}
    assert STYLE in data and data <= in_package
    for sub in subpackages(files):
        assert f"{sub}/__init__.py" in in_package, sub
    assert {"lrbook/analysis", "lrbook/tasks", "lrbook/plotting", "lrbook/experiments"} <= subpackages(files)
    assert not in_package - files, f"the wheel has files the source lacks: {sorted(in_package - files)}"
    # metadata: the version from lrbook/_version.py, the dependencies, the command
    assert re.search(rf"^Version: {re.escape(VERSION)}$", meta, re.M)
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)", meta, re.M)
    assert {"torch", "numpy", "matplotlib"} <= set(requires), requires
    assert re.search(r"^lrbook\s*=\s*lrbook\.cli:main$", entry_points, re.M), entry_points


def test_sdist_holds_the_sources(dists):
    top = f"lrbook-{VERSION}/"
    with tarfile.open(dists["sdist"]) as tf:
        names = {n[len(top):] for n in tf.getnames() if n.startswith(top)}
    for name in ("pyproject.toml", "README.md", "LICENSE", "PKG-INFO"):
        assert name in names, name
    missing = dists["files"] - names
    assert not missing, f"the sdist lacks {sorted(missing)}"
    assert not any(n.startswith(("tests/", "book/", "_build/", ".venv/")) for n in names)


SMOKE = r"""
import importlib.metadata, json, sys
from pathlib import Path
import numpy as np
import lrbook
from lrbook import FlipFlop, analyse, model_for
from lrbook.plotting.style import style_path, use_style

assert Path(lrbook.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), lrbook.__file__
use_style()
task = FlipFlop()
net = model_for(task, N=16, g=[0.0, 0.9], seeds=0)
u, target, mask = task.batch(4, rng=0)
z = net.forward(u).detach().numpy()
assert z.shape == (2, 4, task.n_steps, task.n_out) and np.isfinite(z).all()
rng = np.random.default_rng(0)
W0 = rng.standard_normal((20, 20)) / 20
rep = analyse(W0, W0 + np.outer(rng.standard_normal(20), rng.standard_normal(20)) / 20)
assert rep.singular_values[1] < 1e-12 < rep.singular_values[0]
print(json.dumps({"version": lrbook.__version__, "dist": importlib.metadata.version("lrbook"),
                  "style": str(style_path()), "style_exists": Path(style_path()).is_file(),
                  "file": lrbook.__file__}))
"""


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv(dists, tmp_path):
    """~1-3 min: a venv without the system's packages, then torch (pinned) and the wheel."""
    venv = tmp_path / "venv"
    try:
        env = clean_env(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
        py = fresh_venv(venv, [str(dists["wheel"])], env)
        # run outside the repository, so that only the installed copy can be imported
        version = subprocess.run([str(venv / "bin" / "lrbook"), "--version"], capture_output=True, text=True,
                                 env=env, cwd=tmp_path, timeout=300)
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == f"lrbook {VERSION}"
        smoke = subprocess.run([str(py), "-c", SMOKE], capture_output=True, text=True, env=env, cwd=tmp_path,
                               timeout=600)
        assert smoke.returncode == 0, smoke.stderr[-3000:]
        info = json.loads(smoke.stdout.strip().splitlines()[-1])
        assert info["version"] == info["dist"] == VERSION
        assert info["style_exists"] and Path(info["style"]).name == "lrbook.mplstyle"
        assert str(ROOT) not in info["file"], info["file"]
    finally:
        shutil.rmtree(venv, ignore_errors=True)       # ~1 GB of torch
