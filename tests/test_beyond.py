"""lrbook.beyond: relu/softplus engine (exact gradients), variant training, low-rank parametrisation, studies."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from lrbook import FlipFlop, TrainingDivergedError, WorkingMemory, model_for, train
from lrbook.analysis import convergence_epoch, evaluate_result
from lrbook.beyond import (
    PHIS,
    backward,
    dphi_from_rate,
    evaluate_variant,
    forward,
    lowrank_lr,
    phi_fn,
    train_variant,
    variant_losses,
)
from lrbook.beyond.study import lowrank_study, variant_study

K, T, B, N, NI, NO, DT = 3, 7, 4, 6, 2, 3, 0.5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small ensembles: one torch thread is faster (and robust when the machine is shared)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _weights(seed=0, scale=1.3):
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, dtype=torch.float64, generator=gen)  # noqa: E731
    return (r(K, N, N) * scale / N ** 0.5, r(K, NI, N), r(K, N, NO) / N, r(K, T, B, NI), r(K, T, B, NO),
            r(K, 1, N))


def _reference(phi, W, W_in, W_out, u, x0):
    """The Euler RNN written step by step with autograd (the definition)."""
    x = x0.expand(K, B, N)
    zs = []
    for t in range(T):
        x = (1 - DT) * x + DT * (phi_fn(phi, x) @ W.transpose(1, 2) + u[:, t] @ W_in)
        zs.append(phi_fn(phi, x) @ W_out)
    return torch.stack(zs, 1)


# --------------------------------------------------------------------------- engine
@pytest.mark.parametrize("phi", PHIS)
def test_forward_and_gradients_match_autograd(phi):
    W, W_in, W_out, u, dz, x0 = _weights()
    z, ro = forward(W, W_in, W_out, u, dt=DT, phi=phi, x0=x0, fast=False)
    gW_in, gW, gW_out = backward(W, W_in, W_out, u, dz, ro, dt=DT)
    ref = [a.clone().requires_grad_() for a in (W, W_in, W_out)]
    zr = _reference(phi, *ref, u, x0)
    (zr * dz).sum().backward()
    torch.testing.assert_close(z, zr.detach(), rtol=1e-12, atol=1e-12)
    for mine, theirs in zip((gW, gW_in, gW_out), ref):
        torch.testing.assert_close(mine, theirs.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("phi", ["relu", "softplus"])
def test_gradient_by_finite_differences(phi):
    W, W_in, W_out, u, dz, x0 = _weights(seed=1)
    z, ro = forward(W, W_in, W_out, u, dt=DT, phi=phi, x0=x0)
    _, gW, _ = backward(W, W_in, W_out, u, dz, ro, dt=DT)
    rng = np.random.default_rng(0)
    for _ in range(5):
        k, i, j = rng.integers(K), rng.integers(N), rng.integers(N)
        eps = 1e-6
        Wp, Wm = W.clone(), W.clone()
        Wp[k, i, j] += eps
        Wm[k, i, j] -= eps
        Lp = (forward(Wp, W_in, W_out, u, dt=DT, phi=phi, x0=x0)[0] * dz).sum()
        Lm = (forward(Wm, W_in, W_out, u, dt=DT, phi=phi, x0=x0)[0] * dz).sum()
        assert float((Lp - Lm) / (2 * eps)) == pytest.approx(float(gW[k, i, j]), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("phi", PHIS)
def test_derivative_from_rate(phi):
    x = torch.linspace(-3, 3, 41, dtype=torch.float64).requires_grad_()
    r = phi_fn(phi, x)
    (d,) = torch.autograd.grad(r.sum(), x)
    mask = x.detach().abs() > 1e-9                       # relu's kink
    torch.testing.assert_close(dphi_from_rate(phi, r.detach())[mask], d[mask])


@pytest.mark.parametrize("phi", ["tanh", "linear"])
def test_fast_path_equals_generic_loop(phi):
    W, W_in, W_out, u, dz, x0 = (a.float() for a in _weights(seed=2, scale=0.8))
    zf, rf = forward(W, W_in, W_out, u, dt=DT, phi=phi, x0=x0)
    zg, rg = forward(W, W_in, W_out, u, dt=DT, phi=phi, x0=x0, fast=False)
    assert rf.ws is not None and rg.R is not None
    torch.testing.assert_close(zf, zg, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(rf.rates(), rg.rates(), rtol=1e-4, atol=1e-5)
    for a, b in zip(backward(W, W_in, W_out, u, dz, rf, dt=DT), backward(W, W_in, W_out, u, dz, rg, dt=DT)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_engine_rejects_unknown_phi():
    W, W_in, W_out, u, _, _ = _weights()
    with pytest.raises(ValueError, match="phi must be one of tanh, linear, relu, softplus"):
        forward(W, W_in, W_out, u, dt=DT, phi="elu")


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
        with pytest.raises(ValueError, match="phi='" + phi):
            res.model()


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
    z, ro = forward(W.detach(), W_in, W_out, u, dt=task.dt, phi="tanh", fast=False)
    dz = torch.ones_like(z)
    _, gW, _ = backward(W.detach(), W_in, W_out, u, dz, ro, dt=task.dt)
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
@pytest.fixture(scope="module")
def romo_ci():
    return variant_study("ci", tasks=("romo",), variants=("relu", "tanh, W only"))


def test_variant_study_ci_one_task(romo_ci):
    out = romo_ci
    assert set(out) == {("romo", "relu"), ("romo", "tanh, W only")}
    s = out[("romo", "relu")]
    assert s.phi == "relu" and s.loss.shape == (150, 3) and s.g.tolist() == [0.0, 0.9, 1.8]
    np.testing.assert_array_equal(s.convergence_epoch, convergence_epoch(s.loss))
    assert s.truncation_losses.shape == (3, len(s.ranks))
    np.testing.assert_array_equal(s.convergence_time()[s.convergence_epoch < 0], 150)
    assert out[("romo", "tanh, W only")].trained == ("W",)
    with pytest.raises(ValueError, match="variants must be one of"):
        variant_study("ci", tasks=("romo",), variants=("elu",))


@pytest.fixture(scope="module")
def lowrank_ci():
    return lowrank_study("ci")


def test_lowrank_study_ci(lowrank_ci):
    s = lowrank_ci
    assert s.rank.tolist() == [-1, -1, 1, 2, 4, 8, 1, 2, 4, 8]
    assert s.loss.shape == (150, 10)
    for k, R in enumerate(s.rank):
        if R > 0:
            assert np.all(s.dW_singular_values[k, R:] < 1e-5 * s.dW_singular_values[k, 0])
    assert len(s.select(0.9, 4)) == 1 and np.isnan(s.lr_factors[s.rank < 0]).all()


def test_figures(lowrank_ci, romo_ci):
    from lrbook.plotting.beyond import plot_lowrank, plot_variant_losses, plot_variant_summary

    fig = plot_lowrank(lowrank_ci)
    assert len(fig.axes) == 3
    assert len(fig.axes[0].lines) == 1 + 4 + 1                       # unconstrained, 4 ranks, 5 % line
    fig = plot_variant_summary(romo_ci, ["romo"], ["relu"], N=32)
    assert len(fig.axes) == 3
    fig = plot_variant_losses(romo_ci, "romo", ["relu"])
    assert len(fig.axes[0].lines) == 3 + 1
    import matplotlib.pyplot as plt
    plt.close("all")
