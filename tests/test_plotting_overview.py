"""The front page's figure (lrbook.plotting.overview): what it draws is the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrbook.plotting.overview import plot_weight_change  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _matrices(N=12, seed=0):
    rng = np.random.default_rng(seed)
    W0 = 0.9 * rng.standard_normal((N, N)) / np.sqrt(N)
    u, v = rng.standard_normal((2, N, 2)) / np.sqrt(N)
    return W0, W0 + 0.3 * u @ v.T          # a rank-2 change


def test_images_show_W0_dW_W_and_the_magnified_change_on_one_scale():
    W0, W = _matrices()
    out = plot_weight_change(W0, W)
    axes = out["axes"]
    assert len(axes) == 5
    images = [ax.get_images()[0] for ax in axes[:4]]
    dW = W - W0
    np.testing.assert_allclose(images[0].get_array(), W0)
    np.testing.assert_allclose(images[1].get_array(), dW)
    np.testing.assert_allclose(images[2].get_array(), W)
    # the shared colour scale is set by the larger of W0 and W, centred on 0
    scale = max(np.abs(W0).max(), np.abs(W).max())
    assert out["scale"] == pytest.approx(scale)
    for im in images:
        assert im.get_clim() == pytest.approx((-scale, scale))
    # the fourth image is dW magnified to fill the scale
    assert out["magnification"] == pytest.approx(scale / np.abs(dW).max())
    np.testing.assert_allclose(images[3].get_array(), dW * out["magnification"])
    assert np.abs(images[3].get_array()).max() == pytest.approx(scale)
    titles = [ax.get_title() for ax in axes[:4]]
    assert "W_0" in titles[0] and "Delta W" in titles[1] and "W = W_0 + \\Delta W" in titles[2]
    assert f"{out['magnification']:.0f}" in titles[3]


def test_singular_values_panel_plots_the_three_spectra():
    W0, W = _matrices()
    out = plot_weight_change(W0, W, n_sv=5)
    ax = out["axes"][4]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"$W_0$", "$W$", r"$\Delta W$"}
    for label, M in (("$W_0$", W0), ("$W$", W), (r"$\Delta W$", W - W0)):
        s = np.linalg.svd(M, compute_uv=False)
        np.testing.assert_allclose(lines[label].get_ydata(), s[:5])
        np.testing.assert_allclose(lines[label].get_xdata(), np.arange(1, 6))
    np.testing.assert_allclose(out["singular_values"]["dW"], np.linalg.svd(W - W0, compute_uv=False))
    # a rank-2 change: two singular values, then (numerically) nothing
    s_dW = out["singular_values"]["dW"]
    assert s_dW[2] < 1e-10 * s_dW[0]
    assert ax.get_yscale() == "log"


def test_given_axes_and_bad_input():
    W0, W = _matrices(N=6)
    fig, axes = plt.subplots(1, 5)
    out = plot_weight_change(W0, W, list(axes))
    assert out["axes"] == list(axes)
    with pytest.raises(ValueError, match="square"):
        plot_weight_change(W0[:, :5], W[:, :5])
    with pytest.raises(ValueError, match="one shape"):
        plot_weight_change(W0, W[:5, :5])
    with pytest.raises(ValueError, match="n_sv"):
        plot_weight_change(W0, W, n_sv=0)
    with pytest.raises(ValueError, match="5 Axes"):
        plot_weight_change(W0, W, list(axes[:3]))
    # no change at all: nothing to magnify
    assert plot_weight_change(W0, W0)["magnification"] == 1.0
