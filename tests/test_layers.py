"""The package's layers: each imports only the layers below it.

``tasks``, ``models``, ``engine``, ``training`` (the core) <- ``analysis``, ``theory``,
``dynamics`` <- ``experiments`` <- ``plotting``, ``cli``. ``seeding`` (the random streams,
numpy only), ``config``, ``checks`` and the private helpers sit below everything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lrbook"

#: rank of each top-level part; a module may import parts of lower or equal rank only.
RANK = {
    "_validate": 0, "_version": 0, "_memory": 0, "_threads": 0, "seeding": 0, "config": 0, "checks": 0,
    "tasks": 1, "engine": 1, "models": 1, "training": 1, "factors": 1,
    "analysis": 2, "theory": 2, "dynamics": 2,
    "experiments": 3, "nlp": 3, "beyond": 3,
    "plotting": 4, "cli": 4, "cli_dynamics": 4, "cli_sweep": 4,
}


def _part(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Top-level lrbook parts imported by a module (absolute or relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PKG).parts) - 1          # folders below lrbook/
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("lrbook."):
                out.add(node.module.split(".")[1])
            elif node.level > 0:
                up = node.level - 1                          # how many folders up
                if up == depth:                              # from the package root
                    if node.module:
                        out.add(node.module.split(".")[0])
                    else:
                        out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("lrbook."))
    return out


#: Deliberate exceptions: a method that draws a result (``Report.plot``) imports plotting
#: lazily, inside the method, so that importing the analysis layer never loads it.
LAZY_UPWARD = {"analysis/report.py": {"plotting"}}

MODULES = sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py" or p.parent != PKG)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_module_imports_only_lower_layers(path):
    part = _part(path)
    assert part in RANK, f"lrbook/{part} has no layer: add it to RANK"
    allowed = LAZY_UPWARD.get(str(path.relative_to(PKG)), set())
    higher = sorted(p for p in _imports(path) - allowed if p != part and RANK.get(p, 0) > RANK[part])
    assert not higher, f"{path.relative_to(PKG)} (layer {RANK[part]}) imports higher layers: {higher}"


@pytest.mark.parametrize("module", ["lrbook", "lrbook.engine", "lrbook.models", "lrbook.tasks",
                                    "lrbook.training"])
def test_core_imports_load_no_experiments_plotting_or_matplotlib(module):
    code = (f"import sys, {module}; "
            "bad = [m for m in sys.modules if m.startswith(('lrbook.experiments', 'lrbook.plotting', "
            "'matplotlib', 'lrbook.analysis', 'distributed'))]; print(bad); assert not bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("imports", ["lrbook.engine, lrbook.models, lrbook.tasks", "lrbook"])
def test_the_core_together_loads_no_experiments_plotting_or_matplotlib(imports):
    code = (f"import sys, {imports}; "
            "bad = sorted(m for m in sys.modules if m.startswith(('lrbook.experiments', 'lrbook.plotting', "
            "'matplotlib'))); print(bad); assert not bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_seeding_is_the_bottom_layer_and_numpy_only():
    assert _imports(PKG / "seeding.py") == set()
    code = "import sys, lrbook.seeding; assert 'torch' not in sys.modules, sorted(sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    from lrbook import models, seeding
    assert models.rng_for is seeding.rng_for and models.STREAM_DATA == seeding.STREAM_DATA


def test_import_lrbook_is_light_and_names_resolve_lazily():
    code = ("import sys, lrbook; assert 'torch' not in sys.modules, 'import lrbook loaded torch'; "
            "assert lrbook.train.__module__ == 'lrbook.training'; "
            "assert lrbook.ResultCache.__module__ == 'lrbook.experiments.cache'; "
            "assert set(lrbook.__all__) <= set(dir(lrbook))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_layer_check_sees_relative_imports(tmp_path):
    assert "experiments" in _imports(PKG / "cli_sweep.py")
    assert "engine" in _imports(PKG / "models.py")
