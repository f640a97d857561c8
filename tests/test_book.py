"""The book's structure: chapters paired with their .ipynb, Colab cells, the ToC, the config.

These checks are static (no kernel); the chapters themselves run as nbval tests
(see the root ``conftest.py``).
"""

from __future__ import annotations

import ast
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
    assert "remove-cell" in cell.metadata.get("tags", []), \
        "the Colab cell is tagged remove-cell (kept in the notebook, not shown on the page)"
    assert "raise SystemExit" in src and "make repo URL=" in src, \
        "a failed install stops the notebook with one line naming the URL and how a fork sets its own"
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


def test_code_font_lets_80_columns_fit():
    """The stylesheet that sizes code so that CODE_WIDTH characters fit (tests/browser checks it)."""
    sphinx = CONFIG["sphinx"]["config"]
    css = sphinx.get("html_css_files", [])
    assert "lrbook.css" in css, "_config.yml must list lrbook.css in html_css_files"
    found = [ROOT / s / "lrbook.css" for s in sphinx["html_static_path"] if (ROOT / s / "lrbook.css").is_file()]
    assert found, "lrbook.css is not in a static path"
    assert re.search(r"div\.highlight pre\s*\{[^}]*font-size", found[0].read_text()), found[0]


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


# Phrases of a development log: a reader page states results computed when it
# runs, never the history of a build, the machine it ran on or an issue tracker.
DEV_LOG = re.compile(
    r"scales and measurements|wall[- ]time|load of|under (a|heavy) load|\b\d+-core\b|"
    r"\bcores?\b|the issue|issue #?\d|loaded machine|on (this|the project's|our) machine|"
    r"\bmeasured on\b|\bminutes? on a\b", re.IGNORECASE)


def prose(page: Path) -> str:
    """The markdown of a page outside code cells and the front matter."""
    text = page.read_text(encoding="utf-8")
    if text.startswith("---"):
        text = text[text.find("\n---", 3) + 4:]
    return re.sub(r"```\{code-cell\}.*?\n```", "", text, flags=re.DOTALL)


def _reader_pages() -> list[Path]:
    return sorted(BOOK.glob("*.md"))


@pytest.mark.parametrize("page", _reader_pages(), ids=lambda p: p.name)
def test_no_development_log_on_reader_pages(page: Path):
    text = prose(page)
    if page.name == "reproducibility.md":
        # the page about rebuilding may talk about run times, computed from the cache
        text = re.sub(r"(?i)\bcores?\b", "", text)
    hits = [m.group(0) for m in DEV_LOG.finditer(text)]
    assert not hits, f"{page.name}: development-log phrases on a reader page: {hits}"


def test_dev_log_pattern_catches_what_it_should():
    bad = ["Scales and measurements", "Wall time (2-core machine)", "under a load of 6",
           "the issue's threshold", "on the project's machine", "4 cores"]
    for phrase in bad:
        assert DEV_LOG.search(phrase), phrase
    assert not DEV_LOG.search("the loss falls below 5% of L0 at every scale")


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.name)
def test_chapter_ends_with_its_checks_table(page: Path):
    """Every numbered chapter records its claims as named checks and shows them last."""
    text = page.read_text(encoding="utf-8")
    assert "Checks(" in text, f"{page.name} records no named checks (lrbook.checks.Checks)"
    heads = re.findall(r"^## (.+)$", prose(page), flags=re.MULTILINE)
    assert heads and heads[-1].strip() == "What this chapter checked", (
        f"{page.name}: the last section must be 'What this chapter checked'; got {heads[-1:]}")
    code = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)\n```", text, flags=re.DOTALL)
    assert code and code[-1].strip().splitlines()[-1].strip().endswith(".table()"), (
        f"{page.name}: the last code cell must end with the checks table (ck.table())")


def _glue_keys(page: Path) -> tuple[list[re.Pattern], set[str]]:
    """The keys a page glues (f-string keys as patterns) and the keys its prose uses."""
    text = page.read_text(encoding="utf-8")
    defined = []
    for fstr, key in re.findall(r"glue\(\s*(f?)[\"']([^\"']+)[\"']", text):
        parts = re.split(r"\{[^}]*\}", key) if fstr else [key]
        defined.append(re.compile(".+".join(re.escape(p) for p in parts) + "$"))
    used = {k.split(":")[0] for k in re.findall(r"\{glue:?\w*\}`([^`]+)`", prose(page))}
    return defined, used


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.name)
def test_prose_numbers_are_glued(page: Path):
    """Chapters show at least three computed values in the prose, each glued by the chapter."""
    defined, used = _glue_keys(page)
    missing = sorted(k for k in used if not any(p.match(k) for p in defined))
    assert not missing, f"{page.name}: glue keys used in the prose but never glued: {missing}"
    assert len(used) >= 3, f"{page.name}: only {len(used)} glued values in the prose"


def test_paper_map_rows_link_chapters_and_existing_checks():
    """Every row of 'The paper in this book' names a chapter label and a check that chapter runs."""
    text = (BOOK / "paper_map.md").read_text(encoding="utf-8")
    rows = [r for r in text.splitlines() if r.startswith("| ") and "{ref}`ch-" in r]
    assert len(rows) >= 12, f"only {len(rows)} rows in the paper map"
    pages = {}
    for page in chapters():
        m = re.search(r"^\((ch-[a-z0-9-]+)\)=", page.read_text(encoding="utf-8"), re.M)
        if m:
            pages[m.group(1)] = page.read_text(encoding="utf-8")
    for row in rows:
        label = re.search(r"\{ref\}`(ch-[a-z0-9-]+)`", row).group(1)
        assert label in pages, f"paper map links {label}, which no chapter defines"
        check = re.findall(r"`([a-z0-9-]+)`\s*\|\s*$", row)
        assert check, f"paper map row has no check name: {row}"
        assert re.search(r"ck\.(check|that)\(\s*f?[\"']" + re.escape(check[0]) + r"[\"']",
                         pages[label]), f"{label} runs no check named {check[0]!r}"


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.name)
def test_chapter_has_learning_goals_notation_link_and_exercises(page: Path):
    text = page.read_text(encoding="utf-8")
    assert "**You will learn**" in text and "**You need**" in text, \
        f"{page.name}: no learning-goals block (You will learn / You need)"
    assert "{ref}`notation table <notation>`" in text, f"{page.name}: does not link the notation table"
    exercises = re.findall(r"^`{3,4}\{exercise\}", text, flags=re.M)
    solutions = re.findall(r"^`{3,4}\{solution(?:-start)?\}", text, flags=re.M)
    assert len(exercises) >= 2, f"{page.name}: {len(exercises)} exercises"
    assert len(solutions) >= len(exercises), f"{page.name}: an exercise without a solution"
    for block in re.findall(r"^`{3,4}\{solution(?:-start)?\}[^\n]*\n((?::[^\n]*\n)*)", text, flags=re.M):
        assert ":class: dropdown" in block, f"{page.name}: a solution is not hidden in a dropdown"
    labels = re.findall(r"^:label: (\S+)", text, flags=re.M)
    assert len(labels) == len(set(labels)), f"{page.name}: repeated exercise labels"


def test_copyright_year_comes_from_the_build_date():
    """Sphinx replaces the final year of the copyright with SOURCE_DATE_EPOCH's, which make book sets."""
    assert re.fullmatch(r"\d{4}-\d{4}, .+", CONFIG["copyright"]), CONFIG["copyright"]
    assert 'SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$(date +%s)}"' in (ROOT / "Makefile").read_text()


# ---------------------------------------------------------------- the page as a reader sees it

CODE_WIDTH = 80   # characters of a code line that fit the page's column (and a phone's)


def code_cells(page: Path) -> list[tuple[int, object]]:
    """(index among the page's cells, cell) of every code cell, as jupytext reads the page."""
    return [(i, c) for i, c in enumerate(jupytext.read(page).cells) if c.cell_type == "code"]


def _python(source: str) -> str:
    """A cell's source without IPython magics and shell escapes (they do not parse)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.name)
def test_code_fits_the_column(page: Path):
    """No code line is wider than the column: the page never scrolls code sideways."""
    long = [f"cell {i}, line {n}: ({len(line)}) {line}"
            for i, cell in code_cells(page)
            for n, line in enumerate(cell.source.splitlines(), start=1)
            if len(line) > CODE_WIDTH]
    assert not long, (f"{page.name}: {len(long)} code line(s) over {CODE_WIDTH} characters:\n"
                      + "\n".join(long))


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*?)\s*$")


def literal_code_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(first line number, language, lines) of the fenced code blocks of a page.

    MyST directives (```` ```{name} ````, e.g. code cells, exercises) are not code
    blocks; the code blocks nested in them are.
    """
    out, directives, block = [], [], None
    for n, line in enumerate(text.splitlines(), start=1):
        m = _FENCE.match(line)
        if block is not None:
            fence = block[1]
            if m and not m.group(2) and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                out.append((block[0], block[2], block[3]))
                block = None
            else:
                block[3].append(line)
            continue
        if not m:
            continue
        fence, info = m.groups()
        if not info and directives and fence[0] == directives[-1][0] and len(fence) >= len(directives[-1]):
            directives.pop()
        elif info.startswith("{"):
            directives.append(fence)
        else:
            block = [n + 1, fence, info, []]
    return out


def test_literal_code_block_parser():
    text = ("````{exercise}\n:label: x\n\n```python\nx = 1\n```\n````\n\n"
            "```{code-cell} ipython3\ny = 2\n```\n\n```\nplain\n```\n")
    assert literal_code_blocks(text) == [(5, "python", ["x = 1"]), (14, "", ["plain"])]


@pytest.mark.parametrize("page", sorted(BOOK.glob("*.md")), ids=lambda p: p.name)
def test_code_blocks_fit_the_column(page: Path):
    """The code shown but not run (```` ```python ```` blocks) fits the column too."""
    long = [f"line {start + k}: ({len(line)}) {line}"
            for start, _, lines in literal_code_blocks(page.read_text(encoding="utf-8"))
            for k, line in enumerate(lines) if len(line) > CODE_WIDTH]
    assert not long, (f"{page.name}: code line(s) over {CODE_WIDTH} characters:\n"
                      + "\n".join(long))


HIDDEN = {"hide-input", "hide-cell"}


def _is_setup(source: str) -> bool:
    """A setup cell opens with imports."""
    tree = ast.parse(_python(source))
    return bool(tree.body) and isinstance(tree.body[0], (ast.Import, ast.ImportFrom))


def _shows_results(source: str) -> bool:
    """The cell prints, displays, or ends with a Table: results the reader should see."""
    tree = ast.parse(_python(source))
    calls = {n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    last = tree.body[-1] if tree.body else None
    shown = (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
             and isinstance(last.value.func, ast.Name) and last.value.func.id == "Table")
    return shown or bool(calls & {"print", "display"})


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.name)
def test_setup_cell_is_collapsed(page: Path):
    """The cell after the install cell sets the page up (imports, scale): collapsed, not removed.

    Every chapter has one; another page has one when the cell opens with imports. The
    reader opens it with the page's "show" toggle. When it shows a result (a table of
    the networks, the scale), only its code is collapsed (``hide-input``): ``hide-cell``
    would hide the result too.
    """
    cells = code_cells(page)
    assert len(cells) >= 2 or page not in chapters(), f"{page.name}: no cell after the install cell"
    if len(cells) < 2:
        return
    _, cell = cells[1]
    setup = _is_setup(cell.source)
    if page in chapters():
        assert setup, f"{page.name}: the first cell after the install cell must set the chapter up"
        assert "Checks(" in cell.source and re.search(r"\b(by_scale|get_scale)\(", cell.source), (
            f"{page.name}: the setup cell makes the chapter's checks and reads its scale")
    if not setup:
        return
    tags = set(cell.metadata.get("tags", []))
    assert tags & HIDDEN, f"{page.name}: tag the setup cell hide-input or hide-cell (tags: {sorted(tags)})"
    assert "remove-cell" not in tags and "remove-input" not in tags, \
        f"{page.name}: the setup cell is collapsed, not removed: the reader can open it"
    if _shows_results(cell.source):
        assert "hide-input" in tags, \
            f"{page.name}: the setup cell shows a result; hide-cell would hide it too: use hide-input"
    # the cells that carry the idea stay open: no other cell is collapsed whole
    others = [i for i, c in cells[2:] if "hide-cell" in c.metadata.get("tags", [])]
    assert not others, f"{page.name}: cells {others} are collapsed whole (hide-cell)"


_ALIGNED = re.compile(r"\{[^{}]*:[^{}]*[<>^]\d+[^{}]*\}|\.(ljust|rjust|center)\(|[\"']\\n[\"']\.join\(")


def tabular_prints(source: str) -> list[str]:
    """Lines of a code cell that print results as text columns instead of a Table.

    Flags a ``print`` inside a ``for`` or ``while`` loop or a comprehension (one line
    per row), and a ``print`` that aligns columns itself (``{x:>8}``, ``.ljust()``) or
    joins lines (``"\\n".join``). A ``print`` of one fact on one line passes.
    """
    tree = ast.parse(_python(source))
    lines = _python(source).splitlines()
    hits: dict[int, str] = {}
    loops = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
             ast.GeneratorExp)

    def is_print(node) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "print")

    for loop in ast.walk(tree):
        if isinstance(loop, loops):
            for node in ast.walk(loop):
                if is_print(node):
                    hits[node.lineno] = "print in a loop"
    for node in ast.walk(tree):
        if is_print(node):
            text = "\n".join(lines[node.lineno - 1:node.end_lineno])
            if _ALIGNED.search(text):
                hits.setdefault(node.lineno, "print of aligned columns")
    return [f"line {n} ({why}): {lines[n - 1].strip()}" for n, why in sorted(hits.items())]


def test_tabular_print_detector():
    flagged = [
        "for g in gs:\n    print(f'g = {g}: loss {loss[g]:.3f}')",
        "while k < 3:\n    print(k, x[k])\n    k += 1",
        "[print(k, v) for k, v in d.items()]",
        "print(f'{key:>22}: {value}')",
        "print(name.ljust(10), value)",
        "print('\\n'.join(f'{a} {b}' for a, b in rows))",
    ]
    for src in flagged:
        assert tabular_prints(src), src
    fine = [
        "print(f'lrbook {v}, scale {s!r}: N = {N}')",
        "print(f'{len(emb)} vectors; {x:.3f} and {frac:.0%}')",
        "for g in gs:\n    ck.check(f'loss-{g}', 'claim', x, lt=1)\nprint('one fact')",
        "print(model)",
        "%matplotlib inline\nprint(f'{n:,} parameters')",
    ]
    for src in fine:
        assert not tabular_prints(src), src


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.name)
def test_results_are_tables_not_printed_columns(page: Path):
    """Tabular results are shown with lrbook.checks.Table (HTML, headers); print is for one line."""
    hits = [f"cell {i}, {hit}" for i, cell in code_cells(page) for hit in tabular_prints(cell.source)]
    assert not hits, (f"{page.name}: print a table with lrbook.checks.Table instead:\n"
                      + "\n".join(hits))
