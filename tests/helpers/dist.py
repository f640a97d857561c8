"""Shared by the packaging and Colab tests: build lrbook's wheel, make fresh virtual environments.

A fresh venv has none of the system's or the test runner's packages; it is driven with an
environment stripped of ``PYTHONPATH``/``VIRTUAL_ENV`` and the user site, so that only what is
``pip install``-ed into it can be imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lrbook"
TOP_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "LICENSE.txt")


def ignored(path: PurePosixPath) -> bool:
    """Files a clean checkout does not have: caches, editor/atomic-write temporaries."""
    return any(p == "__pycache__" or p.startswith(".") for p in path.parts) or path.suffix in (".pyc", ".tmp")


def package_files(root: Path = ROOT) -> set[str]:
    """Every file of ``root/lrbook/``, as ``lrbook/...`` posix paths."""
    out = set()
    for p in (root / "lrbook").rglob("*"):
        rel = PurePosixPath(p.relative_to(root).as_posix())
        if p.is_file() and not ignored(rel):
            out.add(str(rel))
    return out


def subpackages(files: set[str]) -> set[str]:
    return {str(PurePosixPath(f).parent) for f in files if f.endswith("/__init__.py")}


def pinned_torch() -> str:
    """The Makefile's torch requirement (``torch==X.Y.Z``): the one pin of the project."""
    m = re.search(r"^TORCH\s*:=\s*(torch==\S+)\s*$", (ROOT / "Makefile").read_text(), re.M)
    assert m, "Makefile has no `TORCH := torch==...` line"
    return m.group(1)


def build_dists(src: Path, out: Path) -> dict:
    """``python -m build`` on a copy of the clean-checkout files; returns wheel, sdist and file list.

    The expected contents are those of the copy that was built (other work may change the tree
    meanwhile).
    """
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "lrbook", ignore=lambda d, names: [n for n in names if ignored(PurePosixPath(n))])
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, f"python -m build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0], "files": package_files(src)}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would leak packages into a venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LRBOOK_SCALE", "LRBOOK_CACHE")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    env.update(extra)
    return env


def fresh_venv(path: Path, requirements: list[str], env: dict[str, str]) -> Path:
    """A new venv at ``path`` with ``requirements`` pip-installed (torch pinned first); its python."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    py = path / "bin" / "python"
    install = [str(py), "-m", "pip", "install", "--quiet", "--no-compile", pinned_torch(), *requirements]
    proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return py
