"""The built book, as a reader's browser sees it (headless Chromium via Playwright).

Run after ``make book``: ``make browser-test`` (or ``pytest tests/browser``). The
default ``pytest`` run does not collect this folder (``norecursedirs``). Without
a built book or a Chromium, the tests skip — unless ``LRBOOK_BROWSER_REQUIRED=1``
(set by ``make browser-test`` and CI), when they fail instead.

For every page of ``_toc.yml``, in a desktop window (1280 px wide) and on a
phone (390 px): it loads over HTTP with no failed request, its math is typeset by
the bundled MathJax (SVG, no raw TeX left), every image has decoded pixels, a
notebook page shows one figure per figure cell of its source and no error or
stderr output, nothing is cut off at the window's edge (what is wider than the
window scrolls in a box of its own), and no page shows the Colab plumbing
(``google.colab``, ``NBVAL_SKIP``). In the desktop window no code block needs a
horizontal scroll bar. The "next" link opens the next page of the table of
contents. A full-page screenshot of each page goes to ``_build/screenshots/``
(``<page>.png``; ``<page>-390px.png`` on the phone).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
REQUIRED = os.environ.get("LRBOOK_BROWSER_REQUIRED", "") not in ("", "0")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def _unavailable(why: str):
    if REQUIRED:
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def toc_pages() -> list[str]:
    """Docnames of _toc.yml in reading order (root first)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    out = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                out.append(node["file"])
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [str(Path(p).with_suffix("")) for p in out]


PAGES = toc_pages()


def figure_cells(docname: str) -> int | None:
    """Number of code cells with figure metadata in a notebook page, None for plain pages."""
    src = ROOT / f"{docname}.md"
    text = src.read_text(encoding="utf-8") if src.exists() else ""
    if "kernelspec:" not in text.split("\n---", 1)[0]:
        return None
    return len(re.findall(r"^mystnb:\s*\n\s+figure:", text, flags=re.M))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        _unavailable(f"no built book in {HTML}: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (make browser-test installs it)")
    exe = os.environ.get("LRBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).exists():
        _unavailable(f"no Chromium at {exe}: apt-get install chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


#: Window widths: a desktop (the default of every test) and a phone.
DESKTOP, PHONE = 1280, 390
#: Pages whose code blocks may scroll sideways on the desktop: the API reference shows
#: docstrings, some with literal blocks wider than the book's code (a folder layout).
CODE_SCROLL_EXEMPT = {"book/api"}
#: Text of the Colab install cell that no page may show.
PLUMBING = ("google.colab", "NBVAL_SKIP", "Colab only: install lrbook", "make repo URL=")


@pytest.fixture()
def page(browser, site, request):
    width = getattr(request, "param", DESKTOP)
    if width == PHONE:
        context = browser.new_context(viewport={"width": PHONE, "height": 844},
                                      is_mobile=True, has_touch=True)
    else:
        context = browser.new_context(viewport={"width": width, "height": 900})
    p = context.new_page()
    p.width = width
    p.failed = []
    p.on("requestfailed", lambda r: p.failed.append(f"{r.url} ({r.failure})"))
    p.on("response", lambda r: r.status >= 400 and p.failed.append(f"{r.url} (HTTP {r.status})"))
    p.on("pageerror", lambda e: p.failed.append(f"page error: {e}"))
    yield p
    context.close()


TEXT_WITHOUT_CODE = """() => {
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, .highlight, mjx-container, script, style')
      .forEach(e => e.remove());
  return copy.textContent;
}"""

WAIT_FOR_MATHJAX = """async () => {
  if (!document.querySelector('.math')) return 'no math';
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  if (!(window.MathJax && MathJax.startup)) return 'MathJax did not load';
  await MathJax.startup.promise;
  return 'typeset';
}"""

# Visible elements of the article that reach past the window's edge, unless a box
# that scrolls sideways (overflow-x auto/scroll) and itself fits the window holds
# them: those the reader cannot see. Only the outermost of nested ones is listed.
CUT_OFF = """() => {
  const vw = document.documentElement.clientWidth;
  const root = document.querySelector('article.bd-article') || document.querySelector('main');
  const inScrollBox = el => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') {
        const r = a.getBoundingClientRect();
        return r.left >= -1 && r.right <= vw + 1;
      }
    }
    return false;
  };
  const out = new Set(), shown = [];
  for (const el of root.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    const s = getComputedStyle(el);
    if (s.visibility !== 'visible' || s.position === 'fixed') continue;
    // MathJax's clipped copy for screen readers; the inside of an SVG (the <svg> counts)
    if (el.closest('mjx-assistive-mml') || el.ownerSVGElement) continue;
    if ((r.right > vw + 1 || r.left < -1) && !inScrollBox(el)) {
      out.add(el);
      if (!out.has(el.parentElement))
        shown.push(`<${el.tagName.toLowerCase()} class="${el.getAttribute('class') || ''}"> ` +
                   `${Math.round(r.left)}..${Math.round(r.right)} px: ` +
                   el.textContent.trim().slice(0, 60));
    }
  }
  return {window: vw, page: document.scrollingElement.scrollWidth, cut: shown};
}"""

# Code blocks (cells, their outputs, literal blocks) shown on the page that need a
# horizontal scroll bar; collapsed ones are not rendered and have no box.
CODE_SCROLLS = """() => Array.from(document.querySelectorAll('main div.highlight pre'))
  .filter(pre => pre.getClientRects().length && pre.clientWidth > 0)
  .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
  .map(pre => ({width: pre.clientWidth, needs: pre.scrollWidth,
                line: pre.textContent.split('\\n')
                        .reduce((a, b) => (b.length > a.length ? b : a), '')}))"""

IMAGES = """() => Array.from(document.querySelectorAll('main img')).map(img => ({
  src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0 && img.naturalHeight > 0,
  w: img.naturalWidth, h: img.naturalHeight}))"""


@pytest.mark.parametrize("page", [DESKTOP, PHONE], ids=["1280px", "390px"], indirect=True)
@pytest.mark.parametrize("docname", PAGES)
def test_page_renders(page, site, docname):
    response = page.goto(f"{site}/{docname}.html", wait_until="load")
    assert response is not None and response.ok, f"{docname}: HTTP {response and response.status}"
    state = page.evaluate(WAIT_FOR_MATHJAX)
    assert state in ("typeset", "no math"), f"{docname}: {state}"
    page.wait_for_load_state("networkidle")

    title = page.locator("main h1").first.inner_text()
    assert title.strip(), f"{docname}: no title"

    # math: SVG output of the bundled MathJax, no raw TeX delimiters left in the prose
    if page.locator(".math").count():
        assert page.locator("mjx-container svg").count() >= page.locator(".math").count(), \
            f"{docname}: some math was not typeset"
        mathjax_src = page.evaluate(
            "() => Array.from(document.scripts).map(s => s.src).filter(s => /tex-svg/.test(s))")
        assert mathjax_src and all(s.startswith(site) for s in mathjax_src), \
            f"{docname}: MathJax must come from the site itself, got {mathjax_src}"
    visible = page.locator("body").inner_text()
    content = page.evaluate("() => (document.querySelector('main') || document.body).textContent")
    for plumbing in PLUMBING:
        assert plumbing not in visible, f"{docname}: the page shows {plumbing!r} (Colab plumbing)"
        assert plumbing not in content, f"{docname}: {plumbing!r} is on the page, collapsed"
    text = page.evaluate(TEXT_WITHOUT_CODE)
    for raw in ("$$", "\\(", "\\[", "\\begin{"):
        assert raw not in text, f"{docname}: raw TeX {raw!r} in the rendered page"

    # images decode; notebook pages show one figure per figure cell
    images = page.evaluate(IMAGES)
    bad = [i for i in images if not i["ok"]]
    assert not bad, f"{docname}: images without pixels: {bad}"
    n_fig = figure_cells(docname)
    if n_fig is not None:
        figures = page.locator("main figure").filter(has=page.locator("img"))
        assert figures.count() == n_fig, f"{docname}: {figures.count()} figures, source has {n_fig}"
        for k in range(n_fig):
            box = figures.nth(k).locator("img").first.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, f"{docname}: figure {k} is tiny"
            assert figures.nth(k).locator("figcaption").inner_text().strip(), \
                f"{docname}: figure {k} has no caption"
        # no error, traceback or stderr output cells
        assert page.locator(".output.error, .output.traceback, .output.stderr").count() == 0, \
            f"{docname}: error or stderr output"
        assert "Traceback (most recent call last)" not in page.content()
        # the Colab button opens this chapter's paired notebook
        colab = page.locator("a[href*='colab.research.google.com']")
        assert colab.count() >= 1, f"{docname}: no Colab launch button"
        href = colab.first.get_attribute("href")
        assert href.endswith(f"/{docname}.ipynb"), href

    # nothing is cut off at the window's edge, and the page does not scroll sideways
    layout = page.evaluate(CUT_OFF)
    assert not layout["cut"], (f"{docname} at {page.width} px: cut off at the window's edge:\n"
                               + "\n".join(layout["cut"][:10]))
    assert layout["page"] <= layout["window"] + 1, (
        f"{docname} at {page.width} px: the page is {layout['page']} px wide, "
        f"the window {layout['window']} px")
    # on the desktop, code fits its column: no horizontal scroll bar
    if page.width == DESKTOP and docname not in CODE_SCROLL_EXEMPT:
        wide = page.evaluate(CODE_SCROLLS)
        assert not wide, f"{docname}: code blocks that scroll sideways at {DESKTOP} px: {wide[:5]}"

    assert not page.failed, f"{docname}: failed requests: {page.failed}"
    footer = page.locator("footer.bd-footer-content").inner_text()
    assert f"-{time.gmtime().tm_year}" in footer, f"{docname}: the footer's year is not the build's: {footer!r}"

    SHOTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if page.width == DESKTOP else f"-{page.width}px"
    page.screenshot(path=str(SHOTS / f"{Path(docname).name}{suffix}.png"), full_page=True)


@pytest.mark.parametrize("docname, nxt", list(zip(PAGES[:-1], PAGES[1:])))
def test_next_link_opens_the_next_page(page, site, docname, nxt):
    page.goto(f"{site}/{docname}.html", wait_until="load")
    link = page.locator("a.right-next")
    assert link.count() == 1, f"{docname}: no 'next' link"
    link.click()
    page.wait_for_load_state("load")
    assert page.url.split("#")[0].endswith(f"/{nxt}.html"), f"{docname} -> {page.url}, expected {nxt}"
    assert page.locator("main h1").first.inner_text().strip()
    assert not page.failed, page.failed


def solution_count(docname: str) -> int:
    """Number of solutions (``solution`` or ``solution-start`` directives) in a page's source."""
    src = ROOT / f"{docname}.md"
    text = src.read_text(encoding="utf-8") if src.exists() else ""
    return len(re.findall(r"^`{3,4}\{solution(?:-start)?\}", text, flags=re.M))


EXERCISE_PAGES = [d for d in PAGES if solution_count(d)]


@pytest.mark.parametrize("docname", EXERCISE_PAGES)
def test_solutions_are_hidden_until_clicked(page, site, docname):
    page.goto(f"{site}/{docname}.html", wait_until="load")
    page.wait_for_load_state("networkidle")
    solutions = page.locator("main div.solution")
    assert solutions.count() == solution_count(docname), (
        f"{docname}: {solutions.count()} solutions on the page, {solution_count(docname)} in the source")
    assert page.locator("main div.exercise").count() >= 2, f"{docname}: fewer than two exercises"
    for k in range(solutions.count()):
        sol = solutions.nth(k)
        body = sol.locator(":scope > :not(.admonition-title)").first
        assert not body.is_visible(), f"{docname}: solution {k} is shown before it is asked for"
        sol.locator(".admonition-title").first.click()
        body.wait_for(state="visible", timeout=5000)
        assert body.is_visible(), f"{docname}: solution {k} does not open on click"
