"""lrbook.analysis.gradient: the gradient as a sum of outer products, and its span."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrbook.analysis import gradient_terms, krylov_fraction, span_fraction
from lrbook.models import RNN
from lrbook.tasks import FlipFlop


def _batch(B=6):
    b = FlipFlop(t_max=12.0).batch(B, np.random.default_rng(0))
    return b.u, b.target, b.mask


@pytest.mark.parametrize("phi", ["tanh", "linear"])
def test_outer_products_sum_to_the_gradient_and_match_the_engine(phi):
    m = RNN.create(24, 2, 2, g=[0.0, 1.2], seeds=[0, 1], phi=phi, dtype=torch.float64)
    u, y, mask = _batch()
    # the engine's gradient (hand-written BPTT) through the model's autograd wrapper
    W = m.W.clone().requires_grad_()
    z = m.with_weights(W=W)(u)
    yt, mt = torch.tensor(y), torch.tensor(mask)
    loss = 0.5 * (mt * (z - yt) ** 2).sum() / mt.sum()      # summed over the K = 2 networks
    loss.backward()
    for k in range(2):
        gt = gradient_terms(m, u, y, mask, k=k)
        assert gt.delta.shape == gt.rates.shape == (u.shape[1], u.shape[0], 24)
        np.testing.assert_allclose(gt.G, gt.autograd_G, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gt.G, W.grad[k].numpy(), rtol=1e-8, atol=1e-12)


def test_linear_network_at_g0_has_a_gradient_of_rank_at_most_two_in_span_w_m():
    m = RNN.create(40, 2, 2, g=[0.0], seeds=[3], phi="linear", dtype=torch.float64)
    gt = gradient_terms(m, *_batch())
    s = np.linalg.svd(gt.G, compute_uv=False)
    assert s[1] > 1e-3 * s[0] and s[2] < 1e-12 * s[0]
    assert span_fraction(gt.G, m.W_out[0].numpy(), m.W_in[0].numpy().T) == pytest.approx(1.0, abs=1e-12)


def test_span_fraction_of_constructed_matrices():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 10))
    assert span_fraction(np.outer(a, b), a[:, None], b[:, None]) == pytest.approx(1.0)
    # half of the norm in span: M = a b^T + c b^T with a ⟂ c and |a| = |c|
    a = np.eye(10)[0]
    c = np.eye(10)[1]
    assert span_fraction(np.outer(a, b) + np.outer(c, b), a[:, None], b[:, None]) == pytest.approx(0.5)
    assert span_fraction(np.zeros((10, 10)), a[:, None], b[:, None]) == 0.0
    with pytest.raises(ValueError, match="must agree"):
        span_fraction(np.eye(10), np.ones((9, 1)), np.ones((10, 1)))


def test_krylov_fraction_grows_to_one_for_a_matrix_built_from_the_krylov_vectors():
    rng = np.random.default_rng(1)
    N = 12
    W0 = rng.normal(size=(N, N)) / np.sqrt(N)
    m = rng.normal(size=(1, N))
    w = rng.normal(size=(N, 1))
    M = np.outer(W0.T @ W0.T @ w[:, 0], W0 @ m[0])     # order 2 on the left, 1 on the right
    f = krylov_fraction(M, W0, m, w, [0, 1, 2, 3])
    assert f[0] < 0.9 and f[1] < 0.99 and f[2] == pytest.approx(1.0) and f[3] == pytest.approx(1.0)
    assert np.all(np.diff(f) >= -1e-12)
    with pytest.raises(ValueError, match="orders"):
        krylov_fraction(M, W0, m, w, [-1])


def test_gradient_terms_refuses_bad_input():
    m = RNN.create(8, 2, 2, dtype=torch.float64)
    u, y, mask = _batch(2)
    with pytest.raises(TypeError, match="model"):
        gradient_terms("net", u, y, mask)
    with pytest.raises(ValueError, match="k"):
        gradient_terms(m, u, y, mask, k=1)
    with pytest.raises(ValueError, match="u must have shape"):
        gradient_terms(m, u[..., :1], y, mask)
    with pytest.raises(ValueError, match="target and mask"):
        gradient_terms(m, u, y[:, :-1], mask)


def test_a_negative_or_non_finite_mask_is_refused():
    m = RNN.create(8, 2, 2, dtype=torch.float64)
    u, y, mask = _batch(2)
    for bad in (-1.0, np.nan):
        wrong = mask.copy()
        wrong[0, 0, 0] = bad
        with pytest.raises(ValueError, match="mask must hold finite weights >= 0"):
            gradient_terms(m, u, y, wrong)
