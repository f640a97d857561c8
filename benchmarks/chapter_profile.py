"""Where a chapter spends its time: every code cell executed and timed.

Runs one chapter (a jupytext MyST notebook in ``book/``) in a fresh kernel at the
scale of ``LRBOOK_SCALE`` and prints the slowest cells, with their first line. A
development tool: run it on an idle machine, one chapter at a time.

    LRBOOK_SCALE=book python -m benchmarks.chapter_profile book/07_dynamics.md --top 10
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path


def _seconds(meta: dict) -> float | None:
    ex = meta.get("execution", {})
    a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    if not (a and b):
        return None
    parse = _dt.datetime.fromisoformat
    return (parse(b.replace("Z", "+00:00")) - parse(a.replace("Z", "+00:00"))).total_seconds()


def profile(path: str, timeout: int = 3600) -> tuple[float, list[tuple[float, int, str]]]:
    """Execute the chapter; return its wall time and (seconds, cell index, first line) per cell.

    Parameters
    ----------
    path : str
        a ``book/*.md`` chapter.
    timeout : int
        seconds allowed per cell.
    """
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    t0 = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - t0
    rows = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        s = _seconds(cell.metadata)
        if s is not None:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()
                          and not ln.startswith(("#", "---", "mystnb", "  "))), "")
            rows.append((s, i, first[:70]))
    return wall, rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("chapters", nargs="+")
    p.add_argument("--top", type=int, default=8)
    a = p.parse_args(argv)
    for path in a.chapters:
        wall, rows = profile(path)
        print(f"{path}: {wall:.1f} s")
        for s, i, first in sorted(rows, reverse=True)[:a.top]:
            print(f"  {s:8.2f} s  cell {i:3d}  {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
