"""lrbook.beyond: variant training (relu/softplus, frozen weights), low-rank parametrisation, studies."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from lrbook import FlipFlop, TrainingDivergedError, WorkingMemory, engine, model_for, train
from lrbook.analysis import convergence_epoch, evaluate_result
from lrbook.beyond import evaluate_variant, lowrank_lr, study, train_variant, variant_losses
from lrbook.beyond.study import lowrank_study, lowrank_table, network_epochs, variant_study, variant_table


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small ensembles: one torch thread is faster (and robust when the machine is shared)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("task", [FlipFlop(), WorkingMemory()], ids=["flipflop", "romo"])
@pytest.mark.parametrize("trained", [("W_in", "W", "W_out"), ("W",)], ids=["all", "W-only"])
def test_reproduces_lrbook_train(task, trained):
    model = model_for(task, 16, g=[0.0, 0.9], seeds=[0, 1], trained=trained)
    ref = train(model, task, 6, threads=1, workers=1)
    res = train_variant(task, 16, [0.0, 0.9], [0, 1], 6, trained=trained)
    np.testing.assert_allclose(res.loss, ref.loss, rtol=1e-6)
    np.testing.assert_allclose(res.W, ref.W, atol=1e-6)
    np.testing.assert_allclose(res.W_in, ref.W_in, atol=1e-6)
    np.testing.assert_allclose(res.W_out, ref.W_out, atol=1e-6)
    np.testing.assert_array_equal(res.W0, ref.W0)
    if trained == ("W",):
        np.testing.assert_array_equal(res.W_in, res.W_in0)
        np.testing.assert_array_equal(res.W_out, res.W_out0)
    assert res.config["phi"] == "tanh" and (res.rank == -1).all()


def test_relu_and_softplus_networks_learn():
    for phi, task in (("relu", FlipFlop()), ("softplus", WorkingMemory())):
        res = train_variant(task, 24, 0.5, [0, 1], 40, phi=phi)
        assert not res.diverged.any()
        assert np.all(res.loss[-5:].mean(0) < 0.9 * res.loss[:3].mean(0)), (phi, res.loss[[0, -1]])
        assert res.model().phi == phi


@pytest.mark.parametrize("phi", ["relu", "softplus"])
def test_variant_training_equals_lrbook_train_for_any_phi(phi):
    """relu/softplus networks run on lrbook's one engine: train_variant and train agree."""
    task = FlipFlop()
    ref = train(model_for(task, 16, g=[0.0, 0.9], seeds=[0, 1], phi=phi), task, 6, threads=1, workers=1)
    res = train_variant(task, 16, [0.0, 0.9], [0, 1], 6, phi=phi)
    assert ref.config["phi"] == res.config["phi"] == phi
    np.testing.assert_allclose(res.loss, ref.loss, rtol=1e-6)
    np.testing.assert_allclose(res.W, ref.W, atol=1e-6)


def test_relu_divergence_is_reported():
    task = FlipFlop()
    res = train_variant(task, 16, [0.5, 6.0], 0, 5, phi="relu")
    assert res.diverged.tolist() == [False, True] and res.diverged_epoch[1] == 0
    assert np.isfinite(res.loss[:, 0]).all() and np.isnan(res.loss[1:, 1]).all()
    np.testing.assert_array_equal(res.W[1], res.W0[1])                # never updated
    with pytest.raises(TrainingDivergedError, match="epoch 0 in network 1"):
        train_variant(task, 16, [0.5, 6.0], 0, 5, phi="relu", on_divergence="raise")


def test_lowrank_change_has_rank_at_most_R():
    task = FlipFlop()
    ranks = [1, 2, 4, 3]
    res = train_variant(task, 20, [0.0, 0.0, 0.9, 0.9], [0, 1, 0, 1], 25, rank=ranks)
    assert res.rank.tolist() == ranks
    dW = res.W.astype(np.float64) - res.W0
    s = np.linalg.svd(dW, compute_uv=False)
    for k, R in enumerate(ranks):
        assert s[k, R - 1] > 1e-3, "the change uses its R dimensions"
        assert s[k, R] < 1e-6 * s[k, 0], "and no more"
        np.testing.assert_array_equal(res.U[k][:, R:], 0)
        np.testing.assert_array_equal(res.V[k][:, R:], 0)
        np.testing.assert_allclose(dW[k], res.U[k] @ res.V[k].T, atol=1e-6)
    # U starts at 0: the first epoch's loss is that of W0 (the same as unconstrained training)
    full = train_variant(task, 20, [0.0, 0.0, 0.9, 0.9], [0, 1, 0, 1], 1)
    np.testing.assert_allclose(res.loss[0], full.loss[0], rtol=1e-6)
    assert np.all(res.loss[-3:].mean(0) < res.loss[0])
    np.testing.assert_allclose(res.lr_factors, lowrank_lr(20, np.array(ranks), 0.05 / 20))


def test_lowrank_gradients_match_autograd():
    """The factor gradients G V and G^T U equal autograd through W0 + U V^T."""
    task = FlipFlop()
    res = train_variant(task, 12, 0.7, [0, 1], 3, rank=2)         # non-zero U and V
    U = torch.tensor(res.U, dtype=torch.float64, requires_grad=True)
    Vf = torch.tensor(res.V, dtype=torch.float64, requires_grad=True)
    W0 = torch.tensor(res.W0, dtype=torch.float64)
    W_in = torch.tensor(res.W_in, dtype=torch.float64)
    W_out = torch.tensor(res.W_out, dtype=torch.float64)
    b = task.batch(4, np.random.default_rng(0))
    u = torch.tensor(b.u, dtype=torch.float64).unsqueeze(0).expand(2, -1, -1, -1).transpose(1, 2).contiguous()
    W = W0 + U @ Vf.transpose(1, 2)
    z, ws = engine.forward(W.detach(), W_in, W_out, u, dt=task.dt, phi="tanh")
    dz = torch.ones_like(z)
    _, gW, _ = engine.backward(W.detach(), W_in, W_out, u, dz, ws, dt=task.dt)
    x = torch.zeros(2, 4, 12, dtype=torch.float64)
    zs = []
    for t in range(u.shape[1]):
        x = (1 - task.dt) * x + task.dt * (torch.tanh(x) @ W.transpose(1, 2) + u[:, t] @ W_in)
        zs.append(torch.tanh(x) @ W_out)
    torch.stack(zs, 1).sum().backward()
    torch.testing.assert_close(torch.bmm(gW, Vf.detach()), U.grad)
    torch.testing.assert_close(torch.bmm(gW.transpose(1, 2), U.detach()), Vf.grad)


def test_train_variant_validates():
    task = FlipFlop()
    with pytest.raises(ValueError, match="phi must be one of"):
        train_variant(task, 8, 0.0, 0, 2, phi="elu")
    with pytest.raises(ValueError, match="trained must include 'W'"):
        train_variant(task, 8, 0.0, 0, 2, rank=2, trained=("W_out",))
    with pytest.raises(ValueError, match="rank must be in 1..N=8"):
        train_variant(task, 8, 0.0, 0, 2, rank=9)
    with pytest.raises(ValueError, match="rank\\[0\\] must be an integer >= 1"):
        train_variant(task, 8, 0.0, 0, 2, rank=0)
    with pytest.raises(ValueError, match="g and seeds must have the same length"):
        train_variant(task, 8, [0.0, 0.5], [0, 1, 2], 2)


# --------------------------------------------------------------------------- evaluation
def test_evaluate_variant_equals_lrbook_analysis_for_tanh():
    task = FlipFlop()
    res = train_variant(task, 16, [0.0, 0.9], [0, 1], 30)
    ref = evaluate_result(res, task, ranks=[0, 1, 2, 4, 16], n_shuffles=0, batch_size=64)
    ev = evaluate_variant(res, task, ranks=[0, 1, 2, 4, 16], batch_size=64)
    np.testing.assert_allclose(ev.truncation_losses, ref.truncation_losses, rtol=1e-5)
    np.testing.assert_allclose(ev.L0, ref.L0, rtol=1e-5)
    np.testing.assert_allclose(ev.loss_trained, ref.loss_trained, rtol=1e-5)
    np.testing.assert_array_equal(ev.functional_rank, ref.functional_rank)
    # full rank is the trained network, rank 0 the initial recurrent weights
    np.testing.assert_allclose(ev.truncation_losses[:, -1], ev.loss_trained, rtol=1e-5)
    np.testing.assert_allclose(ev.truncation_losses[:, 0], variant_losses(res, task, res.W0, batch_size=64),
                               rtol=1e-5)


def test_evaluate_variant_softplus_truncation_ends_at_trained_loss():
    task = FlipFlop()
    res = train_variant(task, 12, 0.5, 0, 10, phi="softplus")
    ev = evaluate_variant(res, task, ranks=[0, 12], batch_size=32)
    assert ev.truncation_losses[0, 1] == pytest.approx(ev.loss_trained[0], rel=1e-5)
    assert ev.L0[0] != pytest.approx(ev.loss_trained[0])


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
def romo_ci(tiny_sizes):
    return variant_study("ci", tasks=("romo",), variants=("relu", "tanh, W only"))


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
def lowrank_ci(tiny_sizes):
    return lowrank_study("ci")


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
