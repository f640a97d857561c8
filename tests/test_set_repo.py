"""`make repo URL=...`: one command sets the repository URL everywhere it is written."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "set_repo.py"


def _module():
    spec = importlib.util.spec_from_file_location("set_repo", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def copy(tmp_path):
    for name in ("_config.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book",
                    ignore=shutil.ignore_patterns("_static_assets", ".ipynb_checkpoints"))
    return tmp_path


def test_make_repo_rewrites_config_cells_badge_and_pages_link(copy):
    mod = _module()
    old = mod.current_url(copy)
    o_owner, o_name = mod.parse(old)
    out = subprocess.run([sys.executable, str(SCRIPT), "https://github.com/Someone/fork",
                          "--root", str(copy)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert mod.current_url(copy) == "https://github.com/Someone/fork"
    for path in [copy / "README.md", copy / "_config.yml", *(copy / "book").glob("*")]:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert f"{o_owner}/{o_name}" not in text, path.name
            assert f"{o_owner}.github.io" not in text, path.name
    readme = (copy / "README.md").read_text()
    assert "https://someone.github.io/fork" in readme
    assert "colab.research.google.com/github/Someone/fork/blob/main/book/" in readme
    for md in sorted((copy / "book").glob("*.md")):
        nb = jupytext.read(md)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not code:
            continue
        urls = re.findall(r"git\+https?://[^\s\"']+", code[0].source)
        assert urls == ["git+https://github.com/Someone/fork@main"], md.name
        ipynb = jupytext.read(md.with_suffix(".ipynb"))
        assert [c.source for c in ipynb.cells] == [c.source for c in nb.cells], md.name


@pytest.mark.parametrize("url", ["http://github.com/a/b", "https://gitlab.com/a/b", "github.com/a/b",
                                 "https://github.com/a", "https://github.com/a/b.git", ""])
def test_make_repo_refuses_a_bad_url_and_changes_nothing(copy, url):
    before = (copy / "_config.yml").read_text()
    out = subprocess.run([sys.executable, str(SCRIPT), url, "--root", str(copy)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "OWNER/NAME" in out.stderr
    assert (copy / "_config.yml").read_text() == before


def test_make_repo_target_needs_a_url():
    out = subprocess.run(["make", "-s", "repo"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "usage: make repo URL=" in out.stderr
