"""Training throughput: a typical research loop against lrbook's ensemble engine.

Run from the repository root::

    python -m benchmarks.throughput            # all tasks, K = 1, 8, 32, 64
    python -m benchmarks.throughput --quick    # fewer epochs, for a smoke run

Everything is measured in the same process, one after the other, so the ratios
compare like with like. Reported per task (N = 256, batch 32):

- seconds per network-epoch (one parameter update of one network) for
  (a) the baseline: one network, ``torch.nn.Parameter`` weights, autograd through a
  Python loop over time steps, ``torch.tanh``, ``torch.optim.Adam``, trials generated
  one by one in Python (the typical research code), and
  (b) lrbook: ensembles of K = 1, 8, 32, 64 networks trained at once;
- achieved GFLOP/s, counting the matrix-product FLOPs of forward and backward
  (recurrent product forward, backward to the state, weight gradient:
  ``3 x 2 B N^2 T``, plus the input/readout products), against the measured peak of one
  large float32 matrix product (2048^3) timed in the same run;
- the estimated time of the paper-scale nonlinear sweep from those numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
import torch

from lrbook.tasks import ContextIntegration, FlipFlop, Task, WorkingMemory
from lrbook.training import model_for, train

N = 256
B = 32
#: The paper's nonlinear sweep (science.md section 3): (g max, epochs), 5 seeds, g step 0.3.
PAPER = {"flipflop": (2.1, 1000), "mante": (2.7, 2000), "romo": (3.0, 6000)}
TASKS = {"flipflop": FlipFlop, "mante": ContextIntegration, "romo": WorkingMemory}


# ----------------------------------------------------------------------------- baseline
def _trial_flipflop(rng: np.random.Generator, T: int, dt: float):
    u = np.zeros((T, 2), np.float32)
    y = np.zeros((T, 2), np.float32)
    m = np.zeros((T, 2), np.float32)
    t = 1.0
    while True:
        on = int(round(t / dt))
        if on + 2 > T:
            break
        ch = rng.integers(2)
        s = rng.choice([-1.0, 1.0])
        for k in range(on, on + 2):
            u[k, ch] = s
        nxt = t + 5 + rng.uniform(5, 25)
        for k in range(on + 10, min(T, int(round(nxt / dt)))):
            y[k, :] = 0.0
            y[k, ch] = 0.5 * s
            m[k, :] = 1.0
        t = nxt
    return u, y, m


def _trial_mante(rng: np.random.Generator, T: int, dt: float):
    u = np.zeros((T, 4), np.float32)
    y = np.zeros((T, 1), np.float32)
    m = np.ones((T, 1), np.float32)
    c = [rng.choice([1, 2, 4, 8]) / 8 * rng.choice([-1, 1]) for _ in range(2)]
    ctx = rng.integers(2)
    for k in range(T):
        for i in range(2):
            u[k, i] = rng.normal() * 0.05 / np.sqrt(dt) + (c[i] if 6 <= k < 46 else 0.0)
        if 6 <= k < 46:
            u[k, 2 + ctx] = 1.0
        if 46 <= k < 56:
            m[k] = 0.0
        if k >= 56:
            y[k] = 0.5 * np.sign(c[ctx])
    return u, y, m


def _trial_romo(rng: np.random.Generator, T: int, dt: float):
    u = np.zeros((T, 1), np.float32)
    y = np.zeros((T, 2), np.float32)
    m = np.zeros((T, 2), np.float32)
    f1 = rng.uniform(0.5, 1.5)
    f2 = f1
    while abs(f2 - f1) < 0.2:
        f2 = rng.uniform(0.5, 1.5)
    d = rng.integers(4, 17)
    on2 = 8 + d
    for k in range(T):
        if 6 <= k < 8:
            u[k] = f1
        if on2 <= k < on2 + 2:
            u[k] = f2
        if k < on2 + 2:
            m[k] = 1.0
        if on2 + 12 <= k < on2 + 32:
            m[k] = 1.0
            y[k, 0 if f1 > f2 else 1] = 0.5
    return u, y, m


TRIALS = {"flipflop": _trial_flipflop, "mante": _trial_mante, "romo": _trial_romo}


def baseline_seconds_per_epoch(name: str, epochs: int, seed: int = 0) -> float:
    """A typical research training loop for one network (autograd over a Python time loop)."""
    task = TASKS[name]()
    T, dt = task.n_steps, task.dt
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    W = torch.nn.Parameter(0.9 * torch.randn(N, N, generator=gen) / np.sqrt(N))
    W_in = torch.nn.Parameter(torch.randn(task.n_in, N, generator=gen))
    W_out = torch.nn.Parameter(torch.randn(N, task.n_out, generator=gen) / N)
    opt = torch.optim.Adam([W, W_in, W_out], lr=0.05 / N)

    def epoch():
        trials = [TRIALS[name](rng, T, dt) for _ in range(B)]
        u = torch.tensor(np.stack([t[0] for t in trials]))
        y = torch.tensor(np.stack([t[1] for t in trials]))
        m = torch.tensor(np.stack([t[2] for t in trials]))
        x = torch.zeros(B, N)
        zs = []
        for t in range(T):
            x = x + dt * (-x + torch.tanh(x) @ W.T + u[:, t] @ W_in)
            zs.append(torch.tanh(x) @ W_out)
        z = torch.stack(zs, 1)
        loss = 0.5 * (m * (z - y) ** 2).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    epoch()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return (time.perf_counter() - t0) / epochs


# ----------------------------------------------------------------------------- lrbook
def lrbook_seconds_per_network_epoch(name: str, K: int, epochs: int) -> float:
    task = TASKS[name]()
    gs = np.linspace(0.0, PAPER[name][0], K)
    train(model_for(task, N, g=gs, seeds=range(K)), task, 2)           # warm-up
    r = train(model_for(task, N, g=gs, seeds=range(K)), task, epochs)
    return r.seconds / (epochs * K)


def flops_per_network_epoch(task: Task) -> float:
    T = task.n_steps
    rec = 3 * 2 * B * N * N * T                     # forward, backward to the state, dL/dW
    io = 2 * B * T * N * (2 * task.n_in + 3 * task.n_out)
    return float(rec + io)


def gemm_peak(n: int = 2048, repeats: int = 5) -> float:
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def paper_sweep_networks(name: str) -> int:
    gmax = PAPER[name][0]
    return len(np.arange(0.0, gmax + 1e-9, 0.3)) * 5


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--K", nargs="+", type=int, default=[1, 8, 32, 64])
    p.add_argument("--quick", action="store_true", help="fewer epochs (smoke run)")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    a = p.parse_args(argv)
    base_epochs = 3 if a.quick else 10
    peak = gemm_peak()
    out = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
           "torch": torch.__version__, "N": N, "batch": B, "gemm_peak_gflops": peak, "tasks": {}}
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"float32 GEMM 2048^3 peak: {peak:.0f} GFLOP/s\n")
    print("| task | engine | K | ms / network-epoch | speed-up | GFLOP/s | % of peak |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in a.tasks:
        task = TASKS[name]()
        fl = flops_per_network_epoch(task)
        base = baseline_seconds_per_epoch(name, base_epochs)
        row = {"baseline_s": base, "flops": fl, "lrbook_s": {}}
        print(f"| {name} | baseline loop | 1 | {base * 1e3:.1f} | 1.0x | {fl / base / 1e9:.0f} | "
              f"{100 * fl / base / 1e9 / peak:.0f}% |")
        for K in a.K:
            ep = max(4, (16 if a.quick else 64) // K)
            s = lrbook_seconds_per_network_epoch(name, K, ep)
            row["lrbook_s"][K] = s
            print(f"| {name} | lrbook | {K} | {s * 1e3:.1f} | {base / s:.1f}x | {fl / s / 1e9:.0f} | "
                  f"{100 * fl / s / 1e9 / peak:.0f}% |")
        out["tasks"][name] = row
        sys.stdout.flush()
    print("\n## Paper-scale nonlinear sweep estimate (N = 256, g step 0.3, 5 seeds)\n")
    print("| task | networks | epochs | baseline (h) | lrbook best K (min) |")
    print("|---|---:|---:|---:|---:|")
    tot_b = tot_l = 0.0
    for name, row in out["tasks"].items():
        n, E = paper_sweep_networks(name), PAPER[name][1]
        best = min(row["lrbook_s"].values())
        tb, tl = n * E * row["baseline_s"], n * E * best
        tot_b += tb
        tot_l += tl
        print(f"| {name} | {n} | {E} | {tb / 3600:.2f} | {tl / 60:.1f} |")
    print(f"| **all** | | | **{tot_b / 3600:.2f}** | **{tot_l / 60:.1f}** |")
    out["paper_sweep_estimate_s"] = {"baseline": tot_b, "lrbook": tot_l}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
