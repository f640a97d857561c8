"""lrbook.experiments: configs and keys, cached ensemble runs, presets, the sweep CLI."""

import argparse
import json
import sys

import numpy as np
import pytest
from helpers.experiments import assert_same_arrays, tiny

import lrbook
from lrbook import cli_sweep as sweep_cli
from lrbook.experiments import (
    EnsembleConfig,
    NetworkConfig,
    ResultCache,
    nonlinear_sweep,
    nscaling_sweep,
    run_ensemble,
    summaries,
    train_networks,
)
from lrbook.experiments import run as run_mod
from lrbook.experiments import specs as cfg_mod
from lrbook.training import model_for, train


# --------------------------------------------------------------------------- configs
def test_config_resolves_defaults_and_round_trips():
    c = tiny()
    assert c.K == 4
    assert (c.optimizer, c.batch_size, c.phi, c.trained) == ("adam", 32, "tanh", ("W_in", "W", "W_out"))
    assert c.lr is None
    assert dict(c.task_params)["t_max"] == 50.0 and dict(c.task_params)["interval"] == (5.0, 25.0)
    d = json.loads(json.dumps(c.to_dict()))
    assert EnsembleConfig.from_dict(d) == c
    n = c.networks()[3]
    assert NetworkConfig.from_dict(json.loads(json.dumps(n.to_dict()))) == n
    fp = EnsembleConfig("fixedpoint", N=8, g=0.5, seeds=0, epochs=3)
    assert (fp.optimizer, fp.batch_size, fp.phi, fp.trained) == ("sgd", 1, "linear", ("W",))


def test_networks_are_g_major_and_ensembles_share_network_keys():
    c = tiny(g=(0.0, 0.3 * 3), seeds=(4, 7))
    assert [(n.g, n.seed) for n in c.networks()] == [(0.0, 4), (0.0, 7), (0.9, 4), (0.9, 7)]
    other = tiny(g=(0.9, 1.5), seeds=(7,))
    shared = {n.key for n in c.networks()} & {n.key for n in other.networks()}
    assert shared == {NetworkConfig("flipflop", N=16, g=0.9, seed=7, epochs=20).key}


def test_key_is_stable_canonical_and_sensitive():
    a = tiny()
    # equal experiments spelled differently: same key
    b = EnsembleConfig(task=lrbook.FlipFlop(t_max=50), N=16, g=[0, 0.9], seeds=[0, 1], epochs=20,
                       optimizer="adam", batch_size=32, trained=["W", "W_out", "W_in"])
    assert b == a and b.key == a.key and len(a.key) == 64
    assert tiny(task_params={"t_max": 50}).key == a.key
    # any change of what is trained: another key
    changed = [tiny(N=17), tiny(epochs=21), tiny(lr=1e-3), tiny(optimizer="sgd"), tiny(batch_size=8),
               tiny(trained=("W",)), tiny(phi="linear"), tiny(snapshot_every=5),
               tiny(task_params={"t_max": 40}), tiny(g=(0.0, 1.0)), tiny(seeds=(0, 2))]
    keys = {c.key for c in changed}
    assert len(keys) == len(changed) and a.key not in keys
    # the network key covers g and seed
    nk = [n.key for n in a.networks()]
    assert len(set(nk)) == 4


def test_key_includes_code_and_schema_version(monkeypatch):
    n = tiny().networks()[0]
    k = n.key
    monkeypatch.setattr(cfg_mod, "__version__", "999.0")
    assert n.key != k
    monkeypatch.undo()
    monkeypatch.setattr(cfg_mod, "SCHEMA_VERSION", cfg_mod.SCHEMA_VERSION + 1)
    assert n.key != k


@pytest.mark.parametrize("kw, match", [
    (dict(N=0), "N must be an integer >= 1; got 0"),
    (dict(g=(-0.5,)), r"g\[0\] must be >= 0.0 and finite; got -0.5"),
    (dict(g=(0.0, 0.0)), "g must not repeat"),
    (dict(seeds=(1, 1)), "seeds must not repeat"),
    (dict(seeds=(-1,)), r"seeds\[0\] must be an integer >= 0; got -1"),
    (dict(seeds=()), "seeds must be non-empty"),
    (dict(epochs=0), "epochs must be an integer >= 1; got 0"),
    (dict(lr=-1.0), "lr must be > 0.0 and finite; got -1.0"),
    (dict(optimizer="rmsprop"), "optimizer must be one of adam, sgd; got 'rmsprop'"),
    (dict(batch_size=0), "batch_size must be an integer >= 1; got 0"),
    (dict(trained=("U",)), "trained must be one of W_in, W, W_out; got 'U'"),
    (dict(trained=()), "trained must name at least one"),
    (dict(phi="elu"), "phi must be one of tanh, linear, relu, softplus; got 'elu'"),
    (dict(snapshot_every=0), "snapshot_every must be an integer >= 1; got 0"),
    (dict(task="lorenz"), "task must be one of flipflop, mante, romo, fixedpoint, cosine; got 'lorenz'"),
    (dict(task_params={"t_mx": 3}), "task_params has no parameter 't_mx' for task flipflop"),
    (dict(task_params={"dt": 2.0}), "dt must be > 0.0 and <= 1.0 and finite; got 2.0"),
])
def test_config_validation_names_parameter_value_and_range(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kw)


def test_config_type_errors():
    with pytest.raises(TypeError, match="N must be an integer"):
        tiny(N=16.5)
    with pytest.raises(TypeError, match="config must be a mapping"):
        EnsembleConfig.from_dict([("task", "flipflop")])
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        EnsembleConfig.from_dict({**tiny().to_dict(), "colour": "red"})


# --------------------------------------------------------------------------- run_ensemble
@pytest.fixture
def counting_train(monkeypatch):
    """Count the networks run_ensemble hands to lrbook.training.train."""
    calls = []

    def counted(model, *a, **kw):
        calls.append((model.K, list(model.g), list(model.seeds)))
        return train(model, *a, **kw)

    monkeypatch.setattr(run_mod, "train", counted)
    return calls


def test_run_ensemble_caches_per_network_and_second_call_trains_nothing(tmp_path, counting_train):
    c = tiny(snapshot_every=10)
    r1 = run_ensemble(c, cache=tmp_path, threads=1)
    assert counting_train == [(4, [0.0, 0.0, 0.9, 0.9], [0, 1, 0, 1])]   # ONE ensemble of 4
    assert not r1.from_cache.any() and r1.n_trained == 4
    assert sorted(ResultCache(tmp_path).keys()) == sorted(r1.keys)
    r2 = run_ensemble(c, cache=tmp_path, threads=1)
    assert len(counting_train) == 1                                       # nothing trained
    assert r2.from_cache.all() and r2.n_trained == 0
    assert_same_arrays(r1, r2, fields=("loss", "grad_norm", "W0", "W", "W_in0", "W_in", "W_out0",
                                       "W_out", "g", "seeds", "lr", "diverged_epoch", "snapshots",
                                       "snapshot_epochs"))
    assert r2.config == r1.config and r2.seconds == pytest.approx(r1.seconds)
    assert r2.ensemble == c and r2.networks == tuple(c.networks())


def test_run_ensemble_trains_only_missing_networks_in_one_ensemble(tmp_path, counting_train):
    small = tiny(g=(0.9,), seeds=(1,))
    run_ensemble(small, cache=tmp_path, threads=1)
    big = tiny(g=(0.0, 0.9), seeds=(0, 1, 2))
    r = run_ensemble(big, cache=tmp_path, threads=1)
    assert counting_train[1] == (5, [0.0, 0.0, 0.0, 0.9, 0.9], [0, 1, 2, 0, 2])
    assert r.from_cache.tolist() == [False, False, False, False, True, False]
    assert [(float(g), int(s)) for g, s in zip(r.g, r.seeds)] == [(n.g, n.seed) for n in big.networks()]


def test_run_ensemble_matches_direct_training_and_is_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("LRBOOK_CACHE", str(tmp_path))       # where the default cache would write
    monkeypatch.chdir(tmp_path)
    c = tiny()
    r = run_ensemble(c, cache=False, threads=1)
    task = c.make_task()
    direct = train(model_for(task, 16, [0.0, 0.0, 0.9, 0.9], [0, 1, 0, 1]), task, 20, threads=1)
    np.testing.assert_allclose(r.loss, direct.loss, rtol=1e-5)
    np.testing.assert_allclose(r.W, direct.W, rtol=1e-5, atol=1e-7)
    assert r.W.dtype == np.float32 and r.loss.dtype == np.float64
    assert np.all(r.loss[-3:].mean(0) < r.L0)                     # it learned something
    # no cache: nothing written (neither the default cache nor the working folder); the same
    # config again gives bit-identical arrays
    assert list(tmp_path.iterdir()) == []
    assert_same_arrays(r, run_ensemble(c, cache=False, threads=1))
    # result properties of TrainResult work on the stacked result
    assert r.dW.shape == (4, 16, 16) and r.model().K == 4 and r.part(2).g.tolist() == [0.9]


def test_diverged_networks_are_recorded_stored_and_reloaded(tmp_path):
    good = NetworkConfig("flipflop", N=16, g=0.0, seed=0, epochs=15)
    bad = NetworkConfig("flipflop", N=16, g=0.0, seed=1, epochs=15, lr=1e30)
    parts = train_networks([good, bad], cache=ResultCache(tmp_path), threads=1)
    s_good, s_bad = (p.summary() for p in parts)
    assert s_good["diverged_epoch"] == -1 and s_bad["diverged_epoch"] >= 1
    loaded = ResultCache(tmp_path).load(bad)
    assert loaded is not None and loaded.summary()["diverged_epoch"] == s_bad["diverged_epoch"]
    assert np.isnan(loaded.result.loss[s_bad["diverged_epoch"] + 1:, 0]).all()
    # every network of an ensemble diverging stops training early: snapshots are still
    # complete, the missing ones being the frozen final weights
    c = tiny(g=(0.0,), seeds=(0, 1), lr=1e30, snapshot_every=5)
    r = run_ensemble(c, cache=tmp_path, threads=1)
    assert r.diverged.all()
    assert r.snapshots.shape == (5, 2, 16, 16) and r.snapshot_epochs.tolist() == [0, 5, 10, 15, 20]
    np.testing.assert_array_equal(r.snapshots[-1], r.W)
    assert_same_arrays(r, run_ensemble(c, cache=tmp_path, threads=1))


def test_train_networks_refuses_incompatible_networks():
    a = NetworkConfig("flipflop", N=16, g=0.0, seed=0, epochs=5)
    with pytest.raises(ValueError, match="to train together"):
        train_networks([a, NetworkConfig("flipflop", N=8, g=0.0, seed=1, epochs=5)])
    with pytest.raises(TypeError, match="config must be an EnsembleConfig"):
        run_ensemble(a, cache=False)
    with pytest.raises(TypeError, match="cache must be"):
        run_ensemble(tiny(), cache=3.5)


def test_summaries_report_convergence_and_norms(tmp_path):
    r = run_ensemble(tiny(g=(0.0,), seeds=(0,), epochs=20), cache=tmp_path, threads=1)
    (s,) = summaries(r)
    assert s["L0"] == pytest.approx(r.loss[0, 0]) and s["final_loss"] == pytest.approx(r.loss[-1, 0])
    assert s["dW_norm"] == pytest.approx(np.linalg.norm(r.W[0] - r.W0[0]), rel=1e-5)
    below = np.flatnonzero(r.loss[:, 0] < 0.05 * r.loss[0, 0])
    assert s["convergence_epoch"] == (int(below[0]) if below.size else -1)


# --------------------------------------------------------------------------- presets
def test_presets_paper_scale_matches_the_paper():
    p = nonlinear_sweep("paper")
    assert set(p) == {"flipflop", "mante", "romo"}
    for task, gmax, epochs in (("flipflop", 2.1, 1000), ("mante", 2.7, 2000), ("romo", 3.0, 6000)):
        c = p[task]
        assert c.N == 256 and c.seeds == (0, 1, 2, 3, 4) and c.epochs == epochs
        np.testing.assert_allclose(c.g, np.arange(0, gmax + 1e-9, 0.3), atol=1e-12)
        assert (c.optimizer, c.batch_size, c.lr) == ("adam", 32, None)    # Adam, lr 0.05/N
    ns = nscaling_sweep("paper")
    assert sorted({N for _, N in ns}) == [64, 128, 256, 512, 1024]
    assert all(c.g == (0.0, 0.9, 1.8) and len(c.seeds) == 5 for c in ns.values())


def test_presets_book_and_ci_scales(monkeypatch):
    book = nonlinear_sweep("book")
    for task, gmax in (("flipflop", 2.1), ("mante", 2.7), ("romo", 3.0)):
        c = book[task]
        assert len(c.g) >= 3 and c.g[0] == 0.0 and max(c.g) == pytest.approx(gmax)
        assert len(c.seeds) >= 2 and c.N <= 256
    assert book["flipflop"].epochs == 1000 and book["mante"].epochs == 2000
    for scale in ("ci", "book", "paper"):                 # a factor >= 8 in N for the log-log fit
        sizes = sorted({N for _, N in nscaling_sweep(scale, tasks="flipflop")})
        assert sizes[-1] / sizes[0] >= 8, (scale, sizes)
    assert sorted({N for _, N in nscaling_sweep("book", tasks="flipflop")}) == [32, 64, 128, 256]
    monkeypatch.setenv("LRBOOK_SCALE", "ci")
    ci = nonlinear_sweep(tasks="romo", trained=("W",))
    assert list(ci) == ["romo"] and ci["romo"].N == 64 and ci["romo"].trained == ("W",)
    assert 100 <= ci["romo"].epochs <= 2000 and len(ci["romo"].seeds) == 1
    with pytest.raises(ValueError, match="tasks must be one of flipflop, mante, romo; got 'cosine'"):
        nonlinear_sweep("ci", tasks=["cosine"])
    with pytest.raises(ValueError, match="scale must be one of ci, book, paper; got 'huge'"):
        nscaling_sweep("huge")


# --------------------------------------------------------------------------- CLI
def _parser():
    parser = argparse.ArgumentParser(prog="lrbook")
    sub = parser.add_subparsers(dest="command")
    sweep_cli.add_parser(sub)
    return parser


def test_cli_sweep_runs_resumes_and_reports_json(tmp_path, capsys):
    argv = ["sweep", "--scale", "ci", "--tasks", "flipflop", "--cache", str(tmp_path), "--threads", "1",
            "--json", "--no-progress"]
    args = _parser().parse_args(argv)
    assert args.func is sweep_cli.run
    assert args.func(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n_networks"] == 3 and rep["n_trained"] == 3 and rep["scale"] == "ci"
    assert {n["g"] for n in rep["networks"]} == {0.0, 0.9, 1.8}
    assert len(ResultCache(tmp_path).keys()) == 3
    assert sweep_cli.run(_parser().parse_args(argv)) == 0
    rep2 = json.loads(capsys.readouterr().out)
    assert rep2["n_cached"] == 3 and rep2["n_trained"] == 0
    assert [n["key"] for n in rep2["networks"]] == [n["key"] for n in rep["networks"]]
    assert sweep_cli.run(_parser().parse_args(argv[:-2] + ["--no-progress"])) == 0
    assert "3 from the cache" in capsys.readouterr().out


@pytest.mark.parametrize("extra, match", [
    (["--workers", "0"], "--workers must be an integer >= 1; got 0"),
    (["--max-ensemble", "0"], "--max-ensemble must be an integer >= 1; got 0"),
    (["--threads", "0"], "--threads must be an integer >= 1; got 0"),
])
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, match):
    args = _parser().parse_args(["sweep", "--scale", "ci", "--cache", str(tmp_path)] + extra)
    assert sweep_cli.run(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err and "Traceback" not in err


def test_cli_bad_scale_env_and_missing_distributed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LRBOOK_SCALE", "galactic")
    assert sweep_cli.run(_parser().parse_args(["sweep", "--cache", str(tmp_path)])) == 2
    assert "LRBOOK_SCALE must be one of ci, book, paper" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)             # import fails
    args = _parser().parse_args(["sweep", "--scale", "ci", "--workers", "2", "--cache", str(tmp_path)])
    assert sweep_cli.run(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the 'distributed' package" in err
    assert not (tmp_path / "networks").exists()


def test_run_times_add_up_what_the_cache_holds(tmp_path):
    """Run times are read from the cache: networks found, their epochs and recorded seconds."""
    from lrbook.experiments import ResultCache, run_ensemble, run_times
    from lrbook.experiments.specs import EnsembleConfig

    cfg = EnsembleConfig(task="flipflop", N=16, g=(0.0, 0.9), seeds=(0,), epochs=3)
    bigger = cfg.replace(seeds=(0, 1))          # shares two networks with cfg

    def preset(scale):
        return {"a": cfg, "b": bigger} if scale == "ci" else {}

    cache = ResultCache(tmp_path)
    empty = run_times(["ci", "book"], cache=cache, presets={"p": preset})
    assert [(r.scale, r.networks, r.cached, r.network_epochs) for r in empty] == [
        ("ci", 4, 0, 0), ("book", 0, 0, 0)]
    assert empty[0].ms_per_network_epoch is None
    res = run_ensemble(cfg, cache=cache)
    (row,) = run_times(["ci"], cache=cache, presets={"p": preset})
    assert (row.networks, row.cached, row.network_epochs) == (4, 2, 6)
    assert row.seconds == pytest.approx(float(res.seconds), rel=1e-6) and row.seconds > 0
    assert row.to_dict()["preset"] == "p"
    with pytest.raises(ValueError, match="scales"):
        run_times(["huge"], cache=cache)
