"""Training throughput: a typical research loop against lrbook's ensemble engine, and its limits.

Run from the repository root::

    python -m benchmarks.throughput                  # all tasks, K = 1, 8, 32, 64, end to end
    python -m benchmarks.throughput --quick          # fewer epochs, for a smoke run
    python -m benchmarks.throughput --device cuda    # the engine on a GPU (end to end stays on CPU)

Everything is measured in the same process, one after the other, so the ratios
compare like with like. Reported per task (N = 256, batch 32):

- seconds per network-epoch (one parameter update of one network) for
  (a) the baseline: one network, ``torch.nn.Parameter`` weights, autograd through a
  Python loop over time steps, ``torch.tanh``, ``torch.optim.Adam``, trials generated
  one by one in Python (the typical research code), and
  (b) lrbook: ensembles of K = 1, 8, 32, 64 networks trained at once
  (:func:`lrbook.training.train`);
- achieved GFLOP/s, counting the matrix-product FLOPs of forward and backward
  (recurrent product forward, backward to the state, weight gradient:
  ``3 x 2 B N^2 T``, plus the input/readout products), against two limits measured
  in the same run:

  * the *GEMM peak*: one large matrix product (2048^3 float32 on CPU, 8192^3 on a GPU);
  * the *products-only* rate, the achievable limit of this engine: the matrix
    products of one training epoch of the K networks and nothing else, back to back,
    with the shapes, chunks and worker threads of :func:`lrbook.training.train`
    (:func:`products_seconds_per_network_epoch`). lrbook's "% of products" is the
    share of its time that is matrix products; the rest is the elementwise work of
    each step, the optimizer, data and bookkeeping;
- end to end, the user's path (``--e2e-epochs E``, flip-flop, K = 6 networks: g = 0,
  0.9, 1.8 x 2 seeds, N = 256): ``lrbook train flipflop --g 0 0.9 1.8 --neurons 256
  --epochs E --seeds 2 --json`` run in-process (:func:`lrbook.cli.main`), and
  :func:`lrbook.experiments.run_ensemble` (no cache) + :func:`lrbook.analysis.evaluate_result`,
  each split into set-up, training and evaluation, per network-epoch, beside the
  training loop's own time (``TrainResult.seconds``);
- the estimated time of the paper-scale nonlinear sweep from those numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from lrbook._threads import torch_threads
from lrbook.tasks import ContextIntegration, FlipFlop, Task, WorkingMemory
from lrbook.training import default_chunk, default_workers, model_for, train

N = 256
B = 32
#: The paper's nonlinear sweep (science.md section 3): (g max, epochs), 5 seeds, g step 0.3.
PAPER = {"flipflop": (2.1, 1000), "mante": (2.7, 2000), "romo": (3.0, 6000)}
TASKS = {"flipflop": FlipFlop, "mante": ContextIntegration, "romo": WorkingMemory}
#: The end-to-end run: ``lrbook train flipflop --g 0 0.9 1.8 --neurons 256 --seeds 2``.
E2E_G, E2E_SEEDS = (0.0, 0.9, 1.8), 2
CPU = torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def baseline_seconds_per_epoch(name: str, epochs: int, seed: int = 0,
                               device: torch.device = CPU) -> float:
    """A typical research training loop for one network (autograd over a Python time loop)."""
    task = TASKS[name]()
    T, dt = task.n_steps, task.dt
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    W = torch.nn.Parameter((0.9 * torch.randn(N, N, generator=gen) / np.sqrt(N)).to(device))
    W_in = torch.nn.Parameter(torch.randn(task.n_in, N, generator=gen).to(device))
    W_out = torch.nn.Parameter((torch.randn(N, task.n_out, generator=gen) / N).to(device))
    opt = torch.optim.Adam([W, W_in, W_out], lr=0.05 / N)

    def epoch():
        trials = [TRIALS[name](rng, T, dt) for _ in range(B)]
        u = torch.tensor(np.stack([t[0] for t in trials]), device=device)
        y = torch.tensor(np.stack([t[1] for t in trials]), device=device)
        m = torch.tensor(np.stack([t[2] for t in trials]), device=device)
        x = torch.zeros(B, N, device=device)
        zs = []
        for t in range(T):
            x = x + dt * (-x + torch.tanh(x) @ W.T + u[:, t] @ W_in)
            zs.append(torch.tanh(x) @ W_out)
        z = torch.stack(zs, 1)
        loss = 0.5 * (m * (z - y) ** 2).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(device)

    epoch()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return (time.perf_counter() - t0) / epochs


# ----------------------------------------------------------------------------- lrbook
def lrbook_seconds_per_network_epoch(name: str, K: int, epochs: int,
                                     device: torch.device = CPU) -> float:
    """:func:`lrbook.training.train` on K networks: its loop's seconds per network-epoch."""
    task = TASKS[name]()
    gs = np.linspace(0.0, PAPER[name][0], K)
    train(model_for(task, N, g=gs, seeds=range(K), device=device), task, 2)       # warm-up
    r = train(model_for(task, N, g=gs, seeds=range(K), device=device), task, epochs)
    return r.seconds / (epochs * K)


def products_seconds_per_network_epoch(task: Task, K: int, epochs: int,
                                       device: torch.device = CPU) -> float:
    """The achievable limit: only the matrix products of ``epochs`` training epochs of K networks.

    Exactly the products of :func:`lrbook.engine.forward` and :func:`lrbook.engine.backward`,
    with their shapes, strides and ``out=`` buffers, for each chunk of
    :func:`lrbook.training.default_chunk` networks, the chunks on
    :func:`lrbook.training.default_workers` threads of one core each (as :func:`train`):

    - forward, per step: ``[r_t, u_t] @ Mf``, (k, B, N+n_in) x (k, N+n_in, N+n_out), and
      once the readout of the last state, (k, B, N) x (k, N, n_out);
    - backward, per step: ``[h_{t+1}, dz_{t-1}] @ Mb``, (k, B, N+n_out) x (k, N+n_out, N)
      (one more for ``x0_mode="input"`` tasks, whose initial state is trained);
    - all weight gradients at once: ``HA^T RA``, (k, N+n_out, (T+1) B) x (k, (T+1) B, N+n_in).

    Nothing else runs: no nonlinearity, optimizer, data or loss.

    Returns
    -------
    float
        seconds per network-epoch.
    """
    T, n_in, n_out = task.n_steps, task.n_in, task.n_out
    workers = default_workers(K, device)
    chunk = default_chunk(K, workers, device)
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return (0.1 * torch.randn(*shape, generator=gen)).to(device)

    def buffers(k: int):
        RA, HA = rand(k, T + 1, B, N + n_in), rand(k, T + 1, B, N + n_out)
        return {"RA": RA, "HA": HA, "Mf": rand(k, N + n_in, N + n_out), "Mb": rand(k, N + n_out, N),
                "W_out": rand(k, N, n_out), "buf": rand(k, B, N + n_out), "bufb": rand(k, B, N),
                "z": rand(k, T, B, n_out), "G": rand(k, N + n_out, N + n_in),
                "ra": RA.unbind(1), "r_T": RA[:, T, :, :N], "ha": HA.unbind(1),
                "HAt": HA.view(k, (T + 1) * B, N + n_out).transpose(1, 2),
                "RAv": RA.view(k, (T + 1) * B, N + n_in)}

    chunks = [buffers(min(chunk, K - lo)) for lo in range(0, K, chunk)]
    extra = task.x0 == "input"

    def run(c: dict) -> None:
        Mf, Mb, buf, bufb, ra, ha = c["Mf"], c["Mb"], c["buf"], c["bufb"], c["ra"], c["ha"]
        for t in range(T):
            torch.bmm(ra[t], Mf, out=buf)
        torch.bmm(c["r_T"], c["W_out"], out=c["z"][:, T - 1])
        for t in range(T, -1 if extra else 0, -1):
            torch.bmm(ha[t], Mb, out=bufb)
        torch.bmm(c["HAt"], c["RAv"], out=c["G"])

    def epoch(pool) -> None:
        if pool is None:
            for c in chunks:
                run(c)
        else:
            list(pool.map(run, chunks))
        _sync(device)

    with torch_threads(None), contextlib.ExitStack() as stack:
        pool = None
        if workers > 1 and len(chunks) > 1:
            pool = stack.enter_context(ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                                          initargs=(1,)))
        epoch(pool)                                                            # warm-up
        t0 = time.perf_counter()
        for _ in range(epochs):
            epoch(pool)
        return (time.perf_counter() - t0) / (epochs * K)


def flops_per_network_epoch(task: Task) -> float:
    T = task.n_steps
    rec = 3 * 2 * B * N * N * T                     # forward, backward to the state, dL/dW
    io = 2 * B * T * N * (2 * task.n_in + 3 * task.n_out)
    return float(rec + io)


def gemm_peak(device: torch.device = CPU, repeats: int = 5) -> float:
    """GFLOP/s of one large float32 matrix product (2048^3 on CPU, 8192^3 on a GPU)."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def paper_sweep_networks(name: str) -> int:
    gmax = PAPER[name][0]
    return len(np.arange(0.0, gmax + 1e-9, 0.3)) * 5


# ----------------------------------------------------------------------------- end to end
@contextlib.contextmanager
def _timed(module, name: str, log: dict):
    """Replace ``module.name`` by a wrapper adding its wall time to ``log[name]`` (and, for
    a result with ``seconds``, the training loop's own time to ``log["loop"]``)."""
    fn = getattr(module, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        log[name] = log.get(name, 0.0) + time.perf_counter() - t0
        if hasattr(out, "seconds"):
            log["loop"] = log.get("loop", 0.0) + float(out.seconds)
        return out

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, fn)


def e2e_cli(epochs: int) -> dict:
    """``lrbook train flipflop --g 0 0.9 1.8 --neurons 256 --epochs E --seeds 2 --json``, in-process."""
    import lrbook.analysis
    import lrbook.training
    from lrbook import cli

    argv = ["train", "flipflop", "--g", *(f"{g:g}" for g in E2E_G), "--neurons", str(N),
            "--epochs", str(epochs), "--seeds", str(E2E_SEEDS), "--json"]
    log: dict = {}
    out = io.StringIO()
    with _timed(lrbook.training, "train", log), _timed(lrbook.analysis, "reports_from_result", log), \
            contextlib.redirect_stdout(out):
        t0 = time.perf_counter()
        code = cli.main(argv)
        total = time.perf_counter() - t0
    if code != 0 or len(json.loads(out.getvalue())) != len(E2E_G) * E2E_SEEDS:
        raise RuntimeError(f"lrbook {' '.join(argv)} failed (exit code {code})")
    return {"command": "lrbook " + " ".join(argv), "total": total, "training": log["train"],
            "evaluation": log["reports_from_result"], "loop": log["loop"],
            "setup": total - log["train"] - log["reports_from_result"]}


def e2e_api(epochs: int) -> dict:
    """:func:`lrbook.experiments.run_ensemble` (no cache) + :func:`lrbook.analysis.evaluate_result`."""
    import lrbook.experiments.run as run_mod
    from lrbook.analysis import evaluate_result
    from lrbook.experiments import EnsembleConfig, run_ensemble

    cfg = EnsembleConfig("flipflop", N=N, g=E2E_G, seeds=tuple(range(E2E_SEEDS)), epochs=epochs)
    log: dict = {}
    with _timed(run_mod, "train", log):
        t0 = time.perf_counter()
        res = run_ensemble(cfg, cache=False)
        t1 = time.perf_counter()
        evaluate_result(res, FlipFlop())
        t2 = time.perf_counter()
    cmd = (f"run_ensemble(EnsembleConfig('flipflop', N={N}, g={E2E_G}, seeds={cfg.seeds}, "
           f"epochs={epochs}), cache=False) + evaluate_result(res, FlipFlop())")
    return {"command": cmd, "total": t2 - t0,
            "training": log["train"], "evaluation": t2 - t1, "loop": log["loop"],
            "setup": t1 - t0 - log["train"]}


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--K", nargs="+", type=int, default=[1, 8, 32, 64])
    p.add_argument("--quick", action="store_true", help="fewer epochs (smoke run)")
    p.add_argument("--device", default="cpu", help="where the engine and the baseline run (cpu, cuda, "
                   "cuda:1; default cpu); the end-to-end paths always run on CPU")
    p.add_argument("--e2e-epochs", type=int, default=None, metavar="E",
                   help="epochs of the end-to-end runs (default 1000, the paper's flip-flop; 10 with "
                        "--quick); 0 skips them")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error(f"--device {a.device}: torch has no CUDA device here")
    base_epochs = 3 if a.quick else 10
    e2e_epochs = a.e2e_epochs if a.e2e_epochs is not None else (10 if a.quick else 1000)
    peak = gemm_peak(device)
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        (platform.processor() or platform.machine())
    out = {"machine": dev_name, "device": str(device), "threads": torch.get_num_threads(),
           "torch": torch.__version__, "N": N, "batch": B, "gemm_peak_gflops": peak, "tasks": {}}
    print(f"# torch {torch.__version__}, device {device} ({dev_name}), {torch.get_num_threads()} threads, "
          f"float32 GEMM peak: {peak:.0f} GFLOP/s\n")
    print("| task | engine | K | ms / network-epoch | speed-up | GFLOP/s | % of GEMM peak "
          "| products-only GFLOP/s | % of products-only |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in a.tasks:
        task = TASKS[name]()
        fl = flops_per_network_epoch(task)
        base = baseline_seconds_per_epoch(name, base_epochs, device=device)
        row: dict = {"baseline_s": base, "flops": fl, "lrbook_s": {}, "products_s": {}}
        print(f"| {name} | baseline loop | 1 | {base * 1e3:.1f} | 1.0x | {fl / base / 1e9:.0f} | "
              f"{100 * fl / base / 1e9 / peak:.0f}% | - | - |")
        for K in a.K:
            ep = max(4, (16 if a.quick else 64) // K)
            prod = products_seconds_per_network_epoch(task, K, ep, device)
            s = lrbook_seconds_per_network_epoch(name, K, ep, device)
            row["lrbook_s"][K] = s
            row["products_s"][K] = prod
            print(f"| {name} | lrbook | {K} | {s * 1e3:.1f} | {base / s:.1f}x | {fl / s / 1e9:.0f} | "
                  f"{100 * fl / s / 1e9 / peak:.0f}% | {fl / prod / 1e9:.0f} | {100 * prod / s:.0f}% |")
            sys.stdout.flush()
        out["tasks"][name] = row
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
    if e2e_epochs > 0:
        K = len(E2E_G) * E2E_SEEDS
        ne = K * e2e_epochs
        print(f"\n## End to end on CPU (flip-flop, K = {K} networks, N = {N}, {e2e_epochs} epochs)\n")
        print("| path | set-up (s) | training (s) | evaluation (s) | total (s) | ms / network-epoch "
              "| training loop ms / network-epoch | total / training loop |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        out["end_to_end"] = {"epochs": e2e_epochs, "K": K}
        for label, fn in (("lrbook train (CLI)", e2e_cli), ("run_ensemble + evaluate_result", e2e_api)):
            r = fn(e2e_epochs)
            out["end_to_end"][label] = r
            print(f"| {label} | {r['setup']:.2f} | {r['training']:.2f} | {r['evaluation']:.2f} | "
                  f"{r['total']:.2f} | {r['total'] / ne * 1e3:.1f} | {r['loop'] / ne * 1e3:.1f} | "
                  f"{r['total'] / r['loop']:.2f}x |")
            sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
