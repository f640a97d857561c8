"""The linear theory (lrbook.theory): fixed point, gradient, series, reduced flow, predictions."""

import numpy as np
import pytest
import torch

from lrbook import engine
from lrbook import theory as T
from lrbook.tasks import FixedPoint
from lrbook.training import model_for, train


def _net(N, g, seed=0):
    """A random linear network of the paper (float64): W0, w, m."""
    rng = np.random.default_rng(seed)
    W = g * rng.standard_normal((N, N)) / np.sqrt(N)
    w = rng.standard_normal(N)
    m = rng.standard_normal(N)
    w *= np.sqrt(N) / np.linalg.norm(w)
    m *= np.sqrt(N) / np.linalg.norm(m)
    return W, w, m


# --------------------------------------------------------------------------- fixed point
def test_readout_is_the_euler_networks_output_at_the_end_of_a_long_trial():
    task = FixedPoint(z_hat=1.0, t_max=61.0)
    model = model_for(task, 24, g=[0.0, 0.5], seeds=3, dtype=torch.float64)
    b = task.batch(1)
    z = model.simulate(b.u).z[:, 0, -1, 0].numpy()
    w, m = T.io_vectors(model.W_in.numpy(), model.W_out.numpy())
    assert w.shape == m.shape == (2, 24)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), np.sqrt(24))
    np.testing.assert_allclose(T.fixed_point_readout(model.W.numpy(), w, m), z, rtol=1e-9, atol=1e-12)


def test_gradient_matches_finite_differences():
    W, w, m = _net(10, 0.6, seed=1)
    W = W + 0.3 * np.outer(w, m) / 10          # a W with an outlier, not just the bulk
    G = T.fixed_point_gradient(W, w, m, 1.5)
    rng = np.random.default_rng(2)
    eps = 1e-6
    for _ in range(4):
        D = rng.standard_normal(W.shape)
        fd = (T.fixed_point_loss(W + eps * D, w, m, 1.5) - T.fixed_point_loss(W - eps * D, w, m, 1.5)) / (2 * eps)
        assert fd == pytest.approx(np.sum(G * D), rel=1e-7, abs=1e-12)
    # entry by entry on a few entries
    for i, j in [(0, 0), (3, 7), (9, 2)]:
        D = np.zeros_like(W)
        D[i, j] = 1.0
        fd = (T.fixed_point_loss(W + eps * D, w, m, 1.5) - T.fixed_point_loss(W - eps * D, w, m, 1.5)) / (2 * eps)
        assert fd == pytest.approx(G[i, j], rel=1e-6, abs=1e-12)
    assert np.linalg.matrix_rank(G) == 1


def test_gradient_equals_the_euler_networks_gradient():
    """The network's BPTT gradient on the FixedPoint task is the a b^T formula (transient decayed)."""
    task = FixedPoint(z_hat=1.0)
    model = model_for(task, 20, g=[0.0, 0.5], seeds=4, dtype=torch.float64)
    b = task.batch(1)
    ut, tt, mt = model._inputs(b.u), model._targets(b.target), model._targets(b.mask)
    z, ws = engine.forward(model.W_in, model.W, model.W_out, ut, dt=model.dt, phi="linear")
    _, dz = engine.masked_mse(z, tt, mt)
    _, gW, _ = engine.backward(model.W_in, model.W, model.W_out, ut, dz, ws, dt=model.dt,
                               phi="linear", need=(False, True, False))
    w, m = T.io_vectors(model.W_in.numpy(), model.W_out.numpy())
    G = T.fixed_point_gradient(model.W.numpy(), w, m, 1.0)
    np.testing.assert_allclose(gW.numpy(), G, rtol=1e-8, atol=1e-14)


def test_stacks_broadcast():
    Ws, ws, ms = zip(*[_net(8, g, seed=s) for s, g in enumerate([0.0, 0.4, 0.8])])
    W, w, m = np.stack(Ws), np.stack(ws), np.stack(ms)
    z = T.fixed_point_readout(W, w, m)
    assert z.shape == (3,)
    assert z[1] == pytest.approx(T.fixed_point_readout(W[1], w[1], m[1]))
    a, b = T.gradient_factors(W, w, m)
    assert a.shape == b.shape == (3, 8)
    np.testing.assert_allclose((np.eye(8) - W[2]) @ b[2], m[2], atol=1e-12)
    np.testing.assert_allclose((np.eye(8) - W[2]).T @ a[2] * 8, w[2], atol=1e-12)
    assert T.fixed_point_gradient(W, w, m, 1.0).shape == (3, 8, 8)


def test_large_N_norms_of_the_gradient_factors():
    """<|b|^2> = N beta and <N^2 |a|^2> = N beta; 12 draws at N = 300."""
    N, g = 300, 0.7
    b2, a2 = T.expected_factor_norms(N, g)
    assert b2 == a2 == pytest.approx(N / (1 - g ** 2))
    nb, na = [], []
    for s in range(12):
        W, w, m = _net(N, g, seed=10 + s)
        a, b = T.gradient_factors(W, w, m)
        nb.append(b @ b)
        na.append(N ** 2 * a @ a)
    # std of |b|^2 / (N beta) over draws is ~0.1 here: the mean of 12 is within ~3%
    assert np.mean(nb) / b2 == pytest.approx(1.0, abs=0.08)
    assert np.mean(na) / a2 == pytest.approx(1.0, abs=0.08)
    # at g = 0 it is exact: b = m, N a = w
    W, w, m = _net(50, 0.0)
    a, b = T.gradient_factors(W, w, m)
    assert b @ b == pytest.approx(50) and 50 ** 2 * a @ a == pytest.approx(50)


def test_beta_and_times():
    assert T.beta(0.0) == 1.0 and T.beta(0.6) == pytest.approx(1 / 0.64)
    np.testing.assert_allclose(T.beta([0.0, 0.5]), [1.0, 4 / 3])
    assert T.effective_time(0.5, 0.6) == pytest.approx(0.5 / 0.64 ** 2)
    tt = T.effective_time(np.array([[0.1], [0.2]]), np.array([0.0, 0.5, 0.9]))
    assert tt.shape == (2, 3) and tt[1, 2] == pytest.approx(0.2 / 0.19 ** 2)
    assert T.learning_time(200, 0.009) == pytest.approx(1.8)
    np.testing.assert_allclose(T.learning_time(np.arange(3), 0.5), [0, 0.5, 1.0])


@pytest.mark.parametrize("call, match", [
    (lambda: T.beta(1.0), "g must be >= 0 and < 1"),
    (lambda: T.beta([0.2, -0.1]), "g must be >= 0 and < 1"),
    (lambda: T.learning_time(10, 0.0), "lr must be > 0"),
    (lambda: T.fixed_point_readout(np.zeros((3, 4)), np.ones(4), np.ones(4)), r"W must have shape \(\.\.\., N, N\)"),
    (lambda: T.fixed_point_readout(np.zeros((4, 4)), np.ones(3), np.ones(4)), "w must have shape"),
    (lambda: T.io_vectors(np.ones((2, 4)), np.ones((4, 1))), r"W_in must have shape \(\.\.\., 1, N\)"),
    (lambda: T.z_series(-0.1, 1.0, 0.0), "tau_eff must be >= 0"),
    (lambda: T.z_series(0.1, 1.0, 0.0, order=4), "order must be an integer in 1..3"),
    (lambda: T.convergence_time_first_order(0.2, criterion=1.5), "criterion must be"),
    (lambda: T.reduced_flow(1.0, [0.2, 0.1]), "tau must be a non-decreasing"),
    (lambda: T.reduced_flow(1.0, [0.1], gram=[[1, 2], [2, 1]]), "gram must be positive definite"),
    (lambda: T.reduced_descent(1.0, 0, 0.01), "epochs must be an integer >= 1"),
    (lambda: T.convergence_of_flow(0.0), "z_hat must be nonzero"),
    (lambda: T.predicted_dW_norm(0.3, 1.0, method="exact"), "method must be one of"),
])
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- series
def test_series_values_and_broadcasting():
    assert T.z_series(0.1, 2.0, 0.0, order=1) == pytest.approx(0.2)
    assert T.z_series(0.1, 2.0, 0.0, order=2) == pytest.approx(0.2 - 0.01)
    assert T.z_series(0.1, 2.0, 0.5) == pytest.approx(0.19 + 2 * 1e-3 / 6 * (1 + 32 / 0.75))
    assert T.s1_series(0.1, 1.0, 0.5) == pytest.approx(0.75 * (0.1 - 0.005 + 1e-3 / 6 * (1 + 3.5 / 0.75)))
    assert T.s2_series(0.2, 1.0) == pytest.approx(0.008 / 12)
    tau = np.linspace(0, 0.3, 7)[:, None]
    gs = np.array([0.0, 0.3, 0.6, 0.9])
    for f in (T.z_series, T.s1_series, T.s2_series, T.loss_series):
        assert f(tau, 1.0, gs).shape == (7, 4)
    # the series is the Taylor expansion of the first-order closed forms to second order
    t = np.array([0.01, 0.02])
    err = np.abs(T.z_first_order(t, 1.3) - T.z_series(t, 1.3, 0.0, order=2))
    assert err[1] / err[0] == pytest.approx(8, rel=0.05)          # O(tau^3)
    err = np.abs(T.s1_first_order(t, 1.3, 0.5) - T.s1_series(t, 1.3, 0.5, order=2))
    assert err[1] / err[0] == pytest.approx(8, rel=0.05)
    assert T.loss_first_order(0.0, 2.0) == pytest.approx(2.0)
    assert T.gradient_norm_first_order(0.0, 1.0, np.array([0.0, 0.6])) == pytest.approx([1.0, 1 / 0.64])


def test_series_is_the_small_time_expansion_of_the_reduced_flow():
    """At g = 0 (large N) the reduced flow is exact: the series errors shrink like tau^4."""
    for zh in (0.5, 2.0):
        taus = np.array([0.02, 0.04])
        f = T.reduced_flow(zh, taus, max_step=1e-3)
        sv = f.singular_values
        for sim, ser in ((f.z, T.z_series(taus, zh, 0.0)), (sv[:, 0], T.s1_series(taus, zh, 0.0)),
                         (sv[:, 1], T.s2_series(taus, zh))):
            err = np.abs(sim - ser)
            assert 10 < err[1] / err[0] < 24, (zh, err)        # ~2^4 = 16
            assert err[0] < 0.05 * np.abs(ser[0])


def _full_gradient_flow(W0, w, m, z_hat, taus, h=2e-4):
    """RK4 of the N x N fixed-point gradient flow dW/dtau = -dL/dW (the reference)."""
    f = lambda W: -T.fixed_point_gradient(W, w, m, z_hat)  # noqa: E731
    W, t, out = W0.copy(), 0.0, []
    for target in taus:
        while t < target - 1e-12:
            dt = min(h, target - t)
            k1 = f(W); k2 = f(W + dt / 2 * k1); k3 = f(W + dt / 2 * k2); k4 = f(W + dt * k3)  # noqa: E702
            W = W + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += dt
        out.append(W.copy())
    return np.array(out)


def test_network_parameters():
    _, w, m = _net(40, 0.0, seed=3)
    p = T.network_parameters(np.zeros((40, 40)), w, m)
    rho = w @ m / 40
    assert p.z0 == pytest.approx(rho) and p.beta == pytest.approx(1.0) and p.nu == pytest.approx(rho)
    W, w, m = _net(40, 0.5, seed=3)
    p = T.network_parameters(W, w, m)
    a, b = T.gradient_factors(W, w, m)
    assert p.beta == pytest.approx(np.linalg.norm(a) * np.linalg.norm(b))
    assert p.nu == pytest.approx(b @ np.linalg.solve(np.eye(40) - W, a))
    stacked = T.network_parameters(np.stack([W, W]), np.stack([w, w]), np.stack([m, m]))
    assert stacked.nu.shape == (2,) and stacked.nu[1] == pytest.approx(p.nu)


def test_finite_N_series_is_exact_to_second_order():
    """For one small network at g = 0.5, the series with its own (z0, beta_N, nu) matches the
    exact N x N gradient flow up to O(tau^3); without nu the error is O(tau^2)."""
    W0, w, m = _net(24, 0.5, seed=6)
    zh = 1.0
    p = T.network_parameters(W0, w, m)
    assert abs(p.nu) > 0.05                                    # a real finite-N correction
    teff = np.array([0.02, 0.04])
    Ws = _full_gradient_flow(W0, w, m, zh, teff / p.beta ** 2)
    z = T.fixed_point_readout(Ws, w, m)
    s1 = np.linalg.svd(Ws - W0, compute_uv=False)[:, 0]
    kw = dict(beta=p.beta, z0=p.z0, order=2)
    err_z = np.abs(z - T.z_series(teff, zh, nu=p.nu, **kw))
    err_z0 = np.abs(z - T.z_series(teff, zh, **kw))
    err_s = np.abs(s1 - T.s1_series(teff, zh, nu=p.nu, **kw))
    err_s0 = np.abs(s1 - T.s1_series(teff, zh, **kw))
    assert 6 < err_z[1] / err_z[0] < 10 and 6 < err_s[1] / err_s[0] < 10      # O(tau^3)
    assert 3 < err_z0[1] / err_z0[0] < 5 and 3 < err_s0[1] / err_s0[0] < 5    # O(tau^2)
    assert err_z[0] < 0.5 * err_z0[0] and err_s[0] < 0.5 * err_s0[0]


def test_first_order_predictions():
    assert T.convergence_time_first_order(0.0) == pytest.approx(np.log(20) / 2)
    np.testing.assert_allclose(T.convergence_time_first_order(np.array([0.0, 0.5])),
                               np.log(20) / 2 * np.array([1.0, 0.75 ** 2]))
    assert T.dW_norm_first_order(0.6, 2.0) == pytest.approx(2 * 0.64)


# --------------------------------------------------------------------------- reduced flow
def test_reduced_descent_is_gradient_descent_on_the_full_matrix():
    """Consistency at small N: N x N gradient descent on the fixed-point loss from W0 = 0
    stays in span{w, m} x span{w, m} and equals the 2 x 2 map at every step."""
    N, zh, lr, n = 16, 1.5, 0.05, 30
    _, w, m = _net(N, 0.0, seed=5)
    W = np.zeros((N, N))
    red = T.reduced_descent(zh, n, lr, gram=T.gram_matrix(w, m))
    for e in range(n):
        assert T.fixed_point_readout(W, w, m) == pytest.approx(red.z[e], rel=1e-12, abs=1e-14)
        W = W - lr * T.fixed_point_gradient(W, w, m, zh)
    np.testing.assert_allclose(red.dW(w, m), W, atol=1e-12)
    C, res = T.project_coefficients(W, w, m)
    np.testing.assert_allclose(C, red.C[-1], atol=1e-12)
    assert res < 1e-12
    s = np.linalg.svd(W, compute_uv=False)
    np.testing.assert_allclose(red.singular_values[-1], s[:2], rtol=1e-10)
    assert s[2] < 1e-12 * s[0]                                    # rank 2
    G_last = T.fixed_point_gradient(W, w, m, zh)
    assert red.gradient_norm[-1] == pytest.approx(np.linalg.norm(G_last), rel=1e-10)
    a, b = T.gradient_factors(W, w, m)
    assert red.rate[-1] == pytest.approx((a @ a) * (b @ b), rel=1e-10)
    ev = np.linalg.eigvals(W)
    ev = ev[np.argsort(-np.abs(ev))][:2]
    np.testing.assert_allclose(np.sort_complex(red.eigenvalues[-1]), np.sort_complex(ev), atol=1e-10)
    assert red.dW_norm[-1] == pytest.approx(np.linalg.norm(W))


def test_reduced_descent_follows_the_trained_network():
    """The 2 x 2 map reproduces lrbook.training.train at g = 0 to float32 precision."""
    task = FixedPoint(z_hat=1.0)
    r = train(model_for(task, 32, g=0.0, seeds=7), task, 15, lr=0.05)
    w, m = T.io_vectors(r.W_in0[0], r.W_out0[0])
    red = T.reduced_descent(1.0, 15, 0.05, gram=T.gram_matrix(w, m))
    np.testing.assert_allclose(r.loss[:, 0], red.loss[:15], rtol=1e-4)
    C, res = T.project_coefficients(r.dW[0], w, m)
    assert res < 1e-5
    np.testing.assert_allclose(C, red.C[-1], rtol=1e-4, atol=1e-6)


def test_flow_is_the_small_learning_rate_limit_of_descent():
    taus = np.array([0.0, 0.5, 1.0])
    flow = T.reduced_flow(1.0, taus)
    errs = []
    for lr in (0.02, 0.01):
        d = T.reduced_descent(1.0, int(round(1.0 / lr)), lr)
        errs.append(abs(d.z[-1] - flow.z[-1]))
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.1)      # Euler: O(lr)
    assert flow.z[0] == 0.0 and flow.loss[0] == pytest.approx(0.5)
    assert np.all(np.diff(flow.z) > 0)
    # the step size of the Runge-Kutta solver does not matter
    fine = T.reduced_flow(1.0, taus, max_step=1e-3)
    np.testing.assert_allclose(flow.z, fine.z, rtol=1e-8)


def test_flow_converges_and_its_convergence_time():
    tau_c, norm = T.convergence_of_flow(1.0)
    f = T.reduced_flow(1.0, np.linspace(0, 2 * tau_c, 401), max_step=1e-3)
    i = np.flatnonzero(f.loss < 0.05 * f.loss[0])[0]
    assert f.tau[i - 1] <= tau_c <= f.tau[i]
    long = T.reduced_flow(1.0, [30.0])
    assert long.loss[0] < 1e-20 and long.z[0] == pytest.approx(1.0)
    assert long.dW_norm[0] == pytest.approx(norm, rel=1e-6)
    # nonlinear speed-up: faster than the first-order e^{-2 tau}
    assert tau_c < T.convergence_time_first_order(0.0)


def test_expand_and_project_are_inverse():
    _, w, m = _net(12, 0.0, seed=8)
    C = np.array([[0.3, -0.2], [0.1, 0.5]])
    dW = T.expand_coefficients(C, w, m)
    C2, res = T.project_coefficients(dW, w, m)
    np.testing.assert_allclose(C2, C, atol=1e-12)
    assert res < 1e-12
    _, res = T.project_coefficients(np.random.default_rng(0).standard_normal((12, 12)), w, m)
    assert res > 0.5


# --------------------------------------------------------------------------- predictions
def test_predictions_as_functions_of_g():
    gs = np.array([0.0, 0.5, 0.9])
    tc = T.predicted_convergence_time(gs, 1.0)
    assert tc[0] == pytest.approx(T.convergence_of_flow(1.0, step=1e-3)[0])
    np.testing.assert_allclose(tc / tc[0], (1 - gs ** 2) ** 2)
    assert np.all(np.diff(tc) < 0)
    nrm = T.predicted_dW_norm(gs, 1.0)
    np.testing.assert_allclose(nrm / nrm[0], 1 - gs ** 2)
    np.testing.assert_allclose(T.predicted_convergence_time(gs, 1.0, method="first_order"),
                               T.convergence_time_first_order(gs))
    assert T.predicted_dW_norm(0.0, 2.0, method="first_order") == pytest.approx(2.0)
    assert T.predicted_dW_norm(gs[:, None], np.array([0.5, 1.0])).shape == (3, 2)
