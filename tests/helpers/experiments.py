"""Tiny configurations and checks shared by test_experiments, test_cache and test_sweep."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lrbook.experiments import EnsembleConfig, NetworkConfig

#: Arrays of an EnsembleResult compared bit for bit.
FIELDS = ("loss", "grad_norm", "W0", "W", "W_in0", "W_in", "W_out0", "W_out", "g", "seeds",
          "lr", "diverged_epoch")


def tiny(**kw) -> EnsembleConfig:
    """A flip-flop ensemble small enough for a unit test (N=16, 2 x 2 networks, 20 epochs)."""
    base = dict(task="flipflop", N=16, g=(0.0, 0.9), seeds=(0, 1), epochs=20)
    base.update(kw)
    return EnsembleConfig(**base)


def assert_same_arrays(a, b, fields=FIELDS) -> None:
    """Bit-identical arrays (dtype, shape and bytes) of two results."""
    for f in fields:
        x, y = np.asarray(getattr(a, f)), np.asarray(getattr(b, f))
        assert x.dtype == y.dtype and x.shape == y.shape, f
        assert x.tobytes() == y.tobytes(), f"{f} differs"


def kill_networks(n: int = 6, epochs: int = 200) -> list[NetworkConfig]:
    """Networks for the kill tests: one ensemble each with max_ensemble=1."""
    return [NetworkConfig("flipflop", N=16, g=0.3 * i, seed=0, epochs=epochs) for i in range(n)]


CHILD = """
import signal, sys
# a sweep run from a terminal gets Ctrl-C as KeyboardInterrupt; a shell that started
# the tests in the background would have the child inherit SIGINT as ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
from lrbook.experiments import sweep
sys.path.insert(0, sys.argv[2])
from helpers.experiments import kill_networks
sweep(kill_networks(), max_ensemble=1, progress=False, cache=sys.argv[1], threads=1)
"""


def start_child_sweep(folder: Path) -> subprocess.Popen:
    """Run the kill-test sweep in a fresh Python process writing to ``folder``."""
    tests_dir = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", CHILD, str(folder), tests_dir], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_results(folder: Path, proc: subprocess.Popen, n: int = 1, timeout: float = 180.0) -> int:
    """Poll ``folder/networks`` until ``n`` finished results exist; return how many."""
    t0 = time.monotonic()
    nets = folder / "networks"
    while time.monotonic() - t0 < timeout:
        done = len(list(nets.glob("*.npz"))) if nets.is_dir() else 0
        if done >= n:
            return done
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child sweep exited early with {proc.returncode}: {err.decode()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("no result appeared in time")
