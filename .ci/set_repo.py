#!/usr/bin/env python3
"""Set the book's repository URL everywhere it is written: `make repo URL=https://github.com/OWNER/NAME`.

The URL is one setting, ``repository.url`` in ``_config.yml``. A notebook opened in
Colab has nothing but its own text to read it from, so the Colab install cell of
every page (``book/*.md`` and the paired ``book/*.ipynb``) repeats it, and the
README links the Colab badge and the GitHub Pages site derived from it. This script
rewrites all of them from the new URL; ``tests/test_book.py`` checks that they agree.

Exit codes: 0 done, 2 bad URL or no repository URL in ``_config.yml``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)/?$")


def parse(url: str) -> tuple[str, str]:
    """(owner, name) of a GitHub repository URL, or ValueError."""
    m = GITHUB.match(url.strip())
    if not m or m.group(2).endswith(".git"):
        raise ValueError(f"URL must look like https://github.com/OWNER/NAME; got {url!r}")
    return m.group(1), m.group(2)


def current_url(root: Path) -> str:
    text = (root / "_config.yml").read_text(encoding="utf-8")
    m = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not m:
        raise ValueError("_config.yml has no repository: url: setting")
    return m.group(1)


def replacements(old: str, new: str) -> list[tuple[str, str]]:
    """Textual substitutions, most specific first: Colab path, Pages site, repository."""
    (o_owner, o_name), (n_owner, n_name) = parse(old), parse(new)
    return [
        (f"colab.research.google.com/github/{o_owner}/{o_name}/",
         f"colab.research.google.com/github/{n_owner}/{n_name}/"),
        (f"https://{o_owner}.github.io/{o_name}", f"https://{n_owner.lower()}.github.io/{n_name}"),
        (f"https://github.com/{o_owner}/{o_name}", f"https://github.com/{n_owner}/{n_name}"),
    ]


def files(root: Path) -> list[Path]:
    book = root / "book"
    return [root / "_config.yml", root / "README.md",
            *sorted(book.glob("*.md")), *sorted(book.glob("*.ipynb"))]


def set_repo(root: Path, new: str) -> list[Path]:
    """Rewrite every file that names the repository; returns the files changed."""
    parse(new)
    old = current_url(root)
    subs = replacements(old, new)
    changed = []
    for path in files(root):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        out = text
        for a, b in subs:
            out = out.replace(a, b)
        if out != text:
            path.write_text(out, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url", help="https://github.com/OWNER/NAME")
    p.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                   help="the repository's root folder (default: this checkout)")
    args = p.parse_args(argv)
    try:
        changed = set_repo(Path(args.root), args.url)
    except ValueError as exc:
        print(f"make repo: {exc}", file=sys.stderr)
        return 2
    print(f"repository set to {args.url.strip().rstrip('/')}: {len(changed)} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
