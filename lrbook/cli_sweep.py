"""``lrbook sweep``: run a preset sweep from the command line, resumably.

Examples
--------
::

    lrbook sweep --scale ci --tasks flipflop mante
    lrbook sweep --scale paper --workers 2 --cache /shared/lrbook-cache --json

Exit codes: 0 done, 2 bad arguments, an unusable cache folder or missing optional
dependency (one line on stderr, before anything is trained), 3 done but some
networks of the sweep diverged (each is named on stderr; they are stored as
diverged, the healthy ones trained to the end, and a rerun trains none of them
again), 130 interrupted (every network of a finished ensemble stays in the cache;
run again to resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings
from typing import Any

from . import _validate as V
from .config import SCALES, get_scale
from .experiments.cache import CacheWarning
from .experiments.presets import PRESETS, sweep_tasks
from .experiments.run import DivergenceWarning
from .experiments.sweep import DEFAULT_MAX_ENSEMBLE, expand, sweep, usable_cores

PROG = "lrbook sweep"
#: Exit codes: bad arguments, some networks diverged, interrupted.
EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


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
                    "interrupted sweep resumes where it stopped: networks train in ensembles of "
                    "at most --max-ensemble networks, in lockstep, and each ensemble is written "
                    "when it finishes, so an interruption loses at most the ensemble in progress.",
        epilog="Exit codes: 2 bad arguments or an unusable cache folder (before training), 3 some "
               "networks diverged (named on stderr; stored as diverged, not retrained), "
               "130 interrupted.")
    p.add_argument("--scale", choices=SCALES, default=None,
                   help="ci | book | paper (default: LRBOOK_SCALE, else book)")
    p.add_argument("--preset", choices=tuple(PRESETS), default="nonlinear",
                   help="nonlinear: the g sweep of Figure 2 (default); nscaling: the N supplement")
    tasks = sweep_tasks()
    p.add_argument("--tasks", nargs="+", choices=tasks, default=list(tasks),
                   metavar="TASK", help=f"tasks among {', '.join(tasks)} (default: all {len(tasks)})")
    p.add_argument("--workers", type=int, default=1,
                   help="parallel worker processes, 1..1024 (> 1 needs the 'distributed' package)")
    p.add_argument("--max-ensemble", type=int, default=None, metavar="K",
                   help=f"at most K networks trained together, 1..{V.MAX_NETWORKS} (default "
                        f"{DEFAULT_MAX_ENSEMBLE}, or fewer to give every worker a group); an "
                        "interruption loses at most the K networks in training")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch threads per worker, 1..1024 (default: torch's choice with one worker, "
                        "cores / workers otherwise)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="cache folder, a non-empty path (default: LRBOOK_CACHE, else ~/.cache/lrbook); "
                        "a read-only one is only read")
    p.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true",
                   help="check the arguments and the cache, print what would be trained, train nothing")
    p.set_defaults(func=run)
    return p


def _bounded(option: str, value: int | None, hi: int) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{option} must be an integer >= 1; got {value}")
    if value is not None and value > hi:
        raise ValueError(f"{option} must be an integer <= {hi}; got {value}")


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Execute ``lrbook sweep`` with parsed ``args``; returns the exit code.

    Runs :func:`~lrbook.experiments.sweep` on the preset's configs (on a local
    ``distributed`` cluster when ``--workers > 1``) and prints a one-line summary, or
    a JSON report with ``--json``.

    See :doc:`/book/06_scaling`.

    Parameters
    ----------
    args : argparse.Namespace
        parsed by the parser of :func:`add_parser`.

    Returns
    -------
    int
        0 done; 2 bad arguments, an unusable cache folder or missing ``distributed``
        (one line on stderr, before training); 3 some networks diverged (named on
        stderr, one line each); 130 interrupted.
    """
    try:
        scale = args.scale or get_scale()
        _bounded("--workers", args.workers, V.MAX_THREADS)
        _bounded("--threads", args.threads, V.MAX_THREADS)
        _bounded("--max-ensemble", args.max_ensemble, V.MAX_NETWORKS)
        if args.cache is not None and not args.cache.strip():
            raise ValueError(f"--cache must be a non-empty folder path; got {args.cache!r}")
        configs = PRESETS[args.preset](scale, tasks=args.tasks)
        n_nets = len(expand(configs))
    except (ValueError, TypeError) as exc:
        return _error(" ".join(str(exc).split()))
    max_ensemble = args.max_ensemble
    if max_ensemble is None and args.workers > 1:
        max_ensemble = max(1, min(DEFAULT_MAX_ENSEMBLE, math.ceil(n_nets / args.workers)))
    cache = args.cache
    if args.dry_run:
        return _dry_run(args, scale, configs, max_ensemble)
    kwargs = dict(max_ensemble=max_ensemble, progress=not args.no_progress, cache=cache)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)      # reported below, one line each
            warnings.filterwarnings("always", category=CacheWarning)
            with warnings.catch_warnings(record=True) as caught:
                result = _sweep(args, configs, kwargs)
            for w in caught:                                         # e.g. a read-only cache: one line
                print(f"{PROG}: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    except ImportError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; every network of a finished ensemble is kept in the cache, "
              "run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError) as exc:
        return _error(" ".join(str(exc).split()))
    if args.json:
        report = {"scale": scale, "preset": args.preset, "tasks": list(args.tasks),
                  **result.to_dict()}
        print(json.dumps(report, indent=1))
    else:
        print(f"{args.preset} sweep at scale {scale} ({', '.join(args.tasks)}): "
              f"{len(result.networks)} networks, {result.n_trained} trained in "
              f"{len(result.groups)} ensembles, {result.n_cached} from the cache, "
              f"{result.n_diverged} diverged; {result.seconds:.1f} s; cache {result.cache}")
    if result.n_diverged:
        for line in result.diverged_report():
            print(f"{PROG}: diverged: {line} (stored as diverged; try a smaller g or lr)", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _sweep(args: argparse.Namespace, configs: Any, kwargs: dict) -> Any:
    """Run the sweep in this process, or on a local Dask cluster with ``--workers > 1``."""
    threads = args.threads
    if args.workers == 1:
        return sweep(configs, threads=threads, **kwargs)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--workers > 1 needs the 'distributed' package: "
                          "pip install 'lrbook[distributed]'") from None
    if threads is None:
        threads = max(1, usable_cores() // args.workers)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        return sweep(configs, executor=client.get_executor(), threads=threads, **kwargs)


def _dry_run(args: argparse.Namespace, scale: str, configs: Any, max_ensemble: int | None) -> int:
    """``--dry-run``: check the cache and the sizes, print what a run would train, train nothing."""
    from . import _memory
    from .experiments.cache import ResultCache
    from .experiments.sweep import DEFAULT_MAX_ENSEMBLE as DEF
    from .experiments.sweep import group_memory, plan

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store = ResultCache(args.cache)
            store.check()
            nets = expand(configs)
            todo = [n for n in nets if n.key not in set(store.keys())]
            groups = plan(todo, max_ensemble or DEF)
            need = max((sum(group_memory(g).values()) for g in groups), default=0)
    except (ValueError, TypeError, OSError) as exc:
        return _error(" ".join(str(exc).split()))
    for w in caught:
        if issubclass(w.category, CacheWarning):
            print(f"{PROG}: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    avail = _memory.available_bytes()
    print(f"{args.preset} sweep at scale {scale} ({', '.join(args.tasks)}): {len(nets)} networks, "
          f"{len(nets) - len(todo)} in the cache, {len(todo)} to train in {len(groups)} ensembles "
          f"(largest needs about {_memory.fmt_bytes(need)} of memory"
          f"{'' if avail is None else f'; {_memory.fmt_bytes(avail)} available'}); cache {store.root}; "
          "dry run: nothing trained")
    return 0
