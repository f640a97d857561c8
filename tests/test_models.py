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


def test_forward_shapes_and_autograd():
    m = RNN.create(16, 2, 3, g=[0.5, 1.0], seeds=[0, 1])
    u = torch.randn(4, 9, 2)
    z = m.forward(u)
    assert z.shape == (2, 4, 9, 3)
    tr = m.simulate(u)
    assert tr.r.shape == (2, 4, 10, 16) and tr.z.shape == (2, 4, 9, 3)
    torch.testing.assert_close(tr.z, z.detach())
    m.W.requires_grad_(True)
    m.forward(u).pow(2).sum().backward()
    assert m.W.grad is not None and m.W.grad.shape == (2, 16, 16)
    with pytest.raises(ValueError, match="u must have shape"):
        m.forward(torch.randn(4, 9, 5))


def test_with_weights_and_subset():
    m = RNN.create(8, 1, 1, g=[0.5, 1.0, 1.5], seeds=[0, 1, 2])
    s = m.subset([2, 0])
    assert s.K == 2 and list(s.g) == [1.5, 0.5]
    torch.testing.assert_close(s.W[0], m.W[2])
    z = m.with_weights(W=torch.zeros(3, 8, 8))
    assert torch.all(z.W == 0) and not torch.all(m.W == 0)
    with pytest.raises(ValueError, match="W must have shape"):
        m.with_weights(W=torch.zeros(8, 8))
