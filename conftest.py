"""pytest configuration: run the book's chapters as tests, next to the unit tests.

Plain ``pytest`` collects ``tests/`` (unit tests) and ``book/`` (chapters). A
chapter is a jupytext MyST-markdown notebook, ``book/*.md`` with a jupytext
header; nbval executes it cell by cell in a fresh kernel started in ``book/``,
and a failure is reported as ``book/<chapter>.md::Cell N``. Chapters have no
stored outputs, so nothing is compared: a chapter passes when every cell runs,
which is why chapters ``assert`` what they claim.

The kernels run at ``LRBOOK_SCALE=ci`` unless the environment already sets
``LRBOOK_SCALE``. The paired ``.ipynb`` copies and anything under ``_build`` are
never collected.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOK = ROOT / "book"

# Kernels inherit the environment of this process: set the scale before any starts.
os.environ.setdefault("LRBOOK_SCALE", "ci")


def _front_matter(text: str) -> str | None:
    """The YAML front matter of a markdown file, or None."""
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    return text[3:end] if end > 0 else None


def is_chapter_notebook(path: Path) -> bool:
    """True for ``book/*.md`` files that jupytext reads as notebooks.

    A file counts when its front matter has a ``jupytext`` section and a
    ``kernelspec`` (pages without code, such as the glossary, have neither).
    """
    path = Path(path)
    if path.suffix != ".md" or path.resolve().parent != BOOK:
        return False
    try:
        head = path.read_text(encoding="utf-8")[:4000]
    except OSError:
        return False
    fm = _front_matter(head)
    if fm is None:
        return False
    import yaml

    try:
        meta = yaml.safe_load(fm) or {}
    except yaml.YAMLError:
        return False
    return isinstance(meta, dict) and "jupytext" in meta and "kernelspec" in meta


def pytest_ignore_collect(collection_path: Path, config):
    """Never collect the build folder or the paired ``.ipynb`` copies."""
    parts = set(collection_path.parts)
    if "_build" in parts or ".ipynb_checkpoints" in parts:
        return True
    if collection_path.suffix == ".ipynb":
        return True
    return None


import jupytext  # noqa: E402  (test dependencies, see pyproject's "test" extra)
import nbformat  # noqa: E402
from nbval.plugin import CURRENT_ENV_KERNEL_NAME, IPyNbFile, RunningKernel  # noqa: E402


class MarkdownNotebook(IPyNbFile):
    """An nbval notebook read from a jupytext ``.md`` file.

    Runs in a kernel of the Python that runs pytest (the environment under
    test), with the chapter's folder as working directory. Outputs are never
    compared (the source has none).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compare_outputs = False

    def collect(self):
        real_read = nbformat.read

        def read_markdown(fp, as_version=4, **kw):
            if str(fp) == str(self.fspath):
                return jupytext.read(str(fp))
            return real_read(fp, as_version, **kw)

        nbformat.read = read_markdown
        try:
            yield from super().collect()
        finally:
            nbformat.read = real_read

    def setup(self):
        self.kernel = RunningKernel(
            CURRENT_ENV_KERNEL_NAME,
            cwd=str(self.fspath.dirname),
            startup_timeout=self.config.option.nbval_kernel_startup_timeout,
        )
        self.setup_sanitize_files()


def pytest_collect_file(file_path: Path, parent):
    if not is_chapter_notebook(file_path):
        return None
    return MarkdownNotebook.from_parent(parent, path=file_path)
