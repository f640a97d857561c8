"""The Euler RNN engine: hand computations, exact gradients, the tanh identity."""

import numpy as np
import pytest
import torch

from lrbook import engine
from lrbook.models import RNN
from lrbook.tasks import FlipFlop


def test_one_euler_step_by_hand():
    # N = 2, one input, one output, one step from x0: x1 = (1-dt) x0 + dt (W tanh(x0) + m u0)
    W = torch.tensor([[[0.5, -1.0], [2.0, 0.25]]], dtype=torch.float64)
    W_in = torch.tensor([[[1.0, -2.0]]], dtype=torch.float64)
    W_out = torch.tensor([[[0.3], [0.7]]], dtype=torch.float64)
    x0 = torch.tensor([[[0.2, -0.4]]], dtype=torch.float64)
    u = torch.tensor([[[[1.5]]]], dtype=torch.float64)       # (K=1, T=1, B=1, n_in=1)
    dt = 0.5
    r0 = np.tanh([0.2, -0.4])
    x1 = 0.5 * np.array([0.2, -0.4]) + 0.5 * (np.array([[0.5, -1.0], [2.0, 0.25]]) @ r0
                                               + np.array([1.0, -2.0]) * 1.5)
    z0 = np.tanh(x1) @ np.array([0.3, 0.7])
    z, ws = engine.forward(W_in, W, W_out, u, dt=dt, phi="tanh", x0=x0)
    assert z.shape == (1, 1, 1, 1)
    np.testing.assert_allclose(z.item(), z0, rtol=1e-12)
    np.testing.assert_allclose(ws.rates()[0, 1, 0].numpy(), np.tanh(x1), rtol=1e-12)
    # linear: z = w^T x1
    zl, _ = engine.forward(W_in, W, W_out, u, dt=dt, phi="linear", x0=x0)
    xl = 0.5 * np.array([0.2, -0.4]) + 0.5 * (np.array([[0.5, -1.0], [2.0, 0.25]]) @ [0.2, -0.4]
                                               + np.array([1.0, -2.0]) * 1.5)
    np.testing.assert_allclose(zl.item(), xl @ [0.3, 0.7], rtol=1e-12)


@pytest.mark.parametrize("phi", engine.PHIS)
@pytest.mark.parametrize("with_x0", [False, True])
def test_forward_matches_the_reference_loop(phi, with_x0):
    torch.manual_seed(0)
    m = RNN.create(10, 2, 3, g=[0.5, 1.5], seeds=[1, 2], dtype=torch.float64)
    u = torch.randn(2, 7, 3, 2, dtype=torch.float64)
    x0 = torch.randn(2, 1, 10, dtype=torch.float64) if with_x0 else None
    noise = 0.1 * torch.randn(2, 7, 3, 10, dtype=torch.float64)
    z, _ = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=x0, noise=noise)
    ref, xs = engine.reference_forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=x0, noise=noise)
    torch.testing.assert_close(z, ref, rtol=1e-12, atol=1e-12)
    assert xs.shape == (2, 8, 3, 10)
    torch.testing.assert_close(engine.phi_fn(phi, xs[:, -1]), ws_rates_last(m, u, phi, x0, noise))


def ws_rates_last(m, u, phi, x0, noise):
    _, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=x0, noise=noise)
    return ws.rates()[:, -1]


@pytest.mark.parametrize("phi", engine.PHIS)
def test_backward_matches_autograd_through_the_reference(phi):
    """The hand-written BPTT equals torch.autograd through the loop written like the equation."""
    m = RNN.create(9, 2, 3, g=[0.0, 1.3], seeds=[5, 6], dtype=torch.float64)
    rng = np.random.default_rng(2)
    u = torch.tensor(rng.normal(size=(2, 6, 4, 2)))
    y = torch.tensor(rng.normal(size=(2, 6, 4, 3)))
    msk = torch.tensor(rng.random((2, 6, 4, 3)))          # weights in [0, 1), not only 0/1
    Ws = [m.W_in.clone().requires_grad_(), m.W.clone().requires_grad_(), m.W_out.clone().requires_grad_()]
    z_ref, _ = engine.reference_forward(*Ws, u, dt=0.5, phi=phi)
    loss_ref = (0.5 * (msk * (z_ref - y) ** 2).reshape(2, -1).sum(1) / msk.reshape(2, -1).sum(1)).sum()
    loss_ref.backward()
    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi)
    loss, dz = engine.masked_mse(z, y, msk)
    torch.testing.assert_close(loss.sum(), loss_ref.detach())
    gW_in, gW, gW_out = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, phi=phi)
    for got, ref in zip((gW_in, gW, gW_out), (Ws[0].grad, Ws[1].grad, Ws[2].grad)):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("phi", engine.PHIS)
def test_gradients_against_autograd_and_finite_differences(phi):
    m = RNN.create(8, 2, 2, g=[0.8, 1.2], seeds=[3, 4], dtype=torch.float64)
    b = FlipFlop(t_max=6.0).batch(3, np.random.default_rng(0))
    u = torch.tensor(b.u, dtype=torch.float64).unsqueeze(0).expand(2, -1, -1, -1).transpose(1, 2).contiguous()
    params = [m.W_in.clone().requires_grad_(), m.W.clone().requires_grad_(), m.W_out.clone().requires_grad_()]
    f = lambda Wi, W, Wo: engine.EulerRNN.apply(Wi, W, Wo, u, 0.5, phi, None, None)  # noqa: E731
    assert torch.autograd.gradcheck(f, tuple(params), eps=1e-6, atol=1e-7)
    # explicit central difference on one entry of W for a scalar loss
    y = torch.tensor(b.target, dtype=torch.float64).unsqueeze(0).expand(2, -1, -1, -1).transpose(1, 2)
    msk = torch.tensor(b.mask, dtype=torch.float64).unsqueeze(0).expand(2, -1, -1, -1).transpose(1, 2)

    def L(W):
        z, _ = engine.forward(m.W_in, W, m.W_out, u, dt=0.5, phi=phi)
        return engine.masked_mse(z, y, msk)[0].sum()

    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi)
    _, dz = engine.masked_mse(z, y, msk)
    _, gW, _ = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, phi=phi)
    for (k, i, j) in [(0, 1, 2), (1, 5, 0), (1, 7, 7)]:
        E = torch.zeros_like(m.W)
        E[k, i, j] = 1e-6
        fd = (L(m.W + E) - L(m.W - E)) / 2e-6
        np.testing.assert_allclose(gW[k, i, j].item(), fd.item(), rtol=1e-5, atol=1e-10)


#: phi'(x) written from x (not from the rate), as in the textbooks: sech^2, 1, [x > 0], sigmoid.
DPHI_OF_X = {
    "tanh": lambda x: 1.0 / np.cosh(x) ** 2,
    "linear": lambda x: np.ones_like(x),
    "relu": lambda x: (x > 0).astype(float),            # 0 at the kink x = 0, as documented
    "softplus": lambda x: 1.0 / (1.0 + np.exp(-x)),
}


def _x0_problem(seed=3):
    """A model whose trials start at its first input vector, with fractional mask weights."""
    m = RNN.create(7, 2, 2, g=[0.6, 1.4], seeds=[1, 2], x0_mode="input", dtype=torch.float64)
    rng = np.random.default_rng(seed)
    u = torch.tensor(rng.normal(size=(2, 5, 3, 2)))
    y = torch.tensor(rng.normal(size=(2, 5, 3, 2)))
    msk = torch.tensor(rng.random((2, 5, 3, 2)))
    return m, u, y, msk


def _reference_loss(m, u, y, msk, phi, W_in, x0):
    z, _ = engine.reference_forward(W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=x0)
    return (0.5 * (msk * (z - y) ** 2).reshape(2, -1).sum(1) / msk.reshape(2, -1).sum(1)).sum()


@pytest.mark.parametrize("phi", engine.PHIS)
def test_initial_state_gradient_reaches_W_in_like_autograd(phi):
    """x0_mode="input": x0 = W_in[:, :1], so dL/dW_in has a second path, through x0."""
    m, u, y, msk = _x0_problem()
    W_in = m.W_in.clone().requires_grad_()
    _reference_loss(m, u, y, msk, phi, W_in, W_in[:, :1]).backward()
    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=m.x0(3))
    _, dz = engine.masked_mse(z, y, msk)
    gW_in, gW, gW_out, gx0 = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, phi=phi,
                                             x0_grad=True)
    assert gx0.shape == (2, 3, 7)                       # one per trial
    total = gW_in.clone()
    total[:, 0] += gx0.sum(1)
    torch.testing.assert_close(total, W_in.grad, rtol=1e-10, atol=1e-12)
    assert (total - gW_in).abs().max() > 1e-3           # the path through x0 is not negligible
    # x0_grad changes nothing else
    for got, ref in zip((gW_in, gW, gW_out), engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, phi=phi)):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)


@pytest.mark.parametrize("phi", engine.PHIS)
def test_initial_state_gradient_matches_finite_differences(phi):
    m, u, y, msk = _x0_problem(4)
    x0 = torch.tensor(np.random.default_rng(5).normal(size=(2, 3, 7)))     # one state per trial
    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=x0)
    _, dz = engine.masked_mse(z, y, msk)
    *_, gx0 = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, phi=phi, x0_grad=True)

    def L(x):
        z, _ = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, x0=x)
        return engine.masked_mse(z, y, msk)[0].sum().item()

    for (k, b, i) in [(0, 0, 0), (0, 2, 5), (1, 1, 3), (1, 2, 6)]:
        E = torch.zeros_like(x0)
        E[k, b, i] = 1e-6
        fd = (L(x0 + E) - L(x0 - E)) / 2e-6
        np.testing.assert_allclose(gx0[k, b, i].item(), fd, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("phi", ["tanh", "linear"])
def test_model_forward_passes_the_initial_state_gradient_to_W_in(phi):
    """Through autograd too (EulerRNN): RNN.forward with x0_mode="input" and W_in requiring grad."""
    m, u, y, msk = _x0_problem(6)
    m.phi = phi
    ref = m.W_in.clone().requires_grad_()
    _reference_loss(m, u, y, msk, phi, ref, ref[:, :1]).backward()
    m.W_in.requires_grad_()
    z = m.forward(u.transpose(1, 2)).transpose(1, 2)                   # batch-first in, time-major back
    (0.5 * (msk * (z - y) ** 2).reshape(2, -1).sum(1) / msk.reshape(2, -1).sum(1)).sum().backward()
    torch.testing.assert_close(m.W_in.grad, ref.grad, rtol=1e-10, atol=1e-12)
    x0 = torch.randn(2, 1, 7, dtype=torch.float64, requires_grad=True)
    f = lambda Wi, x: engine.EulerRNN.apply(Wi, m.W.detach(), m.W_out.detach(), u, 0.5, phi, x, None)  # noqa: E731
    assert torch.autograd.gradcheck(f, (m.W_in.detach().clone().requires_grad_(), x0), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("phi", engine.PHIS)
def test_derivative_from_rate(phi):
    """phi'(x) recovered from r = phi(x) equals the derivative written from x, and autograd's."""
    xs = np.r_[np.linspace(-3, 3, 41), 0.0, -1e-3, 1e-3, 7.5]     # both sides of 0 and 0 itself
    x = torch.tensor(xs).requires_grad_()
    r = engine.phi_fn(phi, x)
    expect = DPHI_OF_X[phi](xs)
    np.testing.assert_allclose(engine.dphi_from_rate(phi, r.detach()).numpy(), expect, rtol=1e-10, atol=1e-13)
    (d,) = torch.autograd.grad(r.sum(), x)
    smooth = xs != 0.0                                               # relu's kink: autograd picks its own value
    np.testing.assert_allclose(d.numpy()[smooth], expect[smooth], rtol=1e-10, atol=1e-13)
    # out=: every entry of a garbage-filled buffer is written, and that buffer is returned
    out = torch.full_like(r, float("nan"))
    got = engine.dphi_from_rate(phi, r.detach(), out=out)
    assert got.data_ptr() == out.data_ptr()
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-10, atol=1e-13)


def test_relu_and_softplus_by_hand():
    # one step from x0 = (1, -2): r0 = phi(x0), x1 = (1-dt) x0 + dt W r0, z0 = w . phi(x1)
    W = torch.tensor([[[0.0, 1.0], [-1.0, 0.5]]], dtype=torch.float64)
    W_in = torch.zeros(1, 1, 2, dtype=torch.float64)
    W_out = torch.tensor([[[1.0], [2.0]]], dtype=torch.float64)
    x0 = torch.tensor([[[1.0, -2.0]]], dtype=torch.float64)
    u = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    for phi, f in (("relu", lambda v: np.maximum(v, 0.0)), ("softplus", lambda v: np.log1p(np.exp(v)))):
        r0 = f(np.array([1.0, -2.0]))
        x1 = 0.5 * np.array([1.0, -2.0]) + 0.5 * np.array([[0.0, 1.0], [-1.0, 0.5]]) @ r0
        z, ws = engine.forward(W_in, W, W_out, u, dt=0.5, phi=phi, x0=x0)
        np.testing.assert_allclose(z.item(), f(x1) @ [1.0, 2.0], rtol=1e-12)
        np.testing.assert_allclose(ws.rates()[0, 0, 0].numpy(), r0, rtol=1e-12)


def test_unknown_phi_is_rejected():
    W, W_in, W_out = torch.zeros(1, 3, 3), torch.zeros(1, 1, 3), torch.zeros(1, 3, 1)
    u = torch.zeros(1, 2, 1, 1)
    with pytest.raises(ValueError, match="phi must be one of tanh, linear, relu, softplus; got 'elu'"):
        engine.forward(W_in, W, W_out, u, dt=0.5, phi="elu")
    _, ws = engine.forward(W_in, W, W_out, u, dt=0.5)
    with pytest.raises(ValueError, match="phi must be one of"):
        engine.backward(W_in, W, W_out, u, torch.zeros(1, 2, 1, 1), ws, dt=0.5, phi="elu")
    with pytest.raises(ValueError, match="phi must be one of"):
        engine.phi_fn("elu", u)


def test_tanh_via_sigmoid_is_accurate_in_float32():
    """The engine's float32 tanh (as 2 sigmoid(2x) - 1) against float64 tanh of the same states."""
    m = RNN.create(64, 2, 2, g=[1.8], seeds=[0], dtype=torch.float32)
    b = FlipFlop().batch(8, np.random.default_rng(0))
    u = torch.tensor(b.u).transpose(0, 1).unsqueeze(0).contiguous()
    _, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi="tanh")
    r = ws.rates()[:, 1:]                                     # rates after each step
    # recover each pre-activation from the Euler update, in float64
    rates = ws.rates().double()
    W, Wi = m.W.double(), m.W_in.double()
    x = torch.zeros(1, 8, 64, dtype=torch.float64)
    err = 0.0
    for t in range(u.shape[1]):
        x = x + 0.5 * (-x + rates[:, t] @ W.transpose(1, 2) + u[:, t].double() @ Wi)
        err = max(err, (r[:, t].double() - torch.tanh(x)).abs().max().item())
    assert 0 < err < 1e-5, err


def test_masked_mse_value_and_gradient():
    rng = np.random.default_rng(1)
    z = torch.tensor(rng.normal(size=(2, 5, 3, 2)))
    y = torch.tensor(rng.normal(size=(2, 5, 3, 2)))
    mask = torch.tensor((rng.random((2, 5, 3, 2)) > 0.5).astype(float))
    mask[1] *= torch.tensor(rng.random((5, 3, 2)) * 3)      # any non-negative weights
    loss, dz = engine.masked_mse(z.clone(), y, mask)
    for k in range(2):
        ref = 0.5 * np.sum(mask[k].numpy() * (z[k] - y[k]).numpy() ** 2) / mask[k].sum().item()
        np.testing.assert_allclose(loss[k].item(), ref, rtol=1e-12)
    zz = z.clone().requires_grad_()
    (0.5 * (mask * (zz - y) ** 2).reshape(2, -1).sum(1) / mask.reshape(2, -1).sum(1)).sum().backward()
    torch.testing.assert_close(dz, zz.grad)


def test_masked_mse_is_exact_for_small_fractional_weights():
    """Weights summing to less than 1: the loss is still the weighted mean, its gradient exact."""
    rng = np.random.default_rng(2)
    z = torch.tensor(rng.normal(size=(2, 4, 3, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(2, 4, 3, 2)))
    mask = torch.tensor(rng.random((2, 4, 3, 2)) * 0.01)
    mask[0, :2] = 0.0
    loss, dz = engine.masked_mse(z.detach(), y, mask)
    ref = 0.5 * (mask * (z - y) ** 2).reshape(2, -1).sum(1) / mask.reshape(2, -1).sum(1)
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=0)
    ref.sum().backward()
    torch.testing.assert_close(dz, z.grad, rtol=1e-12, atol=0)
    # an all-zero mask: loss 0, gradient 0
    loss0, dz0 = engine.masked_mse(z.detach(), y, torch.zeros_like(mask))
    assert torch.all(loss0 == 0) and torch.all(dz0 == 0)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), -float("inf")])
def test_a_negative_or_non_finite_mask_is_refused(bad):
    z = torch.zeros(1, 3, 2, 1)
    mask = torch.ones_like(z)
    mask[0, 1, 0, 0] = bad
    with pytest.raises(ValueError, match=r"mask must hold finite weights >= 0.*got (1|0) negative and (0|1) NaN/inf"):
        engine.masked_mse(z, z, mask)
    m = RNN.create(4, 1, 1)
    with pytest.raises(ValueError, match="mask"):
        m.loss(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), mask[0].transpose(0, 1).numpy())


def test_float32_engine_close_to_float64():
    m64 = RNN.create(64, 2, 2, g=[1.5], seeds=[0], dtype=torch.float64)
    m32 = RNN.create(64, 2, 2, g=[1.5], seeds=[0], dtype=torch.float32)
    b = FlipFlop().batch(4, np.random.default_rng(0))
    z64 = m64.simulate(b.u).z
    z32 = m32.simulate(b.u).z
    assert (z64 - z32.double()).abs().max().item() < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    mc = RNN.create(32, 2, 2, g=[0.9, 1.5], seeds=[0, 1])
    mg = RNN.create(32, 2, 2, g=[0.9, 1.5], seeds=[0, 1], device="cuda")
    b = FlipFlop().batch(4, np.random.default_rng(0))
    torch.testing.assert_close(mg.simulate(b.u).z.cpu(), mc.simulate(b.u).z, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("phi", engine.PHIS)
def test_forward_without_the_trajectory_gives_the_same_outputs(phi):
    """``trajectory=False`` keeps two steps of rates, gives bit-identical outputs, and
    cannot be used for a backward pass."""
    m = RNN.create(12, 2, 3, g=[0.7, 1.4], seeds=[3, 4], phi=phi)
    u = torch.randn(2, 8, 5, 2, generator=torch.Generator().manual_seed(0))
    noise = 0.1 * torch.randn(2, 8, 5, 12, generator=torch.Generator().manual_seed(1))
    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, noise=noise, x0=m.W_in[:, :1])
    z2, ws2 = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, noise=noise, x0=m.W_in[:, :1],
                             trajectory=False)
    assert torch.equal(z, z2) and ws2.RA.shape == (2, 2, 5, 14)
    assert torch.equal(ws2.rates()[:, 8 % 2], ws.rates()[:, 8])         # the last state, in its row
    with pytest.raises(ValueError, match="trajectory=True"):
        engine.backward(m.W_in, m.W, m.W_out, u, torch.ones_like(z), ws2, dt=0.5, phi=phi)
    # a workspace is reused across calls of the same shapes, renewed for others
    _, ws3 = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, phi=phi, ws=ws)
    assert ws3 is ws
    _, ws4 = engine.forward(m.W_in, m.W, m.W_out, u[:, :4], dt=0.5, phi=phi, ws=ws)
    assert ws4 is not ws and ws4.RA.shape[1] == 5


@pytest.mark.parametrize("x0_grad", [False, True])
def test_backward_writes_into_given_tensors(x0_grad):
    """``out=`` gives the same gradients, written into the given tensors (the training loop's rows)."""
    m = RNN.create(10, 2, 3, g=[0.7, 1.4], seeds=[3, 4])
    u = torch.randn(2, 6, 4, 2, generator=torch.Generator().manual_seed(0))
    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.5, x0=m.W_in[:, :1])
    dz = torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    ref = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, x0_grad=x0_grad)
    big = {name: torch.full((3, *p.shape[1:]), 7.0) for name, p in m.params().items()}
    rows = (big["W_in"][1:], None, big["W_out"][1:])               # W: a new tensor
    got = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.5, x0_grad=x0_grad, out=rows)
    assert got[0] is rows[0] and got[2] is rows[2] and len(got) == len(ref)
    for a, b in zip(got, ref):
        assert torch.equal(a, b)
    assert (big["W_in"][0] == 7.0).all() and (big["W_out"][0] == 7.0).all()
