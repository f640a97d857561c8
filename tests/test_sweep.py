"""lrbook.experiments.sweep: grouping, resume, executors (Dask), and real kills."""

import signal
import warnings

import numpy as np
import pytest
from helpers.experiments import assert_same_arrays, kill_networks, start_child_sweep, tiny, wait_for_results

from lrbook.experiments import EnsembleConfig, ResultCache, run_ensemble, sweep
from lrbook.experiments import run as run_mod
from lrbook.experiments.cache import _host
from lrbook.experiments.sweep import expand, plan
from lrbook.training import train


def test_plan_groups_compatible_networks_in_bounded_ensembles():
    nets = expand([tiny(g=(0.0, 0.3, 0.6), seeds=(0, 1, 2)),            # 9 flip-flop N=16
                   tiny(N=8, g=(0.0,), seeds=(0, 1)),                     # other N
                   tiny(g=(0.0,), seeds=(5,), lr=1e-3),                   # other lr: same group
                   tiny(g=(0.0,), seeds=(0,))])                           # duplicate
    assert len(nets) == 12
    groups = plan(nets, max_ensemble=4)
    assert [len(g) for g in groups] == [4, 3, 3, 2]
    assert all(len({c.group_key for c in g}) == 1 for g in groups)
    assert sorted(c.key for g in groups for c in g) == sorted(c.key for c in nets)
    assert [(c.g, c.seed) for c in groups[0]] == [(0.0, 0), (0.0, 1), (0.0, 2), (0.0, 5)]
    assert {c.N for c in groups[-1]} == {8}


def test_sweep_resumes_and_groups(tmp_path, monkeypatch):
    calls = []

    def counted(model, *a, **kw):
        calls.append(model.K)
        return train(model, *a, **kw)

    monkeypatch.setattr(run_mod, "train", counted)
    first = tiny(g=(0.0, 0.9), seeds=(0,))
    r1 = sweep(first, cache=tmp_path, progress=False, threads=1)
    assert r1.n_trained == 2 and calls == [2]
    both = [first, tiny(g=(0.0, 0.9, 1.5), seeds=(1,)), tiny(g=(1.5,), seeds=(0,))]
    r2 = sweep(both, cache=tmp_path, max_ensemble=3, progress=False, threads=1)
    assert r2.status == ["cached", "cached", "trained", "trained", "trained", "trained"]
    assert r2.groups == [2, 2] and calls == [2, 2, 2]
    assert r2.n_cached == 2 and r2.n_trained == 4 and r2.n_diverged == 0
    r3 = sweep(both, cache=tmp_path, progress=False)
    assert r3.n_trained == 0 and calls == [2, 2, 2]
    assert [s["key"] for s in r3.summaries] == [n.key for n in r3.networks]
    d = r3.to_dict()
    assert d["n_networks"] == 6 and all(n["status"] == "cached" for n in d["networks"])
    # results written by the sweep are what run_ensemble reads
    assert run_ensemble(tiny(g=(0.0, 0.9, 1.5), seeds=(0, 1)), cache=tmp_path).from_cache.all()


def test_sweep_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="max_ensemble must be an integer >= 1; got 0"):
        sweep(tiny(), cache=tmp_path, max_ensemble=0, progress=False)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        sweep(tiny(), cache=tmp_path, executor=object(), progress=False)
    with pytest.raises(TypeError, match="configs must hold EnsembleConfig or NetworkConfig"):
        sweep(["flipflop"], cache=tmp_path, progress=False)


def test_sweep_on_dask_local_cluster_matches_local_run(tmp_path):
    """Two worker *processes* (processes=True): each has its own torch thread settings
    and no GIL sharing, and the results really cross process boundaries through the
    shared cache folder, which is what a cluster does."""
    distributed = pytest.importorskip("distributed")
    configs = [tiny(g=(0.0, 0.9), seeds=(0, 1)), tiny(N=8, g=(0.5,), seeds=(2,))]
    local = sweep(configs, cache=tmp_path / "local", max_ensemble=2, progress=False, threads=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(configs, cache=tmp_path / "dask", executor=client.get_executor(),
                       max_ensemble=2, progress=False, threads=1)
        pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert remote.groups == local.groups == [2, 2, 1] and remote.n_trained == 5
    assert len(pids) == 2
    for c in configs:
        a = run_ensemble(c, cache=tmp_path / "local")
        b = run_ensemble(c, cache=tmp_path / "dask")
        assert a.from_cache.all() and b.from_cache.all()
        assert_same_arrays(a, b)
    assert sorted(ResultCache(tmp_path / "dask").keys()) == sorted(ResultCache(tmp_path / "local").keys())


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_sweep_keeps_finished_results_and_resumes(tmp_path, sig):
    nets = kill_networks()
    proc = start_child_sweep(tmp_path)
    try:
        wait_for_results(tmp_path, proc, n=1)
        proc.send_signal(sig)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0                                           # it was cut short
    cache = ResultCache(tmp_path)
    done = cache.keys()
    assert 1 <= len(done) < len(nets)
    if sig == signal.SIGINT:
        assert cache.temp_files() == []                                   # cleaned up on the way out
    # a half-written file of the dead writer is never read; plant one to be sure
    victim = next(n for n in nets if n.key not in done)
    fake = cache.networks / f".{victim.key}.{_host()}.{proc.pid}.dead.tmp"
    fake.write_bytes(b"PK\x03\x04half")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                    # no corrupt file found
        finished = {k: cache.load(n) for n in nets if (k := n.key) in done}
        assert all(p is not None and p.result.loss.shape == (200, 1) for p in finished.values())
        again = sweep(nets, cache=tmp_path, progress=False, threads=1)
    assert again.n_cached == len(done) and again.n_trained == len(nets) - len(done)
    assert [s == "cached" for s in again.status] == [n.key in done for n in nets]
    assert cache.temp_files() == [] and len(cache.keys()) == len(nets)
    # the results that survived the kill are the ones a clean run computes
    first = next(n for n in nets if n.key in done)
    clean = run_ensemble(EnsembleConfig("flipflop", N=16, g=first.g, seeds=first.seed, epochs=200),
                         cache=False, threads=1)
    np.testing.assert_array_equal(finished[first.key].result.W, clean.W)



# --------------------------------------------------------------------------- issue 20
def _diverging(epochs=3):
    """A linear network at g = 6 (it blows up at once) beside two healthy ones."""
    return EnsembleConfig("flipflop", N=16, g=(0.0, 0.5, 6.0), seeds=(0,), epochs=epochs, phi="linear")


def test_diverging_network_never_takes_the_healthy_ones_down(tmp_path, monkeypatch):
    """Item 8 through the API: run_ensemble and sweep."""
    from lrbook.experiments import DivergenceWarning

    calls = []

    def counted(model, *a, **kw):
        calls.append(model.K)
        return train(model, *a, **kw)

    monkeypatch.setattr(run_mod, "train", counted)
    cfg = _diverging()
    with pytest.warns(DivergenceWarning, match=r"1 of 3 networks diverged .*g=6 seed=0: diverged at epoch 0"):
        res = run_ensemble(cfg, cache=tmp_path / "a", threads=1)
    assert calls == [3] and res.diverged.tolist() == [False, False, True]
    assert np.isfinite(res.loss[:, :2]).all() and np.isfinite(res.W).all()       # last finite weights
    np.testing.assert_array_equal(res.W[2], res.W0[2])                           # it diverged at epoch 0
    assert len(ResultCache(tmp_path / "a").keys()) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                           # a rerun: silent, no training
        again = run_ensemble(cfg, cache=tmp_path / "a", threads=1)
    assert calls == [3] and again.from_cache.all() and again.diverged_epoch.tolist() == [-1, -1, 0]
    assert_same_arrays(again, res)
    # the same through sweep, in another cache
    with pytest.warns(DivergenceWarning, match="g=6 seed=0"):
        s = sweep(cfg, cache=tmp_path / "b", progress=False, threads=1)
    assert calls == [3, 3] and s.n_trained == 3 and s.n_diverged == 1
    assert [d["g"] for d in s.diverged] == [6.0] and s.diverged_report() == [
        "flipflop N=16 g=6 seed=0: diverged at epoch 0"]
    s2 = sweep(cfg, cache=tmp_path / "b", progress=False)
    assert calls == [3, 3] and s2.n_cached == 3 and s2.n_diverged == 1 and s2.to_dict()["diverged"] == [
        cfg.networks()[2].key]


def test_sweep_checks_memory_of_its_largest_ensemble_before_training(tmp_path, monkeypatch):
    from lrbook import _memory

    monkeypatch.setattr(_memory, "available_bytes", lambda device="cpu": 10 ** 6)    # a 1 MB machine
    with pytest.raises(ValueError, match=r"max_ensemble \(networks per ensemble\)=4, .*needs about "
                                         r".*976.6 KiB is available"):
        sweep(tiny(), cache=tmp_path, progress=False)
    assert ResultCache(tmp_path).keys() == []


def test_readme_says_what_a_killed_sweep_keeps():
    """Item 7: the resumption is per ensemble (networks of an ensemble finish together)."""
    import importlib
    from pathlib import Path

    sweep_mod = importlib.import_module("lrbook.experiments.sweep")

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert "resumes where it stopped" not in readme
    assert "loses at most the ensemble in progress" in readme
    assert "The unit of resumption is the group, not the network" in " ".join(sweep_mod.__doc__.split())


def test_a_sweep_without_progress_does_not_import_tqdm(tmp_path):
    """tqdm.auto warns on stderr in a notebook without ipywidgets, even for a disabled bar:
    a sweep with progress=False (the chapters') must not import it."""
    import subprocess
    import sys

    code = ("import sys; from lrbook.experiments import EnsembleConfig, sweep; "
            f"sweep(EnsembleConfig('flipflop', N=8, g=(0.0,), seeds=(0,), epochs=2), cache={str(tmp_path)!r}, "
            "progress=False); assert 'tqdm.auto' not in sys.modules, 'tqdm.auto imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_process_pool_spawns_workers_that_match_a_local_run(tmp_path):
    """The chapters' pool: spawned processes (no fork after torch's threads start),
    and the networks it trains are those of an in-process run, bit for bit."""
    from lrbook.experiments import process_pool, usable_cores

    configs = [tiny(g=(0.0, 0.9), seeds=(0, 1))]
    local = sweep(configs, cache=tmp_path / "local", max_ensemble=1, progress=False, threads=1)
    with process_pool(2) as pool:
        assert pool._mp_context.get_start_method() == "spawn"
        remote = sweep(configs, cache=tmp_path / "pool", executor=pool, max_ensemble=1,
                       progress=False, threads=1)
    assert remote.n_trained == local.n_trained == 4
    a = run_ensemble(configs[0], cache=tmp_path / "local")
    b = run_ensemble(configs[0], cache=tmp_path / "pool")
    assert a.from_cache.all() and b.from_cache.all()
    assert_same_arrays(a, b)
    assert 1 <= usable_cores() <= (__import__("os").cpu_count() or 1)


@pytest.mark.parametrize("bad", [0, 1025, 2.5, "2", True])
def test_process_pool_refuses_bad_workers_before_starting(bad):
    from lrbook.experiments import process_pool

    with pytest.raises((ValueError, TypeError), match="workers"):
        process_pool(bad)
