"""Packaging: ``python -m build`` makes an sdist and a wheel that hold the whole package.

The build runs on a copy of the source tree (what a clean checkout has: ``pyproject.toml``,
``README.md``, the licence and ``lrbook/``) in PEP 517 isolation, exactly as a user's
``python -m build`` does. The wheel must hold every module, every subpackage and every
data file of ``lrbook/`` (the matplotlib style included) and nothing else. The slow test
installs it, with the Makefile's pinned torch, into a fresh virtual environment and runs
``lrbook --version`` and a forward pass there. Needs the ``build`` package (PyPI).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

import lrbook

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lrbook"
VERSION = lrbook.__version__
TOP_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "LICENSE.txt")
STYLE = "lrbook/plotting/lrbook.mplstyle"


def _ignored(path: PurePosixPath) -> bool:
    """Files a clean checkout does not have: caches, editor/atomic-write temporaries."""
    return any(p == "__pycache__" or p.startswith(".") for p in path.parts) or path.suffix in (".pyc", ".tmp")


def package_files(root: Path = ROOT) -> set[str]:
    """Every file of ``root/lrbook/``, as ``lrbook/...`` posix paths."""
    out = set()
    for p in (root / "lrbook").rglob("*"):
        rel = PurePosixPath(p.relative_to(root).as_posix())
        if p.is_file() and not _ignored(rel):
            out.add(str(rel))
    return out


def subpackages(files: set[str]) -> set[str]:
    return {str(PurePosixPath(f).parent) for f in files if f.endswith("/__init__.py")}


def pinned_torch() -> str:
    """The Makefile's torch requirement (``torch==X.Y.Z``): the one pin of the project."""
    m = re.search(r"^TORCH\s*:=\s*(torch==\S+)\s*$", (ROOT / "Makefile").read_text(), re.M)
    assert m, "Makefile has no `TORCH := torch==...` line"
    return m.group(1)


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict:
    if importlib.util.find_spec("build") is None:
        pytest.fail("the `build` package is missing: `pip install build` (the Makefile's toolchain installs it)")
    src = tmp_path_factory.mktemp("src")
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "lrbook",
                    ignore=lambda d, names: [n for n in names if _ignored(PurePosixPath(n))])
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, f"python -m build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    # expected contents: the snapshot that was built (other work may change the tree meanwhile)
    return {"wheel": wheels[0], "sdist": sdists[0], "files": package_files(src)}


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
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        py = venv / "bin" / "python"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
        install = [str(py), "-m", "pip", "install", "--quiet", "--no-compile", pinned_torch(), str(dists["wheel"])]
        proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=1200)
        assert proc.returncode == 0, f"pip install failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
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
