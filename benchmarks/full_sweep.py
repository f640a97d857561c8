"""Time a real paper-scale sweep end to end (training and writing the cache).

Run from the repository root::

    python -m benchmarks.full_sweep                      # flip-flop, paper scale
    python -m benchmarks.full_sweep --tasks flipflop mante romo

It trains every network of :func:`lrbook.experiments.nonlinear_sweep` at ``paper``
scale for the chosen tasks into a fresh temporary cache (unless ``--cache`` is
given, in which case finished networks are skipped: the sweep resumes), and
prints the wall time, the number of networks and the mean final loss / L0 so the
run can be checked for sanity.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from lrbook.experiments import nonlinear_sweep, run_ensemble, sweep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["flipflop"], choices=["flipflop", "mante", "romo"])
    p.add_argument("--scale", default="paper", choices=["ci", "book", "paper"])
    p.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one)")
    p.add_argument("--max-ensemble", type=int, default=64)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    folder = a.cache or tempfile.mkdtemp(prefix="lrbook-sweep-")
    configs = nonlinear_sweep(a.scale, tasks=a.tasks)
    t0 = time.perf_counter()
    res = sweep(list(configs.values()), cache=folder, max_ensemble=a.max_ensemble, progress=True)
    wall = time.perf_counter() - t0
    out = {"scale": a.scale, "tasks": a.tasks, "seconds": wall, "networks": len(res.status),
           "trained": res.n_trained, "cached": res.n_cached, "diverged": res.n_diverged, "per_task": {}}
    for name, cfg in configs.items():
        r = run_ensemble(cfg, cache=folder)
        ratio = r.final_loss / r.L0
        out["per_task"][name] = {"networks": r.K, "epochs": cfg.epochs,
                                 "median_final_over_L0": float(np.median(ratio))}
    print(json.dumps(out, indent=2))
    print(f"\n{len(res.status)} networks ({res.n_trained} trained) in {wall / 60:.1f} min")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
