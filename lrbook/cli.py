"""The ``lrbook`` command line.

``lrbook train TASK ...`` trains an ensemble of networks with the paper's defaults
and prints, per network, the analyses of the book (JSON with ``--json``). Exit
codes: 0 success, 2 bad arguments (one line on stderr, before any training: sizes
whose memory the machine does not have, seeds out of range, values the training
dtype cannot represent), 3 training diverged.

Adding a command: write ``add_<name>_command(subparsers)`` that registers its
sub-parser and sets ``handler=`` (or ``func=``; a function ``args -> exit code``), and
append it to :data:`COMMANDS`. Reuse :func:`add_network_arguments` and
:func:`task_from_args` for the shared options.

The analyses printed are explained in the chapters :doc:`/book/02_training`
(convergence), :doc:`/book/04_low_rank` (singular values, truncation, functional
rank) and :doc:`/book/05_randomness` (norm of dW, shuffle test).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import _memory
from . import _validate as V
from ._threads import torch_threads
from ._version import __version__
from .cli_dynamics import add_fixed_points_command, add_times_command
from .cli_sweep import add_parser as add_sweep_command
from .engine import PHIS
from .tasks import TASKS, Task

#: Exit codes.
EXIT_OK, EXIT_USAGE, EXIT_DIVERGED = 0, 2, 3

#: Keys of one network's JSON record, in order.
RECORD_KEYS = ("task", "g", "N", "seed", "epochs", "L0", "final_loss", "convergence_epoch", "norm_dW",
               "singular_values", "truncation_losses", "functional_rank", "shuffle_loss_ratio", "seconds")
#: Truncation ranks analysed (R = 0..25, the paper's) and shown (R = 0..10).
MAX_RANK, SHOWN_RANK, SHOWN_SV = 25, 10, 10
#: Largest finite float32: trials and weights are float32.
FLOAT32_MAX = 3.4028234663852886e38
#: How the memory check calls the sizes of ``lrbook train``.
MEMORY_NAMES = {"N": "--neurons", "K": "networks (--g values x --seeds)", "batch_size": "trials per batch",
                "T": "time steps per trial", "epochs": "--epochs"}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr (exit code 2), without the usage."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())}\n")


# --------------------------------------------------------------------------- argument types
def real_arg(name: str, *, lo: float | None = None, hi: float | None = None,
             lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` for a finite real in an interval; errors name ``name`` and the range.

    Parameters
    ----------
    name : str
        the option's name in error messages.
    lo, hi : float, optional
        bounds (none by default).
    lo_open, hi_open : bool
        exclude the bound itself.

    Returns
    -------
    callable
        ``parse(text) -> float``, raising :class:`argparse.ArgumentTypeError`
        for a non-number, NaN, inf or a value out of range.
    """
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    want = f"a finite number {' and '.join(parts)}".rstrip()

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {want}; got {text!r}") from None
        bad = not math.isfinite(v) or (lo is not None and (v < lo or (lo_open and v == lo))) \
            or (hi is not None and (v > hi or (hi_open and v == hi)))
        if bad:
            raise argparse.ArgumentTypeError(f"{name} must be {want}; got {text}")
        return v
    return parse


def int_arg(name: str, *, lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for an integer in ``[lo, hi]``.

    Parameters
    ----------
    name : str
        the option's name in error messages.
    lo, hi : int, optional
        inclusive bounds (none by default).

    Returns
    -------
    callable
        ``parse(text) -> int``, raising :class:`argparse.ArgumentTypeError`
        for a non-integer or a value out of range.
    """
    rng = " and ".join(s for s in ((f">= {lo}" if lo is not None else ""),
                                   (f"<= {hi}" if hi is not None else "")) if s)
    want = f"an integer {rng}".rstrip()

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {want}; got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{name} must be {want}; got {v}")
        return v
    return parse


# --------------------------------------------------------------------------- shared options
def _words(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def _by_task(fact: Callable[[type[Task]], Any]) -> dict[Any, list[str]]:
    """The registered tasks grouped by the value of one of their facts, in registration order."""
    groups: dict[Any, list[str]] = {}
    for name, cls in TASKS.items():
        groups.setdefault(fact(cls), []).append(name)
    return groups


def per_task_text(fact: Callable[[type[Task]], Any]) -> str:
    """How a task fact varies over the registered tasks, for help texts.

    Parameters
    ----------
    fact : callable
        ``fact(task_class)``, e.g. ``lambda c: c.phi``.

    Returns
    -------
    str
        ``"linear for fixedpoint and cosine, tanh otherwise"``: the value most tasks
        share last; the value alone when every task shares it.
    """
    groups = _by_task(fact)
    common = max(groups, key=lambda v: len(groups[v]))
    rest = [f"{v} for {_words(names)}" for v, names in groups.items() if v != common]
    return ", ".join([*rest, f"{common} otherwise"]) if rest else str(common)


def _zhat_tasks() -> list[str]:
    """The registered tasks with a ``z_hat`` parameter (what ``--zhat`` sets)."""
    return [n for n, c in TASKS.items() if any(f.name == "z_hat" for f in dataclasses.fields(c))]


def add_network_arguments(p: argparse.ArgumentParser) -> None:
    """Add TASK, --g, --neurons, --epochs, --seeds, --seed, --lr, --zhat, --phi, --threads, --progress.

    The task choices and the defaults in the help texts are read from the registered
    tasks (:data:`lrbook.tasks.TASKS`) when the parser is built.

    Parameters
    ----------
    p : argparse.ArgumentParser
        the command's parser, modified in place.
    """
    from .tasks.registry import lr_rule

    limits = ", ".join(f"< {c.g_limit:g} for {n}" for n, c in TASKS.items() if c.g_limit is not None)
    zhat = _zhat_tasks()
    zhat_default = ({f.name: f.default for f in dataclasses.fields(TASKS[zhat[0]])}["z_hat"]
                    if zhat else None)
    lr_rules = _by_task(lambda c: lr_rule(c.name))
    p.add_argument("task", metavar="TASK", choices=tuple(TASKS),
                   help=f"one of {', '.join(TASKS)}")
    p.add_argument("--g", nargs="+", type=real_arg("g", lo=0.0), default=[0.0], metavar="G",
                   help=f"initial connectivity strength(s), >= 0{f' ({limits})' if limits else ''}; default 0")
    p.add_argument("--neurons", "-N", type=int_arg("neurons", lo=1), default=None, metavar="N",
                   help="neurons per network, >= 1, as many as the memory allows; default the paper's "
                        f"({per_task_text(lambda c: c.paper_N)})")
    p.add_argument("--epochs", type=int_arg("epochs", lo=1), default=None, metavar="E",
                   help="parameter updates, >= 1; default the paper's "
                        f"({', '.join(f'{n} {c.paper_epochs}' for n, c in TASKS.items())})")
    p.add_argument("--seeds", type=int_arg("seeds", lo=1, hi=V.MAX_NETWORKS), default=1, metavar="K",
                   help=f"networks per g, 1..{V.MAX_NETWORKS} (seeds S..S+K-1; at most {V.MAX_NETWORKS} "
                        "networks in all); default 1")
    p.add_argument("--seed", type=int_arg("seed", lo=0, hi=V.MAX_SEED), default=0, metavar="S",
                   help="first seed, 0..2**63-1; default 0")
    p.add_argument("--lr", type=real_arg("lr", lo=0.0, lo_open=True, hi=FLOAT32_MAX), default=None,
                   help="learning rate, > 0; default the paper's "
                        f"({'; '.join(f'{_words(ns)}: {rule}' for rule, ns in lr_rules.items())})")
    p.add_argument("--zhat", type=real_arg("zhat"), default=None, metavar="Z",
                   help=f"target output of the {_words(zhat) or 'fixed-point'} task (only there)"
                        f"{f'; default {zhat_default:g}' if zhat_default is not None else ''}")
    p.add_argument("--phi", choices=PHIS, default=None,
                   help=f"nonlinearity, one of {', '.join(PHIS)}; default the paper's "
                        f"({per_task_text(lambda c: c.phi)})")
    p.add_argument("--threads", type=int_arg("threads", lo=1, hi=V.MAX_THREADS), default=None, metavar="T",
                   help=f"torch threads, 1..{V.MAX_THREADS}; default torch's")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    p.add_argument("--dry-run", action="store_true",
                   help="check the arguments and the memory the run needs, print the plan, train nothing")


def task_from_args(args: argparse.Namespace) -> Task:
    """The Task of parsed arguments; ValueError (exit 2) for inconsistent options.

    Parameters
    ----------
    args : argparse.Namespace
        with ``task``, ``zhat`` and ``g`` (see :func:`add_network_arguments`).

    Returns
    -------
    Task
        ``make_task(args.task)``, with ``z_hat`` for the fixed-point task.

    Raises
    ------
    ValueError
        if ``--zhat`` is given for a task without ``z_hat``, a g at or above the
        task's ``g_limit`` (1 for ``fixedpoint``), a g too large for float32
        (W0 = g chi must be representable), more than
        :data:`lrbook._validate.MAX_NETWORKS` networks, or a seed beyond
        ``2**63 - 1``.
    """
    K = len(args.g) * args.seeds
    if K > V.MAX_NETWORKS:
        raise ValueError(f"--g values x --seeds must be at most {V.MAX_NETWORKS} networks; got "
                         f"{len(args.g)} x {args.seeds} = {K}")
    huge = [g for g in args.g if g > FLOAT32_MAX / 10]
    if huge:                    # |chi_ij| < 10: W0 = g chi then fits in float32 (checked exactly later)
        raise ValueError(f"g must be <= {FLOAT32_MAX / 10:.4g} so that W0 = g chi is representable in "
                         f"float32, the training dtype; got {huge[0]:g}")
    if args.seed + args.seeds - 1 > V.MAX_SEED:
        raise ValueError(f"--seed + --seeds - 1 must be <= 2**63 - 1 (the largest seed); got seeds up to "
                         f"{args.seed + args.seeds - 1}")
    from .tasks import make_task

    params = {}
    if args.zhat is not None:
        zhat = _zhat_tasks()
        if args.task not in zhat:
            raise ValueError(f"--zhat applies only to the {_words(zhat) or 'no'} task{'s' if len(zhat) > 1 else ''}; "
                             f"got task {args.task}")
        params["z_hat"] = args.zhat
    cls = TASKS[args.task]
    if cls.g_limit is not None:
        bad = [g for g in args.g if g >= cls.g_limit]
        if bad:
            why = f" ({cls.g_limit_reason})" if cls.g_limit_reason else ""
            raise ValueError(f"g must be in [0, {cls.g_limit:g}) for {args.task}{why}; got {bad[0]:g}")
    return make_task(args.task, **params)


# --------------------------------------------------------------------------- train
def add_train_command(sub: Any) -> None:
    """Register ``lrbook train``.

    Parameters
    ----------
    sub : argparse subparsers action
        as returned by ``ArgumentParser.add_subparsers()``.
    """
    p = sub.add_parser(
        "train", help="train networks on a task and analyse them",
        description="Train len(g) x K networks of TASK in one ensemble with the paper's defaults "
                    "and analyse each: loss, ||dW||, singular values of dW, rank-R truncation, "
                    "shuffle test.",
        epilog="Per network: L0 and final_loss are training-curve losses; convergence_epoch is the "
               "first epoch with loss < 0.05 L0 (-1: never); truncation_losses are test losses (512 "
               "trials, seed stream 'eval') of W0 + SVD_R(dW) for R = 0..10 with the trained W_in, "
               "W_out; functional_rank is the smallest R <= min(25, N) whose loss is < 0.05 loss(R=0) (null: "
               "undefined, no such R reaches it); shuffle_loss_ratio is the test loss of shuffled "
               "W0 + dW over the initial network's test loss; seconds is the ensemble's wall time "
               "shared equally. Exit codes: 2 bad arguments (before training, also for sizes that "
               "do not fit in memory), 3 training diverged.")
    add_network_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON array (an object per network)")
    p.set_defaults(handler=run_train)


def train_plan(args: argparse.Namespace) -> dict[str, Any]:
    """Check every argument of ``lrbook train`` and the memory the run needs, allocating nothing.

    Parameters
    ----------
    args : argparse.Namespace
        parsed by the ``train`` parser.

    Returns
    -------
    dict
        ``task``, ``N``, ``epochs``, ``K``, ``gs``, ``seeds`` (one entry per network),
        ``memory`` (bytes, by part) and ``available`` (bytes, None when unknown).

    Raises
    ------
    ValueError
        naming the option: inconsistent options (:func:`task_from_args`), or a run
        whose memory (weights, the states of every time step, loss curves, analysis)
        exceeds the memory available, saying how much it needs and how much there is.
    """
    from .analysis.evaluate import MAX_BYTES
    from .training import default_batch_size, default_optimizer

    task = task_from_args(args)
    N = args.neurons if args.neurons is not None else type(task).paper_N
    epochs = args.epochs if args.epochs is not None else type(task).paper_epochs
    K = len(args.g) * args.seeds
    B, T = default_batch_size(task), task.n_steps
    parts = _memory.training_bytes(N, K, B, T, task.n_in, task.n_out, 4, epochs=epochs,
                                   adam=default_optimizer(task) == "adam")
    parts["weights"] += _memory.weights_bytes(N, K, task.n_in, task.n_out, 4)["weights"]
    parts["analysis"] = MAX_BYTES + 12 * N * N * 8 + K * (4 * N + 64) * 8
    sizes = {"N": N, "K": K, "batch_size": B, "T": T, "epochs": epochs}
    _memory.check(parts, sizes, names=MEMORY_NAMES)
    seeds = list(range(args.seed, args.seed + args.seeds))
    return {"task": task, "N": N, "epochs": epochs, "K": K,
            "gs": [g for g in args.g for _ in seeds], "seeds": [s for _ in args.g for s in seeds],
            "memory": parts, "available": _memory.available_bytes()}


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``lrbook train``: returns the exit code.

    Checks the arguments and the memory first (:func:`train_plan`; ``--dry-run``
    stops there and prints the plan), then trains ``len(g) x seeds`` networks in one
    ensemble (:func:`lrbook.training.train`), analyses each with
    :func:`lrbook.analysis.reports_from_result` (R = 0..min(25, N), one shuffle) and
    prints a table, or one JSON array with ``--json``.

    Parameters
    ----------
    args : argparse.Namespace
        parsed by the ``train`` parser.

    Returns
    -------
    int
        :data:`EXIT_OK` (errors are raised and mapped to exit codes by :func:`main`).
    """
    from .analysis import reports_from_result
    from .training import model_for, train

    plan = train_plan(args)
    task, N, epochs, gs, sd = plan["task"], plan["N"], plan["epochs"], plan["gs"], plan["seeds"]
    if args.dry_run:
        need, avail = sum(plan["memory"].values()), plan["available"]
        print(f"{task.name}: {plan['K']} networks of N={N} (g {', '.join(f'{g:g}' for g in args.g)}; seeds "
              f"{args.seed}..{args.seed + args.seeds - 1}), {epochs} epochs; needs about "
              f"{_memory.fmt_bytes(need)} of memory"
              f"{'' if avail is None else f' ({_memory.fmt_bytes(avail)} available)'}; dry run: nothing trained")
        return EXIT_OK
    with torch_threads(args.threads):
        t0 = time.perf_counter()
        model = model_for(task, N, gs, sd, phi=args.phi)
        result = train(model, task, epochs, lr=args.lr, progress=args.progress)
        reports = reports_from_result(result, task, ranks=range(0, min(MAX_RANK, N) + 1), n_shuffles=1)
        seconds = (time.perf_counter() - t0) / len(gs)
    records = []
    for k, rep in enumerate(reports):
        s = rep.summary(n_sv=SHOWN_SV, max_rank=SHOWN_RANK)
        rec = {"task": task.name, "g": float(result.g[k]), "N": int(N), "seed": int(result.seeds[k]),
               "epochs": int(epochs), **s, "seconds": float(seconds)}
        records.append({key: rec[key] for key in RECORD_KEYS})
    if args.json:
        print(json.dumps(records, allow_nan=False))
    else:
        print(format_table(records))
    return EXIT_OK


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_table(records: Sequence[dict]) -> str:
    """A readable table of ``lrbook train`` records.

    Parameters
    ----------
    records : sequence of dict
        with the keys of :data:`RECORD_KEYS`.

    Returns
    -------
    str
        a header, one row per record, and a line explaining the columns.
    """
    head = ("task", "g", "N", "seed", "epochs", "L0", "final", "conv", "|dW|", "s1", "s2", "s3",
            "rank", "shuf/L0", "sec")
    rows = [head]
    for r in records:
        sv = list(r["singular_values"]) + [None] * 3
        rows.append((r["task"], _fmt(r["g"], ".2f"), str(r["N"]), str(r["seed"]), str(r["epochs"]),
                     _fmt(r["L0"], ".4f"), _fmt(r["final_loss"], ".2e"), str(r["convergence_epoch"]),
                     _fmt(r["norm_dW"], ".3f"), _fmt(sv[0], ".3f"), _fmt(sv[1], ".3f"), _fmt(sv[2], ".3f"),
                     _fmt(r["functional_rank"], "d"), _fmt(r["shuffle_loss_ratio"], ".3f"), _fmt(r["seconds"], ".1f")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.append("conv: first epoch with training loss < 0.05 L0 (-1 never); s1..s3: top singular values "
                 "of dW; rank: functional rank (- undefined: none up to R = min(25, N)); shuf/L0: test "
                 "loss of shuffled W0 + dW over the initial test loss.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
#: Sub-command registration functions (one per command).
COMMANDS: list[Callable] = [add_train_command, add_sweep_command, add_fixed_points_command,
                            add_times_command]


def build_parser() -> argparse.ArgumentParser:
    """The ``lrbook`` parser with every command of :data:`COMMANDS`.

    Returns
    -------
    argparse.ArgumentParser
        its errors are one line on stderr with exit code 2.
    """
    parser = _Parser(prog="lrbook", description="Low-rank learning in RNNs (Schuessler et al., NeurIPS "
                                                "2020): train and analyse networks.")
    parser.add_argument("--version", action="version", version=f"lrbook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises SystemExit).

    Parameters
    ----------
    argv : sequence of str, optional
        arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 2 bad arguments, 3 training diverged, 130 interrupted; errors are
        one line on stderr, without a traceback.
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(None if argv is None else list(argv))
        if extra:                                      # quoted, so that an empty "" shows
            parser.error(f"unrecognized arguments: {shlex.join(extra)}")
    except SystemExit as exc:                          # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from .training import TrainingDivergedError

    prog = f"lrbook {args.command}"
    handler = getattr(args, "handler", None) or getattr(args, "func", None)   # either name works
    if handler is None:                                # pragma: no cover - a registration bug
        print(f"{prog}: error: command has no handler", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except TrainingDivergedError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}; try a smaller --lr or g", file=sys.stderr)
        return EXIT_DIVERGED
    except (ValueError, TypeError) as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                            # e.g. `lrbook train ... | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
