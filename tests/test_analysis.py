"""Tests of lrbook.analysis: analytic cases, constructed matrices and one trained network."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest
import torch

from lrbook import FixedPoint, FlipFlop, init_weights
from lrbook.analysis import (
    alignment,
    analyse,
    convergence_epoch,
    dW_singular_values,
    eigenvalues,
    entropy_rank,
    eval_batch,
    evaluate_result,
    functional_rank,
    loglog_slope,
    losses,
    norm_dW,
    participation_ratio,
    rank_for_fraction,
    report_from_result,
    reports_from_result,
    shuffle_entries,
    shuffle_losses,
    shuffle_ratio,
    singular_values,
    singular_values_over_training,
    spectra,
    stable_rank,
    top_fraction,
    truncate,
    truncation_curve,
    truncation_losses,
    truncations,
)
from lrbook.models import STREAM_DATA, STREAM_SHUFFLE, rng_for
from lrbook.training import model_for, train


def _orthogonal(N, rng):
    q, r = np.linalg.qr(rng.standard_normal((N, N)))
    return q * np.sign(np.diag(r))


def _known(N=12, s=(3.0, 2.0, 1.0, 0.5, 0.1), seed=0):
    """W0 random, dW = U diag(s) V^T with the singular values s (zeros beyond)."""
    rng = np.random.default_rng(seed)
    U, Vm = _orthogonal(N, rng), _orthogonal(N, rng)
    sv = np.zeros(N)
    sv[:len(s)] = s
    W0 = 0.7 * rng.standard_normal((N, N)) / np.sqrt(N)
    return W0, (U * sv) @ Vm.T, U, sv, Vm


# --------------------------------------------------------------------------- spectra
def test_singular_values_match_numpy_for_arrays_and_tensors():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 20, 20))
    B = rng.standard_normal((3, 20, 20))
    ref = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(singular_values(A), ref, rtol=1e-12)
    np.testing.assert_allclose(singular_values(torch.tensor(A)), ref, rtol=1e-12)
    np.testing.assert_allclose(singular_values(A[0]), ref[0], rtol=1e-12)
    np.testing.assert_allclose(dW_singular_values(A, B), np.linalg.svd(B - A, compute_uv=False), rtol=1e-12)
    s = singular_values(A)
    assert np.all(np.diff(s, axis=-1) <= 0)


def test_singular_values_over_training_uses_first_snapshot_as_W0():
    rng = np.random.default_rng(2)
    snaps = rng.standard_normal((4, 2, 10, 10))
    out = singular_values_over_training(snaps)
    assert out.shape == (4, 2, 10)
    np.testing.assert_allclose(out[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[3, 1], np.linalg.svd(snaps[3, 1] - snaps[0, 1], compute_uv=False))
    with pytest.raises(ValueError, match="W0"):
        singular_values_over_training(snaps, W0=np.zeros((10, 10)))


def test_eigenvalues_of_W0_fill_disc_of_radius_g():
    g, N = 0.8, 400
    _, W0, _ = init_weights(N, 1, 1, g, seed=3)
    ev = eigenvalues(W0)
    assert ev.shape == (N,) and np.iscomplexobj(ev)
    r = np.abs(ev)
    assert np.all(np.diff(r) <= 1e-12)                       # sorted by decreasing modulus
    assert 0.85 * g < r[0] < 1.15 * g                         # spectral radius ~ g
    assert abs(np.mean(r ** 2) - g ** 2 / 2) < 0.1 * g ** 2   # uniform disc: E|l|^2 = g^2 / 2
    sp = spectra(W0, W0)
    assert 1.8 * g < sp.sv_W0[0] < 2.2 * g                    # quarter-circle edge 2g
    np.testing.assert_allclose(sp.sv_dW, 0.0, atol=1e-12)


# --------------------------------------------------------------------------- truncation
def test_truncate_known_singular_values():
    W0, dW, U, s, Vm = _known()
    N = W0.shape[0]
    np.testing.assert_allclose(truncate(W0, dW, 0), W0, atol=1e-14)
    np.testing.assert_allclose(truncate(W0, dW, N), W0 + dW, atol=1e-12)
    for R in (1, 2, 3):
        WR = truncate(W0, dW, R)
        np.testing.assert_allclose(WR, W0 + (U[:, :R] * s[:R]) @ Vm[:, :R].T, atol=1e-12)
        sv = np.linalg.svd(WR - W0, compute_uv=False)
        np.testing.assert_allclose(sv[:R], s[:R], rtol=1e-12)
        np.testing.assert_allclose(sv[R:], 0.0, atol=1e-12)
    stack = truncations(W0, dW, [0, 2, N])
    assert stack.shape == (3, N, N)
    np.testing.assert_allclose(stack[1], truncate(W0, dW, 2), atol=1e-12)
    # batched over K networks, and torch input
    W0b, dWb = np.stack([W0, 2 * W0]), np.stack([dW, -dW])
    out = truncate(torch.tensor(W0b), torch.tensor(dWb), 2)
    np.testing.assert_allclose(out[1], truncate(2 * W0, -dW, 2), atol=1e-12)


@pytest.mark.parametrize("R, err, match", [(-1, ValueError, r"R must be an integer in 0\.\.12"),
                                           (13, ValueError, r"R must be an integer in 0\.\.12; got 13"),
                                           (1.5, TypeError, "R must be an integer")])
def test_truncate_validates_rank(R, err, match):
    W0, dW, *_ = _known()
    with pytest.raises(err, match=match):
        truncate(W0, dW, R)


def test_truncate_validates_shapes():
    W0, dW, *_ = _known()
    with pytest.raises(ValueError, match="W0 and dW must have the same shape"):
        truncate(W0, dW[:5, :5], 1)
    with pytest.raises(ValueError, match="ranks"):
        truncations(W0, dW, [0, 40])
    with pytest.raises(ValueError, match="finite"):
        truncate(W0, np.full_like(dW, np.nan), 1)


def test_functional_rank_on_constructed_losses():
    ranks = [0, 1, 2, 3, 4]
    assert functional_rank([1.0, 0.5, 0.06, 0.04, 0.01], ranks) == 3
    assert functional_rank([1.0, 0.5, 0.05, 0.05, 0.01], ranks) == 4     # strict inequality
    assert functional_rank([1.0, 0.5, 0.2, 0.1, 0.06], ranks) is None    # never: undefined
    assert functional_rank([1.0, 0.5, 0.2, 0.1, 0.06], ranks, threshold=0.15) == 3
    out = functional_rank([[1.0, 0.01, 0.0, 0.0, 0.0], [2.0, 1.0, np.nan, 0.05, 0.0]], ranks)
    np.testing.assert_array_equal(out, [1, 3])
    assert isinstance(out, np.ma.MaskedArray) and np.ma.count_masked(out) == 0
    # a curve that never meets the criterion is masked, not a number a mean could include
    out = functional_rank([[1.0, 0.01, 0.0, 0.0, 0.0], [1.0, 0.5, 0.2, 0.1, 0.06]], ranks)
    assert out.mask.tolist() == [False, True] and out.mean() == 1.0
    with pytest.raises(ValueError, match="ranks must contain 0"):
        functional_rank([1.0, 0.1], [1, 2])
    with pytest.raises(ValueError, match="losses must have shape"):
        functional_rank([1.0, 0.1, 0.0], [0, 1])


def test_truncation_curve_and_functional_rank_of_a_quadratic_loss():
    """With L(W) = ||W - (W0 + dW)||_F^2 the truncation loss is the tail sum of s_r^2 (Eckart-Young)."""
    W0, dW, _, s, _ = _known(s=(3.0, 2.0, 1.0, 0.5, 0.1))
    target = W0 + dW
    loss_fn = lambda W: float(np.sum((W - target) ** 2))  # noqa: E731
    ranks = range(0, 6)
    curve = truncation_curve(loss_fn, W0, dW, ranks)
    tails = np.array([np.sum(s[R:] ** 2) for R in ranks])
    np.testing.assert_allclose(curve, tails, rtol=1e-10, atol=1e-12)
    # 0.05 * 14.26 = 0.713: tails 14.26, 5.26, 1.26, 0.26 -> R* = 3
    assert functional_rank(curve, ranks) == 3
    rep = analyse(W0, W0 + dW, loss_fn, ranks=ranks, seed=5, n_shuffles=3)
    assert rep.functional_rank == 3
    np.testing.assert_allclose(rep.truncation_losses, tails, rtol=1e-10, atol=1e-12)
    assert rep.L0 == pytest.approx(tails[0]) and rep.loss_trained == pytest.approx(0.0, abs=1e-20)
    shuffled = shuffle_entries(W0, 5, n=3)
    expect = np.mean([np.sum((sh - W0) ** 2) for sh in shuffled]) / tails[0]
    assert rep.shuffle_loss_ratio == pytest.approx(expect)
    # ranks without 0: the reference L(W0) is still measured
    assert analyse(W0, W0 + dW, loss_fn, ranks=[2, 3, 4], n_shuffles=0).functional_rank == 3


# --------------------------------------------------------------------------- shuffle
def test_shuffle_preserves_entries_and_is_seeded():
    rng = np.random.default_rng(4)
    W0 = rng.standard_normal((15, 15))
    a = shuffle_entries(W0, seed=7)
    np.testing.assert_array_equal(np.sort(a, axis=None), np.sort(W0, axis=None))
    assert not np.array_equal(a, W0)
    np.testing.assert_array_equal(a, shuffle_entries(torch.tensor(W0), seed=7))
    assert not np.array_equal(a, shuffle_entries(W0, seed=8))
    perm = rng_for(7, STREAM_SHUFFLE).permutation(W0.size)            # the documented stream
    np.testing.assert_array_equal(a, W0.ravel()[perm].reshape(W0.shape))
    # a stack with one seed per network equals shuffling each alone
    stack = np.stack([W0, 2 * W0])
    b = shuffle_entries(stack, seed=[7, 9])
    np.testing.assert_array_equal(b[0], a)
    np.testing.assert_array_equal(b[1], shuffle_entries(2 * W0, seed=9))
    many = shuffle_entries(W0, seed=7, n=3)
    assert many.shape == (3, 15, 15)
    np.testing.assert_array_equal(many[0], a)
    assert not np.array_equal(many[1], many[0])
    with pytest.raises(ValueError, match="seed must be one integer or 2 integers"):
        shuffle_entries(stack, seed=[1, 2, 3])
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        shuffle_entries(W0, seed=-1)


def test_shuffle_ratio_hand_computed():
    """The one definition: mean over shuffles of L(pi(W0) + dW), over the untrained network's L0."""
    # by hand: (1 + 2 + 3) / 3 / 4 = 0.5 and 0.5 / 0.25 = 2
    np.testing.assert_allclose(shuffle_ratio([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], [4.0, 0.25]), [0.5, 2.0])
    assert shuffle_ratio([1.0, 2.0, 3.0], 4.0) == pytest.approx(0.5)
    assert isinstance(shuffle_ratio([1.0], 2.0), float)
    assert np.isnan(shuffle_ratio([1.0], 0.0))                       # L0 = 0: undefined
    assert np.isnan(shuffle_ratio(np.zeros((2, 0)), [1.0, 1.0])).all()   # no shuffles
    with pytest.raises(ValueError, match="L0 must be >= 0"):
        shuffle_ratio([1.0], -1.0)
    with pytest.raises(ValueError, match="L0 must have shape"):
        shuffle_ratio([[1.0], [2.0]], 1.0)
    # L(W) = (sum of W's entries)^2 does not depend on the permutation: sum(W0) = 10 and
    # sum(dW) = 2, so every shuffle gives (10 + 2)^2 = 144; with L0 = 160 the ratio is 0.9
    W0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    dW = np.eye(2)
    loss_fn = lambda W: float(np.sum(W)) ** 2  # noqa: E731
    rep = analyse(W0, W0 + dW, loss_fn, n_shuffles=3, L0=160.0)
    assert rep.shuffle_loss_ratio == pytest.approx(0.9)
    assert rep.shuffle.ratio == pytest.approx(0.9)
    # without L0 the denominator is loss_fn(W0) = 100 (the untrained loss if only W is trained)
    assert analyse(W0, W0 + dW, loss_fn, n_shuffles=2).shuffle_loss_ratio == pytest.approx(1.44)


# --------------------------------------------------------------------------- measures
def test_convergence_epoch_on_a_synthetic_curve():
    e = np.arange(100)
    fast = np.exp(-e / 10)                 # < 0.05 first when e > 10 ln 20 = 29.96
    slow = np.exp(-e / 100)                # never below 0.05 within 100 epochs
    assert convergence_epoch(fast) == 30
    np.testing.assert_array_equal(convergence_epoch(np.stack([fast, slow], axis=1)), [30, -1])
    assert convergence_epoch(fast, threshold=0.5) == 7
    with_nan = fast.copy()
    with_nan[30:] = np.nan                 # diverged before converging
    assert convergence_epoch(with_nan) == -1
    with pytest.raises(ValueError, match=r"threshold must be > 0.0 and < 1.0"):
        convergence_epoch(fast, threshold=1.5)


def test_effective_ranks_and_norm():
    assert participation_ratio([1, 1, 1, 0, 0]) == pytest.approx(3.0)
    assert participation_ratio([2, 0, 0]) == pytest.approx(1.0)
    assert participation_ratio([0, 0]) == 0.0
    assert entropy_rank([1, 1, 1, 1, 0]) == pytest.approx(4.0)
    assert entropy_rank([5, 0, 0]) == pytest.approx(1.0)
    assert stable_rank([2, 1]) == pytest.approx(1.25)
    np.testing.assert_allclose(top_fraction([3, 1]), [0.9, 1.0])
    assert top_fraction([1, 3], r=1) == pytest.approx(0.9)          # sorts descending
    assert rank_for_fraction([3, 2, 1, 0.1], 0.9) == 2
    with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.2"):
        top_fraction([3, 1], r=3)
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((2, 3, 8, 8))
    np.testing.assert_allclose(norm_dW(A, B), [np.linalg.norm(B[k] - A[k]) for k in range(3)])


def test_loglog_slope_of_exact_power_laws():
    N = np.array([32, 64, 128, 256])
    assert loglog_slope(N, 3.0 * np.sqrt(N)) == pytest.approx(0.5, abs=1e-12)
    assert loglog_slope(N, np.full(4, 1.7)) == pytest.approx(0.0, abs=1e-12)
    rows = np.stack([2.0 * N ** -1.0, 0.1 * N ** 2.0, 5.0 * N ** 0.25])   # one fit per row
    np.testing.assert_allclose(loglog_slope(N, rows), [-1.0, 2.0, 0.25], atol=1e-12)
    noisy = np.sqrt(N) * np.array([1.1, 0.9, 1.1, 0.9])
    assert 0.4 < loglog_slope(N, noisy) < 0.5                          # least squares, not end points
    with pytest.raises(ValueError, match=r"y must hold finite values > 0"):
        loglog_slope(N, [1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"x must have shape \(n,\) and y shape \(\.\.\., n\)"):
        loglog_slope(N, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"at least two distinct values"):
        loglog_slope([64, 64], [1.0, 2.0])


# --------------------------------------------------------------------------- alignment
def test_alignment_of_a_known_outer_product():
    rng = np.random.default_rng(6)
    N = 80
    m = rng.standard_normal(N)
    w = rng.standard_normal(N)
    dW = 0.3 * np.outer(w, m) / N                            # writes along w, reads along m
    W0 = 0.5 * rng.standard_normal((N, N)) / np.sqrt(N)
    al = alignment(dW, W_in=m[None], W_out=w[:, None] / N, W0=W0, r=2)
    assert al.labels == ["m1", "w1", "W0 m1", "W0^T w1"]
    assert al.left[0, 1] == pytest.approx(1.0)              # u_1 = +-w/|w|
    assert al.right[0, 0] == pytest.approx(1.0)             # v_1 = +-m/|m|
    assert al.left[0, 0] < 0.5 and al.right[0, 1] < 0.5     # random m, w are far from parallel
    assert al.left_span[0] == pytest.approx(1.0) and al.right_span[0] == pytest.approx(1.0)
    assert al.chance == pytest.approx(np.sqrt(2 / (np.pi * N)))
    json.dumps(al.to_dict(), allow_nan=False)
    # W0 = 0 (g = 0): W0 m is the zero vector, its |cos| is undefined (NaN)
    al0 = alignment(dW, W_in=m[None], W_out=w[:, None], W0=np.zeros((N, N)), r=1)
    assert np.isnan(al0.left[0, 2]) and al0.left_span[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"W_in must have shape \(n_in, 80\)"):
        alignment(dW, W_in=np.ones((1, 5)))
    with pytest.raises(ValueError, match="reference vectors"):
        alignment(dW)


# --------------------------------------------------------------------------- report
def test_report_is_json_serialisable_and_plots(tmp_path):
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(7)
    N = 20
    W0 = 0.9 * rng.standard_normal((N, N)) / np.sqrt(N)
    u, v = rng.standard_normal((2, N))
    snaps = np.stack([W0 + t * np.outer(u, v) / N for t in np.linspace(0, 1, 4)])
    W = snaps[-1]
    loss_fn = lambda M: float(np.sum((M - W) ** 2)) + 1e-3  # noqa: E731
    rep = analyse(W0, W, loss_fn, snapshots=snaps, snapshot_epochs=[0, 5, 10, 15],
                  W_in=rng.standard_normal((2, N)), W_out=rng.standard_normal((N, 1)),
                  loss_curve=np.linspace(1, 0.01, 30), ranks=range(0, 6), name="toy", meta={"g": 0.9})
    d = rep.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["functional_rank"] == 1 and len(back["singular_values"]) == N
    assert len(back["eigenvalues_W"][0]) == 2                             # complex as [re, im]
    assert back["snapshot_epochs"] == [0, 5, 10, 15]
    assert back["convergence_epoch"] == convergence_epoch(np.linspace(1, 0.01, 30))
    assert rep.snapshot_singular_values.shape == (4, N)
    assert rep.participation_ratio == pytest.approx(1.0)
    summ = rep.summary()
    assert len(summ["singular_values"]) == 10 and len(summ["truncation_losses"]) == 6
    figs = rep.plot()
    assert set(figs) == {"singular_values", "eigenvalues", "training", "truncation", "alignment"}
    for name, fig in figs.items():
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.savefig(tmp_path / f"{name}.png")
        plt.close(fig)
    minimal = analyse(W0, W)                                              # no loss, no vectors
    assert set(minimal.plot()) == {"singular_values", "eigenvalues"}
    plt.close("all")
    assert minimal.functional_rank is None and minimal.shuffle_loss_ratio is None
    json.dumps(minimal.to_dict(), allow_nan=False)


def test_analyse_passes_matrices_of_the_callers_kind_and_validates():
    W0 = torch.zeros(6, 6, dtype=torch.float64)
    W = W0.clone()
    W[0, 1] = 1.0
    seen = []

    def loss_fn(M):
        seen.append(type(M))
        return float((M - W).pow(2).sum())

    rep = analyse(W0, W, loss_fn, ranks=[0, 1], n_shuffles=1)
    assert set(seen) == {torch.Tensor}
    np.testing.assert_allclose(rep.truncation_losses, [1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="W0 and W must have the same shape"):
        analyse(np.zeros((6, 6)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"ranks\[1\] must be an integer in 0\.\.6"):
        analyse(W0, W, loss_fn, ranks=[0, 7])
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        analyse(W0, W, loss_fn=3.0)
    with pytest.raises(ValueError, match="must be square"):
        analyse(np.zeros((6, 5)), np.zeros((6, 5)))
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        analyse(W0, W, seed=-2)


# --------------------------------------------------------------------------- lrbook networks
@pytest.fixture(scope="module")
def fixedpoint_g0():
    task = FixedPoint(z_hat=1.0)
    model = model_for(task, 64, 0.0, 0)
    return task, train(model, task, 30, threads=1)


def test_fixedpoint_at_g0_learns_an_exactly_rank_two_change(fixedpoint_g0):
    """Paper section 3: at g = 0 every update lies in span{w, m} x span{w, m}, so rank(dW) <= 2."""
    task, res = fixedpoint_g0
    assert res.final_loss[0] < res.L0[0]
    rep = report_from_result(res, task, 0, ranks=range(0, 5))
    s = rep.singular_values
    assert s[2] / s[0] < 1e-5
    assert s[1] / s[0] > 1e-4                       # rank 2, not 1 (s2 ~ z_hat^3 tau^3 / 12)
    # the two components live in span{m, w}
    np.testing.assert_allclose(rep.alignment.left_span[:2], 1.0, atol=1e-4)
    np.testing.assert_allclose(rep.alignment.right_span[:2], 1.0, atol=1e-4)
    # truncating to rank 2 gives back the trained loss
    assert rep.truncation_losses[2] == pytest.approx(rep.loss_trained, rel=1e-4)
    assert rep.meta["g"] == 0.0 and rep.convergence_epoch == convergence_epoch(res.loss[:, 0])
    assert rep.L0_train == res.L0[0]


@pytest.fixture(scope="module")
def flipflop_small():
    task = FlipFlop()
    model = model_for(task, 16, [0.0, 0.6], [0, 1])
    return task, train(model, task, 4, threads=1, snapshot_every=2)


def test_evaluation_is_reproducible_consistent_and_independent_of_training_data(flipflop_small):
    task, res = flipflop_small
    N = res.N
    ranks = [0, 1, 3, N]
    ev = evaluate_result(res, task, ranks=ranks, n_shuffles=2, batch_size=8)
    assert ev.truncation_losses.shape == (2, 4) and ev.shuffle_losses.shape == (2, 2)
    assert ev.batch_size == 8
    # full-rank truncation is the trained network; R = 0 keeps W0 with the trained W_in, W_out
    np.testing.assert_allclose(ev.truncation_losses[:, -1], ev.loss_trained, rtol=1e-5)
    np.testing.assert_allclose(ev.loss_trained, losses(res.model("final"), task, batch_size=8), rtol=1e-6)
    np.testing.assert_allclose(ev.L0, losses(res.model("initial"), task, batch_size=8), rtol=1e-6)
    # reproducible, independent of chunking and of which other networks are evaluated
    ev2 = evaluate_result(res, task, ranks=ranks, n_shuffles=2, batch_size=8, networks=[1], max_bytes=1)
    np.testing.assert_allclose(ev2.truncation_losses[0], ev.truncation_losses[1], rtol=1e-6)
    np.testing.assert_allclose(ev2.shuffle_losses[0], ev.shuffle_losses[1], rtol=1e-6)
    np.testing.assert_allclose(truncation_losses(res, task, ranks, batch_size=8), ev.truncation_losses,
                               rtol=1e-6)
    sl, L0 = shuffle_losses(res, task, 2, batch_size=8)
    np.testing.assert_allclose(sl, ev.shuffle_losses, rtol=1e-6)
    # several candidate W per network at once
    W = np.stack([res.W0, res.W])
    np.testing.assert_allclose(losses(res.model(), task, W, batch_size=8)[1], ev.loss_trained, rtol=1e-6)
    # test trials come from the eval stream, not the training stream
    b = eval_batch(task, [0, 1], 8)
    assert b.u.shape == (2, 8, task.n_steps, 2)
    train_b = task.batch(8, rng_for(0, STREAM_DATA))
    assert not np.array_equal(b.u[0], train_b.u)
    assert eval_batch(FixedPoint(), [0, 1]).u.shape[1] == 1          # deterministic: one trial
    with pytest.raises(ValueError, match="does not match the networks"):
        evaluate_result(res, FixedPoint())
    with pytest.raises(ValueError, match=r"networks\[0\] must be an integer in 0\.\.1"):
        evaluate_result(res, task, networks=[2])


def test_reports_from_result_match_single_reports(flipflop_small):
    task, res = flipflop_small
    reps = reports_from_result(res, task, ranks=range(0, 4), batch_size=8)
    one = report_from_result(res, task, 1, ranks=range(0, 4), batch_size=8)
    assert len(reps) == 2
    np.testing.assert_allclose(one.truncation_losses, reps[1].truncation_losses, rtol=1e-6)
    assert one.shuffle_loss_ratio == pytest.approx(reps[1].shuffle_loss_ratio, rel=1e-6)
    np.testing.assert_allclose(one.singular_values, dW_singular_values(res.W0[1], res.W[1]), rtol=1e-10)
    assert one.snapshot_singular_values.shape == (3, res.N)
    json.dumps(one.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match=r"k must be an integer in 0\.\.1"):
        report_from_result(res, task, 5)


# --------------------------------------------------------------------------- issue 20
@pytest.mark.parametrize("make", [lambda a: a.astype(complex) + 1j, lambda a: torch.as_tensor(a) * (1 + 1j),
                                  lambda a: (a + 0j).tolist()])
def test_complex_input_is_refused_not_silently_made_real(make):
    """Item 9: the imaginary part is never dropped silently."""
    W0 = np.eye(4) * 0.5
    with pytest.raises(ValueError, match="W0 must be real; got a complex array"):
        analyse(make(W0), W0)
    with pytest.raises(ValueError, match="W must be real"):
        norm_dW(W0, make(W0))
    with pytest.raises(ValueError, match="s must be real"):
        participation_ratio(make(np.ones(3)))


@pytest.mark.parametrize("N", [1, 2])
def test_analysis_of_very_small_matrices_works(N):
    """Item 2: ranks and r_align are clipped to what N allows."""
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((N, N))
    W = W0 + 0.1 * rng.standard_normal((N, N))
    W_in, W_out = rng.standard_normal((1, N)), rng.standard_normal((N, 1))
    rep = analyse(W0, W, lambda w: float(np.sum(w ** 2)), W_in=W_in, W_out=W_out)
    assert rep.ranks.tolist() == list(range(0, N + 1)) and len(rep.singular_values) == N
    # r_align clipped to N: all N singular vectors, each |cos| against an independent SVD
    al = rep.alignment
    assert al.labels == ["m1", "w1", "W0 m1", "W0^T w1"]
    U, s, Vt = np.linalg.svd(W - W0)
    refs = np.stack([W_in[0], W_out[:, 0], W0 @ W_in[0], W0.T @ W_out[:, 0]], axis=1)
    unit = refs / np.linalg.norm(refs, axis=0)
    np.testing.assert_allclose(al.singular_values, s, rtol=1e-10)
    np.testing.assert_allclose(al.left, np.abs(U.T @ unit), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(al.right, np.abs(Vt @ unit), rtol=1e-8, atol=1e-12)
    # N <= 4 generic references span R^N: every singular vector lies in their span
    np.testing.assert_allclose(al.left_span, 1.0, rtol=1e-10)
    np.testing.assert_allclose(al.right_span, 1.0, rtol=1e-10)
    with pytest.raises(ValueError, match=f"r_align must be an integer in 1..{N}; got 3"):
        analyse(W0, W, W_in=rng.standard_normal((1, N)), r_align=3)


def test_reports_of_a_two_neuron_network():
    task = FlipFlop()
    result = train(model_for(task, 2, g=[0.0, 0.5], seeds=0), task, 2)
    reps = reports_from_result(result, task)
    assert len(reps) == 2 and all(r.ranks.tolist() == [0, 1, 2] for r in reps)
