"""Initialisation and the ensemble model."""

import numpy as np
import pytest
import torch

from lrbook.models import RNN, init_weights


def test_paper_initialisation_statistics():
    N = 400
    m = RNN.create(N, 3, 2, g=[0.0, 0.9, 1.8], seeds=[5, 5, 5])
    W = m.W.double().numpy()
    # W0 = g chi with the same chi for the same seed
    np.testing.assert_allclose(W[2], 2 * W[1], rtol=1e-5, atol=1e-7)
    assert np.all(W[0] == 0)
    # entries of chi have variance 1/N
    assert abs(W[1].var() * N / 0.81 - 1) < 0.02
    # spectral radius ~ g (circular law, loose at N = 400)
    rad = np.abs(np.linalg.eigvals(W[2])).max()
    assert 1.6 < rad < 2.0
    # input vectors |m| = sqrt(N); output columns |W_out| = 1/sqrt(N)
    np.testing.assert_allclose(np.linalg.norm(m.W_in.double().numpy(), axis=2), np.sqrt(N), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(m.W_out.double().numpy(), axis=1), 1 / np.sqrt(N), rtol=1e-6)


def test_seeds_reproduce_and_differ():
    a = init_weights(32, 1, 1, 1.0, 7)
    b = init_weights(32, 1, 1, 1.0, 7)
    c = init_weights(32, 1, 1, 1.0, 8)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.allclose(a[1], c[1])


def test_broadcasting_of_g_and_seeds():
    m = RNN.create(8, 1, 1, g=[0.0, 0.5, 1.0], seeds=3)
    assert m.K == 3 and list(m.seeds) == [3, 3, 3]
    m = RNN.create(8, 1, 1, g=0.5, seeds=[1, 2])
    assert m.K == 2 and list(m.g) == [0.5, 0.5]
    with pytest.raises(ValueError, match="same length"):
        RNN.create(8, 1, 1, g=[0.1, 0.2], seeds=[1, 2, 3])


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(N=0), ValueError, "N"),
    (dict(N=2.5), TypeError, "N"),
    (dict(g=-0.1), ValueError, "g"),
    (dict(g=float("nan")), ValueError, "g"),
    (dict(dt=0.0), ValueError, "dt"),
    (dict(dt=1.5), ValueError, "dt"),
    (dict(phi="relu6"), ValueError, "phi"),
    (dict(sigma=-1.0), ValueError, "sigma"),
    (dict(trained=("W", "bias")), ValueError, "trained"),
    (dict(seeds=-1), ValueError, "seeds"),
])
def test_create_rejects_bad_input(kwargs, exc, word):
    args = dict(N=8, n_in=1, n_out=1)
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        RNN.create(**args)


PHI_NUMPY = {"tanh": np.tanh, "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0),
             "softplus": lambda x: np.log1p(np.exp(x))}


def euler_numpy(W, W_in, W_out, u, dt, phi, x0=None):
    """One network, batch-first, written like the equation in numpy:
    x_{t+1} = (1 - dt) x_t + dt (W phi(x_t) + W_in^T u_t),  z_t = W_out^T phi(x_{t+1}).

    W (N, N), W_in (n_in, N), W_out (N, n_out), u (B, T, n_in) -> z (B, T, n_out), r (B, T+1, N).
    """
    f = PHI_NUMPY[phi]
    B, T, _ = u.shape
    x = np.zeros((B, W.shape[0])) if x0 is None else np.tile(x0, (B, 1))
    rates, outputs = [f(x)], []
    for t in range(T):
        x = (1 - dt) * x + dt * (f(x) @ W.T + u[:, t] @ W_in)
        rates.append(f(x))
        outputs.append(f(x) @ W_out)
    return np.stack(outputs, axis=1), np.stack(rates, axis=1)


@pytest.mark.parametrize("phi", ["tanh", "relu"])
def test_forward_and_simulate_match_the_equation_for_every_network_and_trial(phi):
    """Shapes all differ (K=2, B=4, T=7, N=6, n_in=2, n_out=3), so a swapped axis fails."""
    m = RNN.create(6, 2, 3, g=[0.5, 1.5], seeds=[0, 1], dt=0.3, phi=phi, dtype=torch.float64)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(4, 7, 2))                        # the same trials for both networks
    z = m.forward(u).detach().numpy()
    tr = m.simulate(u)
    assert z.shape == (2, 4, 7, 3) and tr.r.shape == (2, 4, 8, 6)
    for k in range(2):
        ref_z, ref_r = euler_numpy(m.W[k].numpy(), m.W_in[k].numpy(), m.W_out[k].numpy(), u, 0.3, phi)
        np.testing.assert_allclose(z[k], ref_z, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tr.z[k].numpy(), ref_z, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tr.r[k].numpy(), ref_r, rtol=1e-10, atol=1e-12)
    # 4-d inputs: network k runs on its own trials u4[k]
    u4 = rng.normal(size=(2, 4, 7, 2))
    z4 = m.forward(u4).detach().numpy()
    for k in range(2):
        ref_z, _ = euler_numpy(m.W[k].numpy(), m.W_in[k].numpy(), m.W_out[k].numpy(), u4[k], 0.3, phi)
        np.testing.assert_allclose(z4[k], ref_z, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="u must have shape"):
        m.forward(torch.randn(4, 9, 5))
    with pytest.raises(ValueError, match="u must have shape"):
        m.forward(torch.randn(3, 4, 9, 2))                # 3 input sets for 2 networks


def test_x0_mode_input_starts_from_the_first_input_vector():
    m = RNN.create(5, 2, 1, g=[0.9], seeds=[3], x0_mode="input", dtype=torch.float64)
    u = np.random.default_rng(1).normal(size=(3, 4, 2))
    m1 = m.W_in[0, 0].numpy()
    ref_z, ref_r = euler_numpy(m.W[0].numpy(), m.W_in[0].numpy(), m.W_out[0].numpy(), u, m.dt, "tanh", x0=m1)
    tr = m.simulate(u)
    np.testing.assert_allclose(tr.r[0, :, 0].numpy(), np.tile(np.tanh(m1), (3, 1)), rtol=1e-12)
    np.testing.assert_allclose(tr.z[0].numpy(), ref_z, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x0_mode", ["zero", "input"])
def test_forward_gradient_equals_finite_differences_of_the_equation(x0_mode):
    """Autograd through RNN.forward (the engine's hand-written BPTT) against central differences
    of the numpy loop, for entries of W_in, W and W_out of the second network. With
    ``x0_mode="input"`` the start x0 = m_1 (row 0 of W_in) depends on W_in too."""
    m = RNN.create(5, 2, 3, g=[0.4, 1.3], seeds=[2, 3], dt=0.4, x0_mode=x0_mode, dtype=torch.float64)
    rng = np.random.default_rng(2)
    u = rng.normal(size=(3, 6, 2))
    c = rng.normal(size=(3, 6, 3))                         # loss = sum(c * z[1]): no symmetry to hide behind
    params = {n: getattr(m, n).clone().requires_grad_() for n in ("W_in", "W", "W_out")}
    (m.with_weights(**params).forward(u)[1] * torch.tensor(c)).sum().backward()

    def loss(**w):
        full = {n: getattr(m, n)[1].numpy().copy() for n in ("W_in", "W", "W_out")}
        full.update(w)
        x0 = full["W_in"][0] if x0_mode == "input" else None
        return float(np.sum(c * euler_numpy(full["W"], full["W_in"], full["W_out"], u, 0.4, "tanh", x0)[0]))

    eps = 1e-6
    for name, (i, j) in [("W_in", (0, 2)), ("W_in", (1, 4)), ("W", (0, 3)), ("W", (4, 4)), ("W_out", (2, 1))]:
        base = getattr(m, name)[1].numpy()
        plus, minus = base.copy(), base.copy()
        plus[i, j] += eps
        minus[i, j] -= eps
        fd = (loss(**{name: plus}) - loss(**{name: minus})) / (2 * eps)
        assert params[name].grad[1, i, j].item() == pytest.approx(fd, rel=1e-6, abs=1e-9), name
        assert params[name].grad[0].abs().max().item() == 0.0      # network 0 is not in the loss


def test_with_weights_and_subset():
    m = RNN.create(8, 1, 1, g=[0.5, 1.0, 1.5], seeds=[0, 1, 2])
    s = m.subset([2, 0])
    assert s.K == 2 and list(s.g) == [1.5, 0.5]
    torch.testing.assert_close(s.W[0], m.W[2])
    z = m.with_weights(W=torch.zeros(3, 8, 8))
    assert torch.all(z.W == 0) and not torch.all(m.W == 0)
    with pytest.raises(ValueError, match="W must have shape"):
        m.with_weights(W=torch.zeros(8, 8))
