"""lrbook.dynamics: fixed points, Jacobians, latent low-rank systems, state space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrbook.dynamics import (
    find_fixed_points,
    jacobian,
    linearise,
    low_rank_system,
    pca,
    starts_from_trajectories,
    subspace_fraction,
    vector_field,
)
from lrbook.dynamics.fixed_points import _drive, as_weights
from lrbook.models import RNN
from lrbook.tasks import FlipFlop


def brentq(f, a, b, tol=1e-14):
    """Bisection root of f on [a, b] (f(a), f(b) of opposite signs)."""
    fa = f(a)
    while b - a > tol:
        c = 0.5 * (a + b)
        if (f(c) > 0) == (fa > 0):
            a, fa = c, f(c)
        else:
            b = c
    return 0.5 * (a + b)


def test_linear_network_has_its_unique_fixed_point_and_eigenvalues_minus_one_plus_eig_W():
    rng = np.random.default_rng(0)
    N = 20
    W = 0.6 * rng.normal(size=(N, N)) / np.sqrt(N)
    W_in = rng.normal(size=(2, N))
    u = np.array([0.3, -1.2])
    starts = 3 * rng.normal(size=(5, N))
    fp = find_fixed_points(W, W_in, starts, u=u, phi="linear")
    assert len(fp.points) == 1 and fp.points[0].n_starts == 5 and not fp.slow_points
    x_star = np.linalg.solve(np.eye(N) - W, W_in.T @ u)
    np.testing.assert_allclose(fp.points[0].x, x_star, atol=1e-9)
    ev = np.sort_complex(np.linalg.eigvals(W) - 1)
    np.testing.assert_allclose(np.sort_complex(fp.points[0].eigenvalues), ev, atol=1e-9)
    assert fp.points[0].stable                    # spectral radius 0.6 < 1


def test_rank_one_tanh_network_is_bistable_at_plus_minus_kappa_star():
    rng = np.random.default_rng(1)
    N = 200
    m = rng.normal(size=N)
    m *= np.sqrt(N) / np.linalg.norm(m)
    n = 2.0 * m                                   # overlap 2: bistable
    W = np.outer(m, n) / N

    def self_consistency(k):                     # kappa = <n tanh(m kappa)> / N
        return n @ np.tanh(m * k) / N - k

    k_star = brentq(self_consistency, 0.1, 10)
    starts = np.concatenate([rng.normal(size=(8, N)) * 0.5 + s * k_star * m for s in (-1, 1)]
                            + [1e-3 * rng.normal(size=(4, N))])
    fp = find_fixed_points(W, None, starts, phi="tanh")
    kappas = sorted(float(p.x @ m / N) for p in fp.points)
    assert len(fp.points) == 3, kappas
    np.testing.assert_allclose(kappas, [-k_star, 0.0, k_star], atol=1e-7)
    by_k = {round(float(p.x @ m / N)): p for p in fp.points}
    assert by_k[0].n_unstable == 1 and not by_k[0].stable
    assert by_k[round(k_star)].stable and by_k[-round(k_star)].stable
    # the states lie on the line spanned by m
    for p in fp.points:
        assert subspace_fraction(p.x, m[:, None]) == pytest.approx(1.0, abs=1e-10) or np.allclose(p.x, 0)


@pytest.mark.parametrize("discrete", [False, True])
def test_jacobian_against_finite_differences(discrete):
    rng = np.random.default_rng(2)
    N = 7
    Wt, Wi, _, bt = as_weights(1.3 * rng.normal(size=(2, N, N)) / np.sqrt(N), rng.normal(size=(2, 3, N)),
                               b=rng.normal(size=(2, N)))
    drive = _drive(Wi, rng.normal(size=3), bt)
    x = torch.from_numpy(rng.normal(size=(2, 4, N)))
    J = jacobian(x, Wt, drive, "tanh", discrete)
    eps = 1e-6
    for j in range(N):
        e = torch.zeros(N, dtype=torch.float64)
        e[j] = eps
        fd = (vector_field(x + e, Wt, drive, "tanh", discrete)
              - vector_field(x - e, Wt, drive, "tanh", discrete)) / (2 * eps)
        torch.testing.assert_close(J[..., :, j], fd, rtol=1e-6, atol=1e-8)


def test_duplicates_are_merged_and_slow_points_kept_apart():
    rng = np.random.default_rng(3)
    N = 10
    W = 0.5 * rng.normal(size=(N, N)) / np.sqrt(N)
    starts = rng.normal(size=(6, N))
    fp = find_fixed_points(W, None, starts, phi="tanh")
    assert len(fp.points) == 1 and fp.points[0].n_starts == 6       # only x = 0
    np.testing.assert_allclose(fp.points[0].x, 0, atol=1e-8)
    # with no polishing and few Adam steps, nothing reaches q_tol: all are slow points
    slow = find_fixed_points(W, None, starts, phi="tanh", adam_steps=1, newton_steps=0)
    assert not slow.points and sum(p.n_starts for p in slow.slow_points) == 6
    assert all(p.q >= slow.q_tol for p in slow.slow_points)


def test_batching_over_networks_gives_the_same_points_as_one_at_a_time():
    m = RNN.create(24, 2, 2, g=[0.5, 1.6, 2.0], seeds=[0, 1, 2], dtype=torch.float64)
    starts = starts_from_trajectories(m, FlipFlop(), 12, seed=0, noise=0.2)
    assert starts.shape == (3, 12, 24)
    together = find_fixed_points(m.W, m.W_in, starts, W_out=m.W_out)
    for k in range(3):
        alone = find_fixed_points(m.W[k], m.W_in[k], starts[k], W_out=m.W_out[k])
        a = sorted(np.round(p.x, 6).tolist() for p in together.of(k))
        b = sorted(np.round(p.x, 6).tolist() for p in alone.points)
        assert a == b
        for p in together.of(k):
            z = np.tanh(p.x) @ m.W_out[k].numpy()
            np.testing.assert_allclose(p.readout, z, atol=1e-12)
    d = together.to_dict()
    assert [n["network"] for n in d["networks"]] == [0, 1, 2]
    keys = {"readout", "stable", "q", "max_real_eigenvalue", "n_unstable"}
    assert all(keys <= set(p) for n in d["networks"] for p in n["fixed_points"])


def test_discrete_map_fixed_point_of_a_torch_rnn_step():
    torch.manual_seed(0)
    rnn = torch.nn.RNN(2, 16, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.5)
    W = rnn.weight_hh_l0.detach().numpy()
    W_in = rnn.weight_ih_l0.detach().numpy().T                 # (n_in, N)
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    u = np.array([0.5, -0.25])
    fp = find_fixed_points(W, W_in, np.random.default_rng(0).normal(size=(4, 16)), u=u, b=b,
                           discrete=True)
    (p,) = fp.points
    # the map's own step leaves it in place
    h = torch.tensor(p.x, dtype=torch.float32).view(1, 1, 16)
    _, h1 = rnn(torch.tensor(u, dtype=torch.float32).view(1, 1, 2), h)
    np.testing.assert_allclose(h1.detach().numpy().ravel(), p.x, atol=1e-6)


def test_linearise_reports_slow_modes_and_their_alignment():
    rng = np.random.default_rng(4)
    N = 30
    m = rng.normal(size=N)
    W = np.outer(m, m) / (m @ m) * 0.99                # one slow mode along m, at x = 0: -0.01
    lin = linearise(np.zeros(N), W, phi="tanh", n=2, subspaces={"m": m[:, None]})
    assert lin.eigenvalues[0].real == pytest.approx(-0.01, abs=1e-10)
    assert lin.alignment["m"][0] == pytest.approx(1.0, abs=1e-10)
    assert lin.alignment["m"][1] < 1e-10


def test_low_rank_system_reproduces_the_full_network_exactly():
    rng = np.random.default_rng(5)
    N, R = 50, 2
    U = np.linalg.qr(rng.normal(size=(N, R)))[0]
    V = np.linalg.qr(rng.normal(size=(N, R)))[0]
    W = (U * [2.0, 1.5]) @ V.T
    W_in = rng.normal(size=(2, N))
    sys_ = low_rank_system(W, W_in, R)
    np.testing.assert_allclose(sys_.W, W, atol=1e-12)
    u = rng.normal(size=(3, 40, 2))
    kappa, x_red = sys_.simulate(u, dt=0.5)
    # the full network, Euler steps in N dimensions
    x = np.zeros((3, N))
    xs = [x]
    for t in range(40):
        x = x + 0.5 * (-x + np.tanh(x) @ W.T + u[:, t] @ W_in)
        xs.append(x)
    np.testing.assert_allclose(x_red, np.stack(xs, 1), atol=1e-10)
    assert kappa.shape == (3, 41, 2)
    grid, vel = sys_.flow(np.linspace(-1, 1, 5))
    assert grid.shape == vel.shape == (5, 5, 2)
    with pytest.raises(ValueError, match="rank-2"):
        low_rank_system(W, W_in, 1).flow([0.0])


def test_pca_of_a_plane():
    rng = np.random.default_rng(6)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0]
    pts = rng.normal(size=(500, 2)) * [3.0, 1.0] @ basis.T + 5.0
    p = pca(pts, n=3)
    assert p.explained[:2].sum() == pytest.approx(1.0) and p.explained[0] > p.explained[1]
    assert subspace_fraction(p.components[:2], basis).min() == pytest.approx(1.0)
    assert p.project(pts).shape == (500, 3)


def test_bad_input_names_the_parameter():
    W = np.eye(3) * 0.5
    with pytest.raises(ValueError, match="starts"):
        find_fixed_points(W, None, None)
    with pytest.raises(ValueError, match="starts must have shape"):
        find_fixed_points(W, None, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="W must be square"):
        find_fixed_points(np.zeros((3, 4)), None, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="W must be real"):
        find_fixed_points(W.astype(complex), None, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="phi"):
        find_fixed_points(W, None, np.zeros((2, 3)), phi="cos")
    with pytest.raises(ValueError, match="u must have shape"):
        find_fixed_points(W, np.ones((2, 3)), np.zeros((2, 3)), u=[1.0])
    with pytest.raises(ValueError, match="q_tol"):
        find_fixed_points(W, None, np.zeros((2, 3)), q_tol=0)
