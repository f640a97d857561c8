"""lrbook.beyond: variant training (relu/softplus, frozen weights), low-rank parametrisation, studies."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from lrbook import FlipFlop, TrainingDivergedError, WorkingMemory, engine, model_for, train
from lrbook.analysis import convergence_epoch, evaluate_result, silent_loss
from lrbook.beyond import study
from lrbook.beyond.study import lowrank_study, lowrank_table, network_epochs, variant_study, variant_table
from lrbook.experiments import NetworkConfig, run_networks, stack


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small ensembles: one torch thread is faster (and robust when the machine is shared)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --------------------------------------------------------------------------- the variants are options of train
def _train(task, N, g, seeds, epochs, **kw):
    """The chapter's variants, run by the one loop: ``phi``/``trained`` pick the model."""
    model_kw = {k: kw.pop(k) for k in ("phi", "trained") if k in kw}
    model = model_for(task, N, g=g, seeds=seeds, **model_kw)
    return train(model, task, epochs, threads=1, **kw)


def test_relu_and_softplus_networks_learn():
    for phi, task in (("relu", FlipFlop()), ("softplus", WorkingMemory())):
        res = _train(task, 24, [0.5, 0.5], [0, 1], 40, phi=phi)
        assert not res.diverged.any()
        assert np.all(res.loss[-5:].mean(0) < 0.9 * res.loss[:3].mean(0)), (phi, res.loss[[0, -1]])
        assert res.model().phi == phi and res.config["phi"] == phi


def test_relu_divergence_is_reported():
    task = FlipFlop()
    res = _train(task, 16, [0.5, 6.0], [0, 0], 5, phi="relu", on_divergence="stop")
    assert res.diverged.tolist() == [False, True] and res.diverged_epoch[1] == 0
    assert np.isfinite(res.loss[:, 0]).all() and np.isnan(res.loss[1:, 1]).all()
    np.testing.assert_array_equal(res.W[1], res.W0[1])                # never updated
    with pytest.raises(TrainingDivergedError, match="epoch 0 in network 1"):
        _train(task, 16, [0.5, 6.0], [0, 0], 5, phi="relu")


def test_lowrank_change_has_rank_at_most_R():
    task = FlipFlop()
    ranks = [1, 2, 4, 3]
    gs, seeds = [0.0, 0.0, 0.9, 0.9], [0, 1, 0, 1]
    res = _train(task, 20, gs, seeds, 25, rank=ranks)
    assert res.rank.tolist() == ranks and res.config["lowrank"]
    dW = res.W.astype(np.float64) - res.W0
    s = np.linalg.svd(dW, compute_uv=False)
    for k, R in enumerate(ranks):
        assert s[k, R - 1] > 1e-3, "the change uses its R dimensions"
        assert s[k, R] < 1e-5 * s[k, 0], "and no more"
        np.testing.assert_array_equal(res.U[k][:, R:], 0)
        np.testing.assert_array_equal(res.V[k][:, R:], 0)
        np.testing.assert_allclose(dW[k], res.U[k] @ res.V[k].T, atol=1e-6)
    # U starts at 0: the first epoch's loss is that of W0 (the same as unconstrained training)
    full = _train(task, 20, gs, seeds, 1)
    np.testing.assert_array_equal(res.loss[0], full.loss[0])
    assert np.all(res.loss[-3:].mean(0) < res.loss[0])
    np.testing.assert_allclose(res.lr_factors, 0.05 / 20 * np.sqrt(20 / np.array(ranks)))


def test_lowrank_gradients_match_autograd():
    """The factor gradients G V and G^T U equal autograd through W0 + U V^T."""
    task = FlipFlop()
    res = _train(task, 12, [0.7, 0.7], [0, 1], 3, rank=2)           # non-zero U and V
    U = torch.tensor(res.U, dtype=torch.float64, requires_grad=True)
    Vf = torch.tensor(res.V, dtype=torch.float64, requires_grad=True)
    W0 = torch.tensor(res.W0, dtype=torch.float64)
    W_in = torch.tensor(res.W_in, dtype=torch.float64)
    W_out = torch.tensor(res.W_out, dtype=torch.float64)
    b = task.batch(4, np.random.default_rng(0))
    u = torch.tensor(b.u, dtype=torch.float64).unsqueeze(0).expand(2, -1, -1, -1).transpose(1, 2).contiguous()
    W = W0 + U @ Vf.transpose(1, 2)
    z, ws = engine.forward(W_in, W.detach(), W_out, u, dt=task.dt, phi="tanh")
    dz = torch.ones_like(z)
    _, gW, _ = engine.backward(W_in, W.detach(), W_out, u, dz, ws, dt=task.dt)
    x = torch.zeros(2, 4, 12, dtype=torch.float64)
    zs = []
    for t in range(u.shape[1]):
        x = (1 - task.dt) * x + task.dt * (torch.tanh(x) @ W.transpose(1, 2) + u[:, t] @ W_in)
        zs.append(torch.tanh(x) @ W_out)
    torch.stack(zs, 1).sum().backward()
    torch.testing.assert_close(torch.bmm(gW, Vf.detach()), U.grad)
    torch.testing.assert_close(torch.bmm(gW.transpose(1, 2), U.detach()), Vf.grad)


def test_rank_and_lr_factors_are_validated():
    task = FlipFlop()
    with pytest.raises(ValueError, match="trained must include 'W'"):
        _train(task, 8, [0.0], [0], 2, rank=2, trained=("W_out",))
    with pytest.raises(ValueError, match="rank must be an integer in 1..8; got 9"):
        _train(task, 8, [0.0], [0], 2, rank=9)
    with pytest.raises(ValueError, match="rank must be an integer in 1..8; got 0"):
        _train(task, 8, [0.0], [0], 2, rank=0)
    with pytest.raises(ValueError, match="rank must be one value or K=2 values"):
        _train(task, 8, [0.0, 0.5], [0, 0], 2, rank=[1, 2, 3])
    with pytest.raises(ValueError, match="lr_factors .* needs rank"):
        _train(task, 8, [0.0], [0], 2, lr_factors=0.1)
    with pytest.raises(ValueError, match="lr_factors must be > 0.0 and finite; got -1.0"):
        _train(task, 8, [0.0], [0], 2, rank=1, lr_factors=-1.0)


def test_lowrank_networks_go_through_the_cache(tmp_path):
    """Rank-constrained networks are cached like any other: a second run trains nothing."""
    cfgs = [NetworkConfig("flipflop", N=12, g=0.9, seed=s, epochs=4, rank=R) for s in (0, 1) for R in (1, 3)]
    first = run_networks(cfgs, cache=tmp_path)
    again = run_networks(cfgs, cache=tmp_path)
    assert not any(p.from_cache for p in first) and all(p.from_cache for p in again)
    for a, b in zip(first, again):
        for name in ("loss", "W", "U", "V", "lr_factors", "rank"):
            np.testing.assert_array_equal(getattr(a.result, name), getattr(b.result, name))
        assert b.result.U.shape == (1, 12, b.config.rank)
    both = stack(again)
    assert both.rank.tolist() == [1, 3, 1, 3] and both.U.shape == (4, 12, 3)
    np.testing.assert_array_equal(both.U[0, :, 1:], 0)
    # the same network trained alone gives the same numbers as inside the ensemble
    alone = _train(FlipFlop(), 12, [0.9], [1], 4, rank=3)
    np.testing.assert_allclose(alone.W[0], again[3].result.W[0], atol=1e-6)
    # keys of unconstrained networks do not mention the option
    assert "rank" not in NetworkConfig("flipflop", N=12).to_dict()
    assert cfgs[0].group_key == cfgs[1].group_key != NetworkConfig("flipflop", N=12, g=0.9, epochs=4).group_key
    with pytest.raises(ValueError, match="rank must be an integer in 1..12; got 13"):
        NetworkConfig("flipflop", N=12, rank=13)


# --------------------------------------------------------------------------- evaluation
def test_capped_reference_and_diverged_networks_in_evaluate_result():
    task = FlipFlop()
    res = _train(task, 16, [0.5, 6.0], [0, 0], 5, phi="relu", on_divergence="stop")
    res.W[1] = np.nan                                   # a network whose weights are not finite
    paper = evaluate_result(res, task, ranks=[0, 1, 16], n_shuffles=0, batch_size=32)
    capped = evaluate_result(res, task, ranks=[0, 1, 16], n_shuffles=0, reference="capped", batch_size=32)
    assert np.isnan(paper.loss_trained[1]) and np.isnan(paper.truncation_losses[1]).all()
    assert np.ma.is_masked(paper.functional_rank[1]) and np.ma.is_masked(capped.functional_rank[1])
    np.testing.assert_array_equal(paper.truncation_losses, capped.truncation_losses)
    # the rank's reference is min(L(R=0), L_silent): never looser than the paper's
    silent = silent_loss(task, res.seeds, 32)
    assert silent.shape == (2,) and np.all(silent > 0)
    fr_p, fr_c = paper.functional_rank[0], capped.functional_rank[0]
    if not np.ma.is_masked(fr_c):
        assert not np.ma.is_masked(fr_p) and fr_c >= fr_p
    with pytest.raises(ValueError, match="reference must be one of"):
        evaluate_result(res, task, ranks=[0], n_shuffles=0, reference="silent")


def test_first_batch_silent_loss_is_the_loss_of_z_zero_on_the_first_training_batch():
    task = FlipFlop()
    res = _train(task, 8, [0.0], [3], 1)
    model = res.model("initial")
    model.W_out.zero_()                                   # z = 0 on every trial
    silent = study.first_batch_silent_loss(task, [3])
    again = _train(task, 8, [0.0], [3], 1)                # a fresh run: its L0 uses the same batch
    zero = train(model, task, 1, threads=1)
    np.testing.assert_allclose(silent, zero.loss[0], rtol=1e-6)
    # a tanh network's initial output is tiny: its L0 is close to (not equal to) the silent loss
    assert again.loss[0, 0] == pytest.approx(silent[0], rel=0.01) and again.loss[0, 0] != silent[0]


# --------------------------------------------------------------------------- studies and figures
# The studies at tiny sizes (the chapter itself runs the real "ci" sizes under nbval).
TINY_VARIANT = {"N": 16, "g": (0.0, 0.9, 1.8), "seeds": 1, "tasks": ("flipflop",),
                "epochs": {"flipflop": 40, "mante": 40, "romo": 40}, "ranks": (0, 1, 2, 4, 8), "eval_batch": 32}
TINY_LOWRANK = {"N": 16, "g": (0.0, 0.9), "seeds": 1, "ranks": (1, 2, 4, 8), "epochs": {"flipflop": 40},
                "eval_batch": 32}


@pytest.fixture(scope="module")
def tiny_sizes():
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(study.VARIANT_SIZES, "ci", TINY_VARIANT)
        mp.setitem(study.LOWRANK_SIZES, "ci", TINY_LOWRANK)
        yield


@pytest.fixture(scope="module")
def study_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def romo_ci(tiny_sizes, study_cache):
    return variant_study("ci", tasks=("romo",), variants=("relu", "tanh, W only"), cache=study_cache)


def test_a_second_study_trains_nothing(romo_ci, study_cache, monkeypatch):
    """The variants go through the result cache: run again, the study reads every network back."""
    import lrbook.experiments.run as run

    def no_training(*args, **kwargs):
        raise AssertionError("trained a network that is in the cache")

    monkeypatch.setattr(run, "train", no_training)
    again = variant_study("ci", tasks=("romo",), variants=("relu", "tanh, W only"), cache=study_cache)
    for key, s in romo_ci.items():
        np.testing.assert_array_equal(again[key].loss, s.loss)
        np.testing.assert_array_equal(again[key].norm_dW, s.norm_dW)


def test_variant_study_ci_one_task(romo_ci):
    out = romo_ci
    assert set(out) == {("romo", "relu"), ("romo", "tanh, W only")}
    s = out[("romo", "relu")]
    assert s.phi == "relu" and s.loss.shape == (40, 3) and s.g.tolist() == [0.0, 0.9, 1.8]
    # the reference min(L0, L_silent) <= L0: converging against it implies converging against L0, later or then
    plain = convergence_epoch(s.loss)
    assert np.all((plain[s.converged] >= 0) & (plain[s.converged] <= s.convergence_epoch[s.converged]))
    np.testing.assert_array_equal(s.converged, s.convergence_epoch >= 0)
    assert s.truncation_losses.shape == (3, len(s.ranks))
    np.testing.assert_array_equal(s.convergence_time()[~s.converged], 40)
    np.testing.assert_array_equal(s.at(0.9), [False, True, False])
    assert out[("romo", "tanh, W only")].trained == ("W",)
    with pytest.raises(ValueError, match="variants must be one of"):
        variant_study("ci", tasks=("romo",), variants=("elu",))


def test_variant_functional_rank_is_masked_where_undefined(romo_ci):
    """No -1 sentinel: undefined ranks are masked, and only networks that did not learn lack one."""
    for s in romo_ci.values():
        fr = s.functional_rank
        assert isinstance(fr, np.ma.MaskedArray) and fr.shape == s.g.shape
        assert not np.any(np.ma.compressed(fr) < 0)
        # a network whose trained test loss meets the criterion has a rank once ranks go to N
        zero = list(s.ranks).index(0)
        ref = np.fmin(s.truncation_losses[:, zero], s.L_silent)
        np.testing.assert_array_equal(s.learnt, s.test_loss < 0.05 * ref)
        for k in np.flatnonzero(~np.ma.getmaskarray(fr)):
            assert s.truncation_losses[k, list(s.ranks).index(int(fr[k]))] < 0.05 * ref[k]
    rows = variant_table(romo_ci)
    assert len(rows) == 6
    for r in rows:
        s = romo_ci[(r["task"], r["variant"])]
        m = s.at(r["g"])
        assert r["undefined"] == np.ma.count_masked(s.functional_rank[m])
        assert r["converged"] == s.converged[m].sum()
        assert np.isnan(r["epochs"]) == (r["converged"] == 0)


def test_network_epochs():
    assert network_epochs("book")["total"] <= 20000            # the chapter retrains on every book build
    for sc in ("ci", "book", "paper"):
        p, q = study.VARIANT_SIZES[sc], study.LOWRANK_SIZES[sc]
        n = network_epochs(sc)
        assert n["variants"] == 4 * len(p["g"]) * p["seeds"] * sum(p["epochs"][t] for t in p["tasks"])
        assert n["lowrank"] == len(q["g"]) * q["seeds"] * 5 * q["epochs"]["flipflop"]
        assert n["total"] == n["variants"] + n["lowrank"]
        # the chapter's claim "functional rank <= N/4" needs N/4 among the evaluated ranks
        assert p["N"] // 4 in p["ranks"] and 0 in p["ranks"]
    assert study.VARIANT_SIZES["book"]["N"] == study.LOWRANK_SIZES["book"]["N"] == 256
    with pytest.raises(ValueError, match="scale"):
        network_epochs("huge")


@pytest.fixture(scope="module")
def lowrank_ci(tiny_sizes, study_cache):
    return lowrank_study("ci", cache=study_cache)


def test_lowrank_study_ci(lowrank_ci):
    s = lowrank_ci
    assert s.rank.tolist() == [-1, -1, 1, 2, 4, 8, 1, 2, 4, 8]
    assert s.loss.shape == (40, 10)
    for k, R in enumerate(s.rank):
        if R > 0:
            assert np.all(s.dW_singular_values[k, R:] < 1e-5 * s.dW_singular_values[k, 0])
    assert len(s.select(0.9, 4)) == 1 and np.isnan(s.lr_factors[s.rank < 0]).all()
    np.testing.assert_array_equal(s.converged, s.convergence_epoch >= 0)
    rows = lowrank_table(s)
    assert [r["rank"] for r in rows] == [-1, 1, 2, 4, 8] * 2
    assert all(np.isnan(r["epochs"]) == (r["converged"] == 0) for r in rows)


def test_figures(lowrank_ci, romo_ci):
    from lrbook.plotting.beyond import plot_lowrank, plot_variant_losses, plot_variant_summary

    fig = plot_lowrank(lowrank_ci)
    assert len(fig.axes) == 3
    assert len(fig.axes[0].lines) == 1 + 4 + 1                       # unconstrained, 4 ranks, 5 % line
    fig = plot_variant_summary(romo_ci, ["romo"], ["relu"], N=16)
    assert len(fig.axes) == 3
    fig = plot_variant_losses(romo_ci, "romo", ["relu"])
    assert len(fig.axes[0].lines) == 3 + 1
    import matplotlib.pyplot as plt
    plt.close("all")


def test_an_executor_needs_the_cache():
    from concurrent.futures import ThreadPoolExecutor

    from lrbook.beyond import lowrank_study, variant_study

    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ValueError, match="executor needs a cache"):
            variant_study("ci", executor=pool, cache=False)
        with pytest.raises(ValueError, match="executor needs a cache"):
            lowrank_study("ci", executor=pool, cache=False)
