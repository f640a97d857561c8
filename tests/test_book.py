"""The book's structure: chapters paired with their .ipynb, Colab cells, the ToC, the config.

These checks are static (no kernel); the chapters themselves run as nbval tests
(see the root ``conftest.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def _front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    return yaml.safe_load(text[3:end]) or {}


def notebook_pages() -> list[Path]:
    """``book/*.md`` files with a jupytext header (the executable pages)."""
    return sorted(p for p in BOOK.glob("*.md")
                  if {"jupytext", "kernelspec"} <= set(_front_matter(p)))


def chapters() -> list[Path]:
    """Numbered chapters, ``book/NN_name.md``."""
    return sorted(BOOK.glob("[0-9][0-9]_*.md"))


def toc_files(node=TOC) -> list[str]:
    """Every ``file:`` entry of _toc.yml (and the root), in order."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("root", "file") and isinstance(value, str):
                out.append(value)
            else:
                out.extend(toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(toc_files(item))
    return out


def colab_url() -> str:
    repo = CONFIG["repository"]
    return f"git+{repo['url']}@{repo['branch']}"


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_chapters():
    assert chapters(), "book/ has no numbered chapter"
    assert set(chapters()) <= set(notebook_pages()), "every numbered chapter is a notebook"


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.name)
def test_paired_ipynb_in_sync(page: Path):
    ipynb = page.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `jupytext --sync book/{page.name}`"
    md_nb = jupytext.read(page)
    ip_nb = jupytext.read(ipynb)
    assert _cells(md_nb) == _cells(ip_nb), (
        f"{page.name} and {ipynb.name} differ: run `jupytext --sync book/{page.name}`")
    formats = md_nb.metadata.get("jupytext", {}).get("formats", "")
    assert set(formats.split(",")) == {"ipynb", "md:myst"}, formats
    assert md_nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.name)
def test_ipynb_has_no_outputs(page: Path):
    ipynb = page.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `jupytext --sync book/{page.name}`"
    nb = jupytext.read(ipynb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{page.stem}.ipynb cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"{page.stem}.ipynb cell {i} was executed"


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.name)
def test_colab_install_cell_first(page: Path):
    nb = jupytext.read(page)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{page.name} has no code cell"
    cell = code[0]
    src = cell.source
    assert src.startswith("# NBVAL_SKIP"), "the Colab cell must be skipped by nbval"
    assert "hide-output" in cell.metadata.get("tags", []), "the Colab cell is tagged hide-output"
    assert 'if "google.colab" in sys.modules:' in src, "installs only on Colab"
    urls = re.findall(r"git\+https?://[^\s\"']+", src)
    assert urls == [colab_url()], (
        f"{page.name} installs {urls}; _config.yml's repository says {colab_url()}")
    # nothing but the install cell runs pip
    for other in code[1:]:
        assert "pip" not in other.source, f"{page.name}: only the first cell may install"


def test_one_install_cell_for_the_whole_book():
    """Every page installs lrbook with the same cell (tests/test_colab.py runs it)."""
    cells = {p.name: next(c for c in jupytext.read(p).cells if c.cell_type == "code").source
             for p in notebook_pages()}
    variants = sorted(set(cells.values()))
    assert len(variants) == 1, "install cells differ:\n" + "\n".join(
        f"{name}:\n{src}" for name, src in sorted(cells.items()) if src != cells[notebook_pages()[0].name])


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.name)
def test_chapter_reads_the_scale(page: Path):
    text = page.read_text()
    assert "by_scale(" in text or "get_scale(" in text, \
        f"{page.name} must size its work with lrbook.config.by_scale (or get_scale)"
    assert "os.environ" not in text, f"{page.name}: read the scale through lrbook.config, not os.environ"


def test_toc_lists_every_page_and_every_listed_file_exists():
    listed = toc_files()
    assert TOC["format"] == "jb-book"
    assert len(listed) == len(set(listed)), "a page is listed twice"
    for entry in listed:
        candidates = [ROOT / entry] + [ROOT / f"{entry}{s}" for s in (".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry}, which does not exist"
    listed_md = {str(Path(e).with_suffix("")) for e in listed}
    for page in sorted(BOOK.glob("*.md")):
        assert f"book/{page.stem}" in listed_md, f"book/{page.name} is not in _toc.yml"


def test_toc_parts_are_numbered_in_order():
    numbered = [p for p in TOC["parts"] if p.get("numbered")]
    assert numbered and numbered[0]["caption"] == "Nonlinear RNNs"
    files = [c["file"] for p in numbered for c in p["chapters"]]
    numbers = [int(Path(f).name[:2]) for f in files]
    assert numbers == sorted(numbers), "chapters listed out of order"
    assert files == [f"book/{p.stem}" for p in chapters()], "every numbered chapter in the numbered parts"


def test_config_fails_on_errors_and_excludes_copies():
    sphinx = CONFIG["sphinx"]["config"]
    assert sphinx["nb_execution_raise_on_error"] is True
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    excluded = CONFIG["exclude_patterns"]
    for pattern in ("book/*.ipynb", "_build", ".venv", "README.md", "benchmarks"):
        assert pattern in excluded, pattern
    assert "-W --keep-going" in (ROOT / "Makefile").read_text()


def test_config_assets_exist():
    for bib in CONFIG["bibtex_bibfiles"]:
        assert (ROOT / bib).is_file(), bib
    static = CONFIG["sphinx"]["config"]["html_static_path"]
    assert all(Path(s).name != "_static" for s in static), "jupyter-book injects every .js of _static"
    assert all((ROOT / s).is_dir() for s in static), static
    assert not CONFIG["sphinx"]["config"]["mathjax_path"].startswith("http"), "MathJax is served offline"


def test_repository_url_in_one_place():
    url = CONFIG["repository"]["url"]
    assert url.startswith("https://")
    hits = []
    for path in [ROOT / "README.md", ROOT / "pyproject.toml", *BOOK.glob("*.md"),
                 *(ROOT / "lrbook").rglob("*.py")]:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if url in line and colab_url() not in line:
                hits.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not hits, "the repository URL belongs in _config.yml only:\n" + "\n".join(hits)


def test_citations_resolve():
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,\s]+),", bib))
    assert len(keys) == len(re.findall(r"@\w+\{", bib)), "duplicate bibtex keys"
    for page in BOOK.glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
            for key in group.split(","):
                assert key.strip() in keys, f"{page.name} cites unknown key {key.strip()!r}"


def test_glossary_terms_resolve():
    text = (BOOK / "glossary.md").read_text()
    block = text[text.index("```{glossary}"):]
    terms = {line.strip().lower() for line in block.splitlines()[1:]
             if line and not line.startswith((" ", "```"))}
    for page in BOOK.glob("*.md"):
        for ref in re.findall(r"\{term\}`([^`]+)`", page.read_text()):
            m = re.match(r".*<(.+)>$", ref)
            term = (m.group(1) if m else ref).strip().lower()
            assert term in terms, f"{page.name} uses undefined glossary term {term!r}"
