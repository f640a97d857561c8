"""Property tests over the argument space of the CLI and the public API (issue 20).

Every call either succeeds or is refused cleanly: the API raises ValueError or
TypeError (a diverging training, TrainingDivergedError, is a result, not a crash),
the CLI exits 2 with one line on stderr naming a parameter; never a traceback, a
MemoryError or an OverflowError, and never a partial file in the cache. Nearly every
case is refused or stops at ``--dry-run`` before training; the few that train are a
handful of neurons for one or two epochs.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrbook import cli
from lrbook.analysis import analyse, norm_dW, singular_values
from lrbook.experiments import CacheWarning, EnsembleConfig, NetworkConfig, ResultCache
from lrbook.models import RNN
from lrbook.tasks import TASKS, make_task
from lrbook.training import TrainingDivergedError, model_for, train

CLEAN = (ValueError, TypeError)
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow])

# --------------------------------------------------------------------------- CLI
#: Numbers as a user types them: valid, out of range, huge, tiny, non-finite, not numbers.
NUMBERS = ["0", "1", "2", "3", "16", "-1", "-0", "0.5", "1.5", "2.1", "1e308", "-1e308", "1e-320", "1e39",
           "3e38", "nan", "inf", "-inf", "10000000", "100000000", "100000000000000000000000",
           "9223372036854775807", "9223372036854775808", "abc", "", " ", "0x10", "1_000", "1e", "--"]
TRAIN_OPTS = ["--g", "--neurons", "-N", "--epochs", "--seeds", "--seed", "--lr", "--zhat", "--threads"]
SWEEP_OPTS = ["--workers", "--max-ensemble", "--threads"]
#: Words that name a parameter in a one-line error.
NAMED = re.compile(r"unrecognized arguments: |argument |--[a-z][a-z-]*|"
                   r"\b(neurons|g|seed|seeds|epochs|lr|z_hat|zhat|phi|threads|"
                   r"task|TASK|COMMAND|cache|workers|max-ensemble|scale|preset|tasks|N)\b")

number = st.sampled_from(NUMBERS)
option_pair = st.tuples(st.sampled_from(TRAIN_OPTS), st.lists(number, min_size=1, max_size=3))


def _main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = cli.main(argv)          # must not raise: a raise here fails the test with its traceback
    return code, out.getvalue(), err.getvalue()


def _check_cli(code, out, err, *, ok_codes=(0,)):
    assert "Traceback" not in err and "MemoryError" not in err and "OverflowError" not in err, err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("lrbook") and "error" in lines[0], err
        assert NAMED.search(lines[0]), f"the error names no parameter: {lines[0]}"
        assert out == ""
    else:
        assert code in ok_codes, (code, err)


def _no_partial_files(folder):
    if not folder.exists():
        return
    bad = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert not bad, bad
    nets = folder / "networks"
    if nets.is_dir():
        for p in nets.iterdir():                 # any stored network is complete and verifiable
            assert p.suffix == ".npz" and p.stat().st_size > 0, p


@settings(max_examples=400, **SETTINGS)
@given(task=st.sampled_from([*TASKS, "nosuch", ""]), pairs=st.lists(option_pair, max_size=4),
       phi=st.sampled_from([None, "tanh", "linear", "elu", ""]), json_flag=st.booleans())
def test_cli_train_either_plans_or_refuses_in_one_line(task, pairs, phi, json_flag):
    argv = ["train", task]
    for opt, values in pairs:
        argv += [opt, *values]
    if phi is not None:
        argv += ["--phi", phi]
    if json_flag:
        argv.append("--json")
    argv.append("--dry-run")                     # validate everything, train nothing
    code, out, err = _main(argv)
    _check_cli(code, out, err)
    if code == 0:
        assert "dry run: nothing trained" in out and err == ""


@settings(max_examples=100, **SETTINGS)
@given(scale=st.sampled_from(["ci"] * 6 + [None, "paper", "huge"]),      # mostly the small preset (fast)
       pairs=st.lists(st.tuples(st.sampled_from(SWEEP_OPTS), number), max_size=3),
       cache=st.sampled_from(["dir", "", "  ", "file", "networks-is-file", "new/sub/dir", None]),
       tasks=st.sampled_from([None, ["flipflop"], ["romo", "mante"], ["cosine"], []]))
def test_cli_sweep_either_plans_or_refuses_in_one_line(tmp_path_factory, scale, pairs, cache, tasks):
    root = tmp_path_factory.mktemp("sweep")
    (root / "file").write_text("x")
    (root / "networks-is-file").mkdir()
    (root / "networks-is-file" / "networks").write_text("x")
    argv = ["sweep", "--no-progress", "--dry-run"]
    if scale is not None:
        argv += ["--scale", scale]
    for opt, value in pairs:
        argv += [opt, value]
    if cache is not None:
        argv += ["--cache", cache if cache.strip() == "" else str(root / cache)]
    else:
        argv += ["--cache", str(root / "default")]
    if tasks is not None:
        argv += ["--tasks", *tasks]
    code, out, err = _main(argv)
    _check_cli(code, out, err)
    if code == 0:
        assert "dry run: nothing trained" in out
    for sub in ("dir", "new", "default"):
        _no_partial_files(root / sub)


@settings(max_examples=6, **SETTINGS)
@given(task=st.sampled_from(list(TASKS)), N=st.integers(1, 4), g=st.sampled_from(["0", "0.5", "6", "1e30"]),
       lr=st.sampled_from([None, "1e-3", "1e30"]), seeds=st.integers(1, 2))
def test_cli_train_small_networks_for_real(task, N, g, lr, seeds):
    """A few real runs: they finish (0), diverge (3), or are refused (2: g >= 1 for fixedpoint)."""
    argv = ["train", task, "-N", str(N), "--epochs", "1", "--g", g, "--seeds", str(seeds), "--threads", "1",
            "--json"]
    if lr is not None:
        argv += ["--lr", lr]
    code, out, err = _main(argv)
    _check_cli(code, out, err, ok_codes=(0, 3))
    if code == 3:
        assert len(err.strip().splitlines()) == 1 and "diverged at epoch" in err


# --------------------------------------------------------------------------- public API
NASTY = [0, 1, 2, -1, 1.5, float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 1e-320, 10 ** 23, 2 ** 63,
         2 ** 63 - 1, True, None, "1", "abc", b"1", [], [1, 2], (0.5,), np.float32(0.5), np.int64(3),
         np.array(2), np.array([1.0, 2.0]), np.array([[1.0]]), complex(1, 1), {}, object()]
small_int = st.integers(1, 4)
nasty = st.sampled_from(NASTY)
sizes = st.one_of(small_int, st.sampled_from([0, -3, 10 ** 7, 10 ** 30, 2.0, "8", None, True, np.int32(3)]))
gs = st.one_of(st.floats(0, 3), st.lists(st.floats(0, 2), min_size=1, max_size=3), nasty,
               st.sampled_from([range(10 ** 9), np.zeros(20_000), [0.1, float("nan")], [1e308], 3.3e38]))
seed_vals = st.one_of(st.integers(0, 10), nasty, st.sampled_from([range(10 ** 9), [0, 1], [0, -1], [2 ** 64]]))
devices = st.sampled_from(["cpu", "nope", "cuda", "cuda:7", "mps", 3, None, torch.device("cpu"), "meta", ""])
dtypes = st.sampled_from([torch.float32, torch.float64, torch.int64, torch.float16, torch.complex64, "float64",
                          "float32", "int8", np.float64, np.int32, None, "x", 3])


@settings(max_examples=150, **SETTINGS)
@given(task=st.sampled_from(list(TASKS) + [None, "flipflop"]), N=sizes, g=gs, seeds=seed_vals,
       phi=st.sampled_from([None, "tanh", "relu", "elu", 3]), sigma=st.sampled_from([0.0, 0.1, -1.0, 1e308,
                                                                                      float("nan"), "x"]),
       device=devices, dtype=dtypes)
def test_model_for_succeeds_or_raises_cleanly(task, N, g, seeds, phi, sigma, device, dtype):
    task_obj = make_task(task) if isinstance(task, str) and task in TASKS and task != "flipflop" else task
    try:
        m = model_for(task_obj, N, g, seeds, phi=phi, sigma=sigma, device=device, dtype=dtype)
    except CLEAN:
        return
    assert m.N == N and m.W.dtype in (torch.float32, torch.float64)
    assert all(torch.isfinite(t).all() for t in (m.W, m.W_in, m.W_out))


@settings(max_examples=120, **SETTINGS)
@given(task=st.sampled_from(["flipflop", "fixedpoint", "cosine", "romo"]),
       epochs=st.one_of(st.integers(1, 2), st.sampled_from([0, -1, 10 ** 15, 1.5, "1", None, True])),
       lr=st.one_of(st.none(), st.sampled_from([1e-3, 1e30, 1e39, -1.0, 0.0, float("nan"), 1e-320, [1e-3, 1e-3],
                                                [1e-3] * 3, "x", np.array([1e-3])])),
       batch_size=st.sampled_from([None, 1, 2, 0, -1, 10 ** 12, 2.5]),
       optimizer=st.sampled_from([None, "adam", "sgd", "rmsprop"]),
       snapshot_every=st.sampled_from([None, 1, 0, 10 ** 12]),
       on_divergence=st.sampled_from(["raise", "stop", "ignore"]),
       threads=st.sampled_from([None, 1, 0, 10 ** 9]), chunk=st.sampled_from([None, 1, 0, 10 ** 9]),
       workers=st.sampled_from([None, 1, 2, 0, 10 ** 9]))
def test_train_succeeds_or_raises_cleanly(task, epochs, lr, batch_size, optimizer, snapshot_every,
                                          on_divergence, threads, chunk, workers):
    t = make_task(task)
    m = model_for(t, 3, g=[0.0, 0.5], seeds=0)
    before = torch.get_num_threads()
    try:
        r = train(m, t, epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                  snapshot_every=snapshot_every, on_divergence=on_divergence, threads=threads,
                  chunk_size=chunk, workers=workers)
    except (*CLEAN, TrainingDivergedError):
        assert torch.isfinite(m.W).all()                     # the model keeps finite weights
        return
    finally:
        assert torch.get_num_threads() == before
    assert np.isfinite(r.W).all() and r.loss.shape == (epochs, 2)


@settings(max_examples=120, **SETTINGS)
@given(name=st.sampled_from(list(TASKS)),
       params=st.dictionaries(st.sampled_from(["dt", "t_max", "z_hat", "amplitude", "level", "fixation",
                                               "readout", "period", "n_periods", "noise_std", "n_bits",
                                               "coherences", "delay", "min_diff", "bogus"]),
                              st.one_of(nasty, st.sampled_from([0.1, 0.5, 5.0, 1e9, 1e30, 3.5e38, (0.5, 1e39)])),
                              max_size=3),
       B=st.sampled_from([1, 2, 0, 10 ** 12, 1.0, None]))
def test_tasks_succeed_or_raise_cleanly(name, params, B):
    try:
        task = make_task(name, **params)
    except CLEAN:
        return
    if task.n_steps > 2000:                              # valid but long: do not draw it here
        return
    try:
        batch = task.batch(B, rng=0)
    except CLEAN:
        return
    assert all(np.isfinite(a).all() and a.dtype == np.float32 for a in batch)


config_kw = st.fixed_dictionaries({}, optional={
    "N": sizes, "g": gs, "seed": seed_vals, "seeds": seed_vals, "epochs": sizes, "lr": nasty,
    "optimizer": st.sampled_from(["adam", "sgd", "x", None, 3]), "batch_size": sizes,
    "trained": st.sampled_from([None, ("W",), (), ("U",), "W", 3]), "phi": st.sampled_from([None, "relu", "x"]),
    "snapshot_every": sizes, "task_params": st.sampled_from([None, {}, {"dt": 2.0}, {"z_hat": 1e308}, [("dt", 0.5)],
                                                             {"bogus": 1}, "x"])})


@settings(max_examples=150, **SETTINGS)
@given(kind=st.sampled_from(["network", "ensemble"]), task=st.sampled_from(["flipflop", "fixedpoint", "x", 3]),
       kw=config_kw)
def test_configs_succeed_or_raise_cleanly(kind, task, kw):
    kw = dict(kw)
    if kind == "network":
        kw.pop("seeds", None)
        cls = NetworkConfig
    else:
        kw.pop("seed", None)
        cls = EnsembleConfig
    try:
        c = cls(task, **kw)
    except CLEAN:
        return
    assert len(c.key) == 64 and cls.from_dict(c.to_dict()) == c


@settings(max_examples=60, **SETTINGS)
@given(folder=st.sampled_from(["", " ", 3, b"x", "a\0b", "ok", "file", "file/below", None, ["x"]]),
       read_only=st.sampled_from([False, True, 1]))
def test_result_cache_succeeds_or_raises_cleanly(tmp_path_factory, folder, read_only):
    root = tmp_path_factory.mktemp("cache")
    (root / "file").write_text("x")
    if isinstance(folder, str) and folder.strip() and "\0" not in folder:
        folder = str(root / folder)
    elif folder is None:
        folder = str(root / "default")
    try:
        cache = ResultCache(folder, read_only=read_only)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheWarning)
            writable = cache.check()
    except CLEAN:
        return
    assert writable is (not read_only)
    _no_partial_files(cache.root)


arrays = st.one_of(
    st.integers(0, 4).flatmap(lambda n: st.sampled_from([
        np.eye(n), np.eye(n) + 1j, np.full((n, n), np.nan), np.full((n, n), np.inf), np.ones((n, n), dtype=int),
        np.ones((n, n + 1)), np.ones((2, n, n)), np.ones(n), torch.eye(n), torch.eye(n, dtype=torch.complex64),
        torch.eye(n, dtype=torch.bfloat16), np.eye(n).tolist(), np.full((n, n), 1e308)])),
    nasty, st.sampled_from([[[1, 2], [3]], "ab", [["a", "b"], ["c", "d"]]]))


@settings(max_examples=150, **SETTINGS)
@given(W0=arrays, W=arrays, r_align=st.sampled_from([None, 1, 3, 0, "x"]),
       ranks=st.sampled_from([None, [0, 1], [5], [-1], "x", [1.5]]))
def test_analysis_succeeds_or_raises_cleanly(W0, W, r_align, ranks):
    kw = {} if ranks is None else {"ranks": ranks}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                # overflow of 1e308 entries: allowed
        warnings.simplefilter("error", np.exceptions.ComplexWarning)   # the imaginary part is never dropped
        for call in (lambda: analyse(W0, W, lambda w: float(np.sum(np.square(w))), r_align=r_align, **kw),
                     lambda: norm_dW(W0, W), lambda: singular_values(W)):
            try:
                call()
            except CLEAN:
                pass


def test_rnn_inputs_with_nan_or_unrepresentable_values_are_refused():
    m = RNN.create(4, 1, 1)
    for bad in (np.full((1, 3, 1), np.nan), np.full((1, 3, 1), 1e308), [[["x"]]]):
        with pytest.raises(CLEAN):
            m.forward(bad)
