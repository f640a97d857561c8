"""``lrbook fixed-points`` and ``lrbook times``: two commands of the command line.

``lrbook fixed-points TASK`` trains one network with the paper's defaults (or reads
it from the result cache), finds its fixed points under zero input (the memory
period of the tasks) with :func:`lrbook.dynamics.find_fixed_points` and prints them
(:doc:`/book/07_dynamics`). ``lrbook times`` prints what the result cache holds for
each preset and scale: networks, network-epochs and training seconds
(:doc:`/book/reproducibility`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _validate as V
from .config import SCALES

#: Starts of the fixed-point search per network, and their noise.
N_STARTS, START_NOISE = 128, 0.05


def fixed_point_tasks() -> tuple[str, ...]:
    """The registered tasks whose networks are nonlinear (``phi`` is not ``"linear"``).

    Their networks hold memories as fixed points under zero input; a linear network
    has a single fixed point (or a line of them), nothing to search for.

    Returns
    -------
    tuple of str
        CLI names (``flipflop``, ``mante``, ``romo``).
    """
    from .tasks import TASKS

    return tuple(n for n, c in TASKS.items() if c.phi != "linear")


def _folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a non-empty folder path; got {text!r}")
    return text


def _add_cache_and_json(p: argparse.ArgumentParser, json_help: str) -> None:
    """The options --cache DIR and --json, shared by the commands of this module."""
    p.add_argument("--cache", type=_folder, default=None, metavar="DIR",
                   help="result cache folder (default: LRBOOK_CACHE, else ~/.cache/lrbook)")
    p.add_argument("--json", action="store_true", help=json_help)


def add_fixed_points_command(sub: Any) -> None:
    """Register ``lrbook fixed-points``.

    Parameters
    ----------
    sub : argparse subparsers action
    """
    from .cli import int_arg, real_arg
    from .tasks import TASKS

    tasks = fixed_point_tasks()
    p = sub.add_parser(
        "fixed-points", help="fixed points of a trained network under zero input",
        description="Train one network of TASK with the paper's defaults (or read it from the "
                    "result cache), then find its fixed points under zero input: states sampled from "
                    "its own trials, Adam on q = |F|^2 / 2, a Newton polish, duplicates merged. "
                    "Prints each fixed point's readout, stability and slowest eigenvalue.",
        epilog="Exit codes: 2 bad arguments (before training), 3 training diverged.")
    p.add_argument("task", metavar="TASK", choices=tasks,
                   help=f"one of {', '.join(tasks)}")
    p.add_argument("--g", type=real_arg("g", lo=0.0, hi=10.0), default=0.0,
                   help="initial connectivity strength, 0..10; default 0")
    p.add_argument("--neurons", "-N", type=int_arg("neurons", lo=2, hi=4096), default=256, metavar="N",
                   help="neurons, 2..4096; default 256 (the paper's)")
    p.add_argument("--epochs", type=int_arg("epochs", lo=1, hi=1_000_000), default=None, metavar="E",
                   help="parameter updates; default the paper's "
                        f"({', '.join(f'{t} {TASKS[t].paper_epochs}' for t in tasks)})")
    p.add_argument("--seed", type=int_arg("seed", lo=0, hi=V.MAX_SEED), default=0, metavar="S",
                   help="network seed, 0..2**63-1; default 0")
    _add_cache_and_json(p, "print one JSON object")
    p.set_defaults(handler=run_fixed_points)


def run_fixed_points(args: argparse.Namespace) -> int:
    """Handler of ``lrbook fixed-points``; returns the exit code.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    int
        0 (errors are raised and mapped to exit codes by :func:`lrbook.cli.main`).
    """
    import torch

    from .dynamics import find_fixed_points, starts_from_trajectories
    from .experiments import EnsembleConfig, run_ensemble
    from .tasks import TASKS

    epochs = args.epochs if args.epochs is not None else TASKS[args.task].paper_epochs
    cfg = EnsembleConfig(task=args.task, N=args.neurons, g=(args.g,), seeds=(args.seed,), epochs=epochs)
    res = run_ensemble(cfg, cache=True if args.cache is None else args.cache)
    net = res.model("final", dtype=torch.float64)
    starts = starts_from_trajectories(net, cfg.make_task(), N_STARTS, seed=args.seed, noise=START_NOISE)
    fp = find_fixed_points(net.W, net.W_in, starts, W_out=net.W_out, phi=net.phi)
    points = sorted(fp.points, key=lambda p: (not p.stable, tuple(p.readout)))
    out = {"task": args.task, "g": float(args.g), "N": int(args.neurons), "seed": int(args.seed),
           "epochs": int(epochs), "final_loss_over_L0": float(res.final_loss[0] / res.L0[0]),
           "fixed_points": [{k: v for k, v in p.to_dict().items() if k in
                             ("readout", "stable", "q", "max_real_eigenvalue", "n_unstable")}
                            for p in points],
           "slow_points": len(fp.slow_points)}
    if args.json:
        print(json.dumps(out, allow_nan=False))
        return 0
    print(f"{args.task}, g = {args.g:g}, N = {args.neurons}, seed {args.seed}, {epochs} epochs "
          f"(final loss {out['final_loss_over_L0']:.2e} L0): {len(points)} fixed points, "
          f"{out['slow_points']} slow points")
    print(f"{'readout':>24}  {'stable':>6}  {'unstable dirs':>13}  {'max Re eig':>10}  {'q':>8}")
    for p in points:
        z = ", ".join(f"{v:+.3f}" for v in p.readout)
        print(f"{'(' + z + ')':>24}  {'yes' if p.stable else 'no':>6}  {p.n_unstable:>13d}  "
              f"{p.max_real_eigenvalue:>10.4f}  {p.q:>8.1e}")
    return 0


def add_times_command(sub: Any) -> None:
    """Register ``lrbook times``.

    Parameters
    ----------
    sub : argparse subparsers action
    """
    p = sub.add_parser(
        "times", help="what the result cache holds: networks, network-epochs, seconds",
        description="For each preset (the nonlinear sweep, the N-scaling supplement) and scale, "
                    "the networks stored in the result cache, their network-epochs and the training "
                    "seconds recorded when they were trained.")
    p.add_argument("--scale", nargs="+", choices=SCALES, default=list(SCALES),
                   help="scales to report (default all)")
    _add_cache_and_json(p, "print one JSON array")
    p.set_defaults(handler=run_times_command)


def run_times_command(args: argparse.Namespace) -> int:
    """Handler of ``lrbook times``; returns the exit code.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    int
        0.
    """
    from .experiments import ResultCache, run_times

    rows = run_times(args.scale, cache=ResultCache(args.cache) if args.cache else None)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows]))
        return 0
    print(f"{'preset':<10} {'scale':<6} {'stored':>9} {'network-epochs':>15} {'seconds':>9} "
          f"{'ms/net-epoch':>13}")
    for r in rows:
        ms = "-" if r.ms_per_network_epoch is None else f"{r.ms_per_network_epoch:.1f}"
        print(f"{r.preset:<10} {r.scale:<6} {f'{r.cached}/{r.networks}':>9} {r.network_epochs:>15d} "
              f"{r.seconds:>9.1f} {ms:>13}")
    return 0
