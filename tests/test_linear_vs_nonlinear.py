"""lrbook.analysis.linear_vs_nonlinear and lrbook.plotting.comparison: constructed cases."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrbook.analysis.linear_vs_nonlinear import (  # noqa: E402
    converged,
    effective_exponent,
    group_mean,
    io_span_fractions,
    largest_below,
    span_chance,
)
from lrbook.plotting.comparison import plot_against_linear  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_converged_uses_the_paper_criterion():
    e = np.arange(10.0)
    loss = np.stack([np.exp(-e), 1.0 + 0 * e, 1.0 - 0.1 * e, np.r_[1.0, np.nan, 0.01 * e[2:]]], axis=1)
    # exp(-e) < 0.05 from e = 3; constant never; 1 - 0.1 e reaches 0.1 only; NaN skipped, then 0.02 < 0.05
    assert converged(loss).tolist() == [True, False, False, True]
    assert converged(loss, threshold=0.2).tolist() == [True, False, True, True]
    with pytest.raises(ValueError, match="epochs, K"):
        converged(loss[:, 0])


def test_io_span_fractions_inside_outside_and_mixed():
    rng = np.random.default_rng(0)
    N = 40
    W_in = rng.normal(size=(3, 1, N))
    W_out = rng.normal(size=(3, N, 2))
    w, m = W_out[0][:, 0], W_in[0][0]
    inside = np.outer(w, m) + 2 * np.outer(m, W_out[0][:, 1])
    # a matrix orthogonal (on the left) to every task vector
    V = np.concatenate([W_out[1], W_in[1].T], axis=1)
    Q, _ = np.linalg.qr(np.concatenate([V, rng.normal(size=(N, 1))], axis=1))
    outside = np.outer(Q[:, -1], rng.normal(size=N))
    # half of the squared norm in, half out (orthogonal pieces of equal norm)
    q2, _ = np.linalg.qr(np.concatenate([W_out[2], W_in[2].T, rng.normal(size=(N, 1))], axis=1))
    a = q2[:, 0]
    mixed = np.outer(a, a) + np.outer(q2[:, -1], q2[:, -1])
    f = io_span_fractions(np.stack([inside, outside, mixed]), W_in, W_out)
    np.testing.assert_allclose(f, [1.0, 0.0, 0.5], atol=1e-12)
    with pytest.raises(ValueError, match="must agree"):
        io_span_fractions(np.stack([inside]), W_in, W_out)


def test_span_chance_matches_random_matrices():
    rng = np.random.default_rng(1)
    N, d = 50, 5
    W_in = rng.normal(size=(200, 2, N))
    W_out = rng.normal(size=(200, N, 3))
    f = io_span_fractions(rng.normal(size=(200, N, N)), W_in, W_out)
    assert span_chance(N, d) == pytest.approx(0.01)
    assert f.mean() == pytest.approx(span_chance(N, d), rel=0.1)
    with pytest.raises(ValueError):
        span_chance(4, 5)


def test_group_mean_counts_and_geometric():
    g = [0.0, 0.0, 0.9, 0.9, 1.8]
    v = [1.0, 4.0, 2.0, 8.0, 3.0]
    gs, mean, count = group_mean(v, g)
    assert gs.tolist() == [0.0, 0.9, 1.8]
    assert mean.tolist() == [2.5, 5.0, 3.0]
    assert count.tolist() == [2, 2, 1]
    _, gmean, _ = group_mean(v, g, geometric=True)
    np.testing.assert_allclose(gmean, [2.0, 4.0, 3.0])
    _, mmean, mcount = group_mean(v, g, [True, False, False, False, True])
    assert mcount.tolist() == [1, 0, 1]
    assert mmean[0] == 1.0 and np.isnan(mmean[1])
    with pytest.raises(ValueError, match="mask"):
        group_mean(v, g, [True])


def test_largest_below_and_effective_exponent():
    assert largest_below([0.0, 0.9, 1.8]) == 0.9
    assert largest_below([0.0, 0.6, 1.2, 1.8, 2.1]) == 0.6
    with pytest.raises(ValueError, match="no g"):
        largest_below([0.0, 1.2])
    assert effective_exponent(0.19, 0.19) == pytest.approx(1.0)
    assert effective_exponent(1.0, 0.19) == 0.0
    np.testing.assert_allclose(effective_exponent([4.0, 2.0], 2.0), [2.0, 1.0])
    with pytest.raises(ValueError):
        effective_exponent(-1.0, 0.5)
    with pytest.raises(ValueError):
        effective_exponent(0.5, 1.0)


def test_plot_against_linear_draws_data_prediction_and_chance():
    g = np.array([0.0, 0.0, 0.9, 1.8])
    ax = plot_against_linear({"a": (g, [1.0, 1.2, 0.8, np.nan]), "b": (g, [1.0, 1.0, 0.5, 0.4])},
                             prediction=lambda x: 1 - x ** 2, chance={"b": 0.1}, ylabel="ratio")
    pred = [ln for ln in ax.get_lines() if ln.get_label() == "linear theory"]
    assert len(pred) == 1
    x, y = pred[0].get_data()
    assert x.max() < 1
    np.testing.assert_allclose(y, 1 - x ** 2)
    assert any(np.allclose(ln.get_ydata(), 0.1) for ln in ax.get_lines())
    means = {c.get_label(): c.lines[0].get_ydata() for c in ax.containers}
    np.testing.assert_allclose(means["a"][:2], [1.1, 0.8])
    np.testing.assert_allclose(means["b"], [1.0, 0.5, 0.4])
    assert ax.get_ylabel() == "ratio"
    with pytest.raises(ValueError):
        plot_against_linear({})
