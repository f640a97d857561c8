"""``lrbook sweep``: run a preset sweep from the command line, resumably.

Examples
--------
::

    lrbook sweep --scale ci --tasks flipflop mante
    lrbook sweep --scale paper --workers 2 --cache /shared/lrbook-cache --json

Exit codes: 0 done, 2 bad arguments or missing optional dependency (one line on
stderr), 130 interrupted (finished networks stay in the cache; run again to resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from typing import Any

from ..config import SCALES, get_scale
from .presets import NONLINEAR_TASKS, PRESETS
from .sweep import DEFAULT_MAX_ENSEMBLE, expand, sweep

PROG = "lrbook sweep"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``sweep`` command on an ``argparse`` subparsers object.

    The parser's ``func`` default is :func:`run`.

    Parameters
    ----------
    subparsers : argparse subparsers action
        as returned by ``ArgumentParser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        the ``sweep`` sub-parser.
    """
    p = subparsers.add_parser(
        "sweep", help="train a preset sweep of networks into the cache (resumable)",
        description="Train the paper's sweep of networks (Figure 2, or its N-scaling "
                    "supplement) into the result cache. Finished networks are skipped, so an "
                    "interrupted sweep resumes where it stopped.")
    p.add_argument("--scale", choices=SCALES, default=None,
                   help="ci | book | paper (default: LRBOOK_SCALE, else book)")
    p.add_argument("--preset", choices=tuple(PRESETS), default="nonlinear",
                   help="nonlinear: the g sweep of Figure 2 (default); nscaling: the N supplement")
    p.add_argument("--tasks", nargs="+", choices=NONLINEAR_TASKS, default=list(NONLINEAR_TASKS),
                   metavar="TASK", help="tasks among flipflop, mante, romo (default: all three)")
    p.add_argument("--workers", type=int, default=1,
                   help="parallel worker processes (> 1 needs the 'distributed' package)")
    p.add_argument("--max-ensemble", type=int, default=None, metavar="K",
                   help=f"at most K networks trained together (default {DEFAULT_MAX_ENSEMBLE}, "
                        "or fewer to give every worker a group)")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch threads per worker (default: torch's choice with one worker, "
                        "cores / workers otherwise)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="cache folder (default: LRBOOK_CACHE, else ~/.cache/lrbook)")
    p.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Execute ``lrbook sweep`` with parsed ``args``; returns the exit code.

    Runs :func:`~lrbook.experiments.sweep` on the preset's configs (on a local
    ``distributed`` cluster when ``--workers > 1``) and prints a one-line summary, or
    a JSON report with ``--json``.

    See :doc:`/book/05_scaling`.

    Parameters
    ----------
    args : argparse.Namespace
        parsed by the parser of :func:`add_parser`.

    Returns
    -------
    int
        0 done; 2 bad arguments or missing ``distributed`` (one line on stderr);
        130 interrupted.
    """
    try:
        scale = args.scale or get_scale()
        if args.workers < 1:
            raise ValueError(f"--workers must be an integer >= 1; got {args.workers}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be an integer >= 1; got {args.threads}")
        if args.max_ensemble is not None and args.max_ensemble < 1:
            raise ValueError(f"--max-ensemble must be an integer >= 1; got {args.max_ensemble}")
        configs = PRESETS[args.preset](scale, tasks=args.tasks)
        n_nets = len(expand(configs))
    except (ValueError, TypeError) as exc:
        return _error(str(exc))
    max_ensemble = args.max_ensemble
    if max_ensemble is None and args.workers > 1:
        max_ensemble = max(1, min(DEFAULT_MAX_ENSEMBLE, math.ceil(n_nets / args.workers)))
    cache = args.cache
    kwargs = dict(max_ensemble=max_ensemble, progress=not args.no_progress, cache=cache)
    threads = args.threads
    try:
        if args.workers > 1:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                return _error("--workers > 1 needs the 'distributed' package: "
                              "pip install 'lrbook[distributed]'")
            if threads is None:
                threads = max(1, (os.cpu_count() or 1) // args.workers)
            with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                    Client(cluster) as client:
                result = sweep(configs, executor=client.get_executor(), threads=threads, **kwargs)
        else:
            result = sweep(configs, threads=threads, **kwargs)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; finished networks are kept in the cache, run again to resume",
              file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as exc:
        return _error(str(exc))
    if args.json:
        report = {"scale": scale, "preset": args.preset, "tasks": list(args.tasks),
                  **result.to_dict()}
        print(json.dumps(report, indent=1))
    else:
        print(f"{args.preset} sweep at scale {scale} ({', '.join(args.tasks)}): "
              f"{len(result.networks)} networks, {result.n_trained} trained in "
              f"{len(result.groups)} ensembles, {result.n_cached} from the cache, "
              f"{result.n_diverged} diverged; {result.seconds:.1f} s; cache {result.cache}")
    return 0
