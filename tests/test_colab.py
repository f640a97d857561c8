"""Every chapter's paired ``.ipynb`` runs the way Colab runs it, against the built wheel.

The "runtime" is a fresh virtual environment holding only what a Colab runtime brings and the
book does not install itself: Python, the pinned torch, and a Jupyter kernel (``ipykernel``,
executed by ``nbclient``). lrbook is *not* installed in it. A kernel startup file registers a
``google.colab`` module, as Colab's own kernel does, so the chapter's first cell takes its Colab
branch and ``pip install``-s lrbook itself; the one change to the notebook is the requirement that
cell installs: the wheel built from this checkout instead of the ``git+`` URL of ``_config.yml``
(which needs the network and would test ``main``, not this change). Each notebook then runs top
to bottom in a fresh kernel, at ``LRBOOK_SCALE=ci``, in an empty working folder (Colab's
``/content``) and with its own empty result cache. A last cell, added by the test, reports where
``lrbook`` was imported from.

This checks what nbval over the ``.md`` chapters cannot: that the committed ``.ipynb`` files
(the ones Colab opens) run, that the install cell works, that the wheel's declared dependencies
are enough for every chapter, and that no chapter reads a file of the repository.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from helpers.dist import ROOT, clean_env, fresh_venv

import lrbook

BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
COLAB_URL = f"git+{CONFIG['repository']['url']}@{CONFIG['repository']['branch']}"

# What Colab's kernel has loaded before the first cell runs.
COLAB_STARTUP = """\
import sys, types
sys.modules.setdefault("google", types.ModuleType("google"))
sys.modules["google.colab"] = types.ModuleType("google.colab")
"""

REPORT_CELL = """\
import importlib.metadata, json, sys
import lrbook
from lrbook.config import get_scale
print("LRBOOK-COLAB-REPORT " + json.dumps({
    "colab": "google.colab" in sys.modules, "executable": sys.executable, "prefix": sys.prefix,
    "file": lrbook.__file__, "version": lrbook.__version__, "dist": importlib.metadata.version("lrbook"),
    "scale": get_scale()}))
"""

# Runs inside the venv: its kernel spec resolves to the venv's python.
DRIVER = textwrap.dedent('''\
    import sys
    import nbformat
    from nbclient import NotebookClient

    src, dst, workdir, url, wheel, report = sys.argv[1:7]
    nb = nbformat.read(src, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    if first.source.count(url) != 1:
        sys.exit(f"the first code cell of {src} does not install {url}")
    first.source = first.source.replace(url, wheel)
    nb.cells.append(nbformat.v4.new_code_cell(open(report).read()))
    client = NotebookClient(nb, kernel_name="python3", timeout=1800, allow_errors=False,
                            resources={"metadata": {"path": workdir}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, dst)
''')


@pytest.fixture(scope="module")
def runtime(dists, tmp_path_factory) -> dict:
    """A Colab-like runtime: fresh venv (torch + Jupyter kernel, no lrbook) and a startup file."""
    root = tmp_path_factory.mktemp("colab")
    kernel = [f"{name}=={importlib.metadata.version(name)}" for name in ("ipykernel", "nbclient", "nbformat")]
    env = clean_env()
    py = fresh_venv(root / "venv", kernel, env)
    probe = subprocess.run([str(py), "-c", "import lrbook"], capture_output=True, text=True, env=env, cwd=root)
    assert probe.returncode != 0 and "No module named 'lrbook'" in probe.stderr, "lrbook must not be preinstalled"
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(COLAB_STARTUP)
    (root / "driver.py").write_text(DRIVER)
    (root / "report.py").write_text(REPORT_CELL)
    env.update(IPYTHONDIR=str(root / "ipython"), JUPYTER_DATA_DIR=str(root / "jupyter-data"),
               JUPYTER_CONFIG_DIR=str(root / "jupyter-config"), LRBOOK_SCALE="ci")
    yield {"root": root, "python": py, "env": env, "wheel": dists["wheel"]}
    shutil.rmtree(root / "venv", ignore_errors=True)       # ~1 GB of torch


def test_every_chapter_has_a_paired_notebook():
    chapters = sorted(BOOK.glob("[0-9][0-9]_*.md"))
    assert chapters and {p.with_suffix(".ipynb") for p in chapters} <= set(NOTEBOOKS)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_like_colab(runtime, notebook: Path):
    work = runtime["root"] / notebook.stem
    content, cache = work / "content", work / "cache"
    content.mkdir(parents=True)
    executed = work / notebook.name
    env = {**runtime["env"], "LRBOOK_CACHE": str(cache)}
    cmd = [str(runtime["python"]), str(runtime["root"] / "driver.py"), str(notebook), str(executed),
           str(content), COLAB_URL, str(runtime["wheel"]), str(runtime["root"] / "report.py")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=content, timeout=3600)
    assert proc.returncode == 0, f"{notebook.name} failed as a Colab notebook:\n{proc.stderr[-6000:]}"

    stdout = ["".join(out["text"]) for cell in json.loads(executed.read_text())["cells"]
              for out in cell.get("outputs", []) if out.get("name") == "stdout"]
    lines = [line for text in stdout for line in text.splitlines()]
    reports = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("LRBOOK-COLAB-REPORT ")]
    assert len(reports) == 1, lines[-20:]
    info = reports[0]
    venv = (runtime["root"] / "venv").resolve()
    assert info["colab"], "the kernel did not look like Colab's"
    assert Path(info["prefix"]).resolve() == venv, info
    assert Path(info["file"]).resolve().is_relative_to(venv), f"lrbook imported from {info['file']}, not the wheel"
    assert str(ROOT) not in info["file"]
    assert info["version"] == info["dist"] == lrbook.__version__
    assert info["scale"] == "ci"
    # results were written atomically: no half-written file is left in the chapter's cache
    assert not any(p.suffix == ".tmp" for p in cache.rglob("*")), "temporary cache files left behind"

