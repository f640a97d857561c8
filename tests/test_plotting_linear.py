"""Figures of the linear-theory chapters (lrbook.plotting.linear): what they draw is the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from lrbook.plotting import linear as P  # noqa: E402
from lrbook.plotting.style import g_colors  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _labelled(ax, label):
    return [ln for ln in ax.get_lines() if ln.get_label() == label]


def _dashed(ax):
    return [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]


def _legend_texts(ax):
    leg = ax.get_legend()
    return [] if leg is None else [t.get_text() for t in leg.get_texts()]


def _xy(x, y):
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


def _same_color(a, b):
    return np.allclose(to_rgba(a), to_rgba(b))


# --------------------------------------------------------------------------- chapter 8
def test_fixed_point_approach_draws_each_output_and_its_fixed_point_in_one_colour():
    time = 0.5 * np.arange(1, 11)
    z = np.stack([1 - np.exp(-time), -0.5 * (1 - np.exp(-2 * time))])
    z_star, g = [0.9, -0.45], [0.0, 0.9]
    ax = P.plot_fixed_point_approach(time, z, z_star, g)
    colors = g_colors(g)
    for k, lab in enumerate(["$g = 0$", "$g = 0.9$"]):
        (ln,) = _labelled(ax, lab)
        np.testing.assert_allclose(ln.get_xydata(), _xy(time, z[k]))
        assert _same_color(ln.get_color(), colors[k])
    fixed = _dashed(ax)
    assert len(fixed) == 2
    for k, ln in enumerate(fixed):
        np.testing.assert_allclose(ln.get_ydata(), z_star[k])          # a horizontal line at z*_k
        assert _same_color(ln.get_color(), colors[k])
    assert "time" in ax.get_xlabel() and "output" in ax.get_ylabel()
    assert _legend_texts(ax) == ["$g = 0$", "$g = 0.9$"]
    assert "z^*" in ax.get_legend().get_title().get_text()
    # on the caller's Axes
    _, mine = plt.subplots()
    assert P.plot_fixed_point_approach(time, z, z_star, g, ax=mine) is mine and len(mine.get_lines()) == 4


@pytest.mark.parametrize("args, match", [
    (dict(z=np.zeros((3, 10))), r"z must have shape \(K, T\) = \(2, 10\)"),
    (dict(z_star=[0.1]), "z_star K entries"),
    (dict(time=np.zeros((10, 1))), r"time must have 1 dimension\(s\)"),
    (dict(z=np.zeros(10)), r"z must have 2 dimension\(s\)"),
])
def test_fixed_point_approach_refuses_shapes_that_do_not_match(args, match):
    kw = dict(time=np.arange(10.0), z=np.zeros((2, 10)), z_star=[0.0, 0.0], g=[0.0, 0.5]) | args
    with pytest.raises(ValueError, match=match):
        P.plot_fixed_point_approach(**kw)


def test_dW_spectrum_log_scale_and_first_n_values():
    s = np.array([[3.0, 1.0, 1e-3, 0.0, 0.0], [2.0, 0.5, 0.1, 0.01, 1e-4]])
    ax = P.plot_dW_spectrum(s, ["g = 0", "g = 0.9"], n_show=4)
    assert ax.get_yscale() == "log"
    (a,) = _labelled(ax, "g = 0")
    (b,) = _labelled(ax, "g = 0.9")
    np.testing.assert_allclose(b.get_xydata(), _xy([1, 2, 3, 4], s[1, :4]))
    # an exact zero is still drawn (clipped to a tiny positive value), not dropped by the log axis
    assert a.get_xdata().tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(a.get_ydata()[:3], s[0, :3])
    assert 0 < a.get_ydata()[3] < 1e-200
    assert "singular value" in ax.get_ylabel() and r"\Delta W" in ax.get_ylabel()
    assert _legend_texts(ax) == ["g = 0", "g = 0.9"]
    # n_show beyond the number of values: all of them
    ax2 = P.plot_dW_spectrum(s[:, :2], ["a", "b"], n_show=12)
    assert _labelled(ax2, "a")[0].get_xdata().tolist() == [1, 2]
    with pytest.raises(ValueError, match="labels must have 2 entries; got 1"):
        P.plot_dW_spectrum(s, ["only one"])
    with pytest.raises(ValueError, match=r"s must have 2 dimension\(s\)"):
        P.plot_dW_spectrum(s[0], ["a"])


def _flow_data(E=6, S=4, J=2):
    rng = np.random.default_rng(0)
    epochs = np.arange(E)
    loss = np.exp(-rng.uniform(0.1, 1, size=J) * epochs[:, None])
    loss_th = 1.1 * loss
    se = np.linspace(0, E - 1, S)
    sv = np.abs(rng.normal(size=(S, J, 2))) + 0.1
    return epochs, loss, loss_th, se, sv, 0.9 * sv


def test_reduced_flow_check_draws_simulation_and_theory_per_z_hat():
    epochs, loss, loss_th, se, sv, sv_th = _flow_data()
    z_hat = [0.5, 2.0]
    axes = P.plot_reduced_flow_check(epochs, loss, loss_th, se, sv, sv_th, z_hat, theory_label="flow")
    assert len(axes) == 2 and all(ax.get_yscale() == "log" for ax in axes)
    for j, lab in enumerate([r"$\hat z = 0.5$", r"$\hat z = 2$"]):
        (sim,) = _labelled(axes[0], lab)
        np.testing.assert_allclose(sim.get_xydata(), _xy(epochs, loss[:, j]))
        # s1 (circles) and s2 (squares), the first snapshot (dW = 0) left out of the log axis
        s1 = [ln for ln in axes[1].get_lines() if ln.get_marker() == "o" and _same_color(ln.get_color(), f"C{j}")]
        s2 = [ln for ln in axes[1].get_lines() if ln.get_marker() == "s" and _same_color(ln.get_color(), f"C{j}")]
        np.testing.assert_allclose(s1[0].get_xydata(), _xy(se[1:], sv[1:, j, 0]))
        np.testing.assert_allclose(s2[0].get_xydata(), _xy(se[1:], sv[1:, j, 1]))
    theory0 = [ln.get_ydata() for ln in _dashed(axes[0]) if len(ln.get_ydata())]
    np.testing.assert_allclose(np.stack(theory0, axis=1), loss_th)
    theory1 = [ln.get_ydata() for ln in _dashed(axes[1])]
    np.testing.assert_allclose(np.stack(theory1), [sv_th[1:, 0, 0], sv_th[1:, 0, 1], sv_th[1:, 1, 0], sv_th[1:, 1, 1]])
    assert _legend_texts(axes[0]) == [r"$\hat z = 0.5$", r"$\hat z = 2$", "flow"]
    assert axes[0].get_ylabel() == "loss" and axes[1].get_xlabel() == "epoch"
    assert "s_1" in axes[1].get_ylabel() and "s_2" in axes[1].get_ylabel()


def test_reduced_flow_check_refuses_mismatched_input_and_axes():
    epochs, loss, loss_th, se, sv, sv_th = _flow_data()
    with pytest.raises(ValueError, match=r"\(E, J\).*\(S, J, 2\)"):
        P.plot_reduced_flow_check(epochs, loss, loss_th, se, sv, sv_th, [0.5])            # J = 2 columns
    with pytest.raises(ValueError, match=r"\(E, J\)"):
        P.plot_reduced_flow_check(epochs[:-1], loss, loss_th, se, sv, sv_th, [0.5, 2.0])
    with pytest.raises(ValueError, match=r"\(S, J, 2\)"):
        P.plot_reduced_flow_check(epochs, loss, loss_th, se, sv[..., :1], sv_th[..., :1], [0.5, 2.0])
    _, one = plt.subplots()
    with pytest.raises(ValueError, match="axes must hold 2 Axes; got 1"):
        P.plot_reduced_flow_check(epochs, loss, loss_th, se, sv, sv_th, [0.5, 2.0], axes=one)


# --------------------------------------------------------------------------- chapter 9
def test_learning_collapse_relative_loss_against_both_times():
    tau = np.outer(np.arange(5.0), [1.0, 1.0])
    g = np.array([0.0, 0.5])
    tau_eff = tau / (1 - g ** 2) ** 2
    loss = np.array([[2.0, 4.0], [1.0, 1.0], [0.5, 0.25], [0.25, 0.1], [0.1, 0.05]])
    axes = P.plot_learning_collapse(tau, tau_eff, loss, g, theory_tau_eff=[0.0, 1.0, 2.0],
                                    theory_loss=[3.0, 1.5, 0.3], title="flip-flop")
    assert len(axes) == 2 and axes[0].get_yscale() == axes[1].get_yscale() == "log"
    for k, lab in enumerate(["$g = 0$", "$g = 0.5$"]):
        (left,) = _labelled(axes[0], lab)
        np.testing.assert_allclose(left.get_xydata(), _xy(tau[:, k], loss[:, k] / loss[0, k]))
        right = [ln for ln in axes[1].get_lines() if _same_color(ln.get_color(), g_colors(g)[k])]
        np.testing.assert_allclose(right[0].get_xydata(), _xy(tau_eff[:, k], loss[:, k] / loss[0, k]))
    (th,) = _labelled(axes[1], "theory")
    np.testing.assert_allclose(th.get_xydata(), _xy([0.0, 1.0, 2.0], [1.0, 0.5, 0.1]))   # relative too
    assert th.get_linestyle() == "--"
    assert "tau" in axes[0].get_xlabel() and r"\tilde\tau" in axes[1].get_xlabel()
    assert axes[0].get_ylabel() == r"loss / $L_0$" and axes[0].get_title(loc="left") == "flip-flop"
    # absolute losses
    axes = P.plot_learning_collapse(tau, tau_eff, loss, g, relative=False)
    np.testing.assert_allclose(_labelled(axes[0], "$g = 0.5$")[0].get_ydata(), loss[:, 1])
    assert axes[0].get_ylabel() == "loss" and not _labelled(axes[1], "theory")
    with pytest.raises(ValueError, match=r"shape \(E, K\) with K = len\(g\)"):
        P.plot_learning_collapse(tau, tau_eff, loss, [0.0])


def _growth_data(S=5, K=2, M=7):
    te = np.outer(np.linspace(0.0, 1.0, S), [1.0, 2.0][:K])
    sv = np.stack([te * 2 + 0.01, te ** 2 + 0.01], axis=-1)
    ts = np.outer(np.linspace(0.0, 1.0, M), np.ones(K))
    return te, sv, ts, 2 * ts, ts ** 2


def test_singular_value_growth_is_log_log_simulation_and_series():
    te, sv, ts, a1, a2 = _growth_data()
    g = [0.0, 0.6]
    axes = P.plot_singular_value_growth(te, sv, g, ts, a1, a2, title="t")
    assert all(ax.get_xscale() == ax.get_yscale() == "log" for ax in axes)
    colors = g_colors(g)
    for i, (ax, series) in enumerate(zip(axes, (a1, a2))):
        for k in range(2):
            mine = [ln for ln in ax.get_lines() if _same_color(ln.get_color(), colors[k])]
            sim = [ln for ln in mine if ln.get_marker() == "o"]
            ser = [ln for ln in mine if ln.get_linestyle() == "--"]
            np.testing.assert_allclose(sim[0].get_xydata(), _xy(te[1:, k], sv[1:, k, i]))   # tau = 0 left out
            np.testing.assert_allclose(ser[0].get_xydata(), _xy(ts[1:, k], series[1:, k]))
    assert axes[0].get_ylabel() == "$s_1$" and axes[1].get_ylabel() == "$s_2$"
    assert _legend_texts(axes[0]) == ["$g = 0$", "$g = 0.6$", "series"]


@pytest.mark.parametrize("bad", ["g", "sv", "series"])
def test_singular_value_growth_refuses_shapes_that_do_not_match(bad):
    te, sv, ts, a1, a2 = _growth_data()
    g = [0.0, 0.6]
    if bad == "g":
        g = [0.0]                       # one g for two networks: a network would silently vanish
    elif bad == "sv":
        sv = sv[:, :, :1]               # no s2
    else:
        a2 = a2[:, :1]
    with pytest.raises(ValueError, match="must have shape"):
        P.plot_singular_value_growth(te, sv, g, ts, a1, a2)


def test_measures_vs_g_one_panel_per_measure_with_theory_and_log_axes():
    g = np.array([0.0, 0.5, 0.9])
    conv = np.array([[2.0, 1.0], [1.2, 0.6], [0.1, 0.05]])
    norm = np.array([1.0, 0.8, 0.2])                     # one z_hat: a plain vector
    tg = np.linspace(0, 0.9, 10)
    axes = P.plot_measures_vs_g(g, {"conv": conv, "norm": norm}, tg, {"conv": np.stack([2 - tg, 1 - tg], 1)},
                                z_hat=[0.5, 1.0], ylabels={"conv": "convergence time"}, log=("conv",))
    assert len(axes) == 2
    assert axes[0].get_ylabel() == "convergence time" and axes[1].get_ylabel() == "norm"   # default: the name
    assert axes[0].get_yscale() == "log" and axes[1].get_yscale() == "linear"
    assert all(ax.get_xlabel() == "$g$" for ax in axes)
    marks = [ln for ln in axes[0].get_lines() if ln.get_linestyle() == "None"]
    assert [ln.get_marker() for ln in marks] == ["o", "s"]
    for j in range(2):
        np.testing.assert_allclose(marks[j].get_xydata(), _xy(g, conv[:, j]))
    theory = _dashed(axes[0])
    np.testing.assert_allclose(theory[1].get_xydata(), _xy(tg, 1 - tg))
    assert not _dashed(axes[1])                          # no theory given for "norm"
    np.testing.assert_allclose(axes[1].get_lines()[0].get_xydata(), _xy(g, norm))
    assert _legend_texts(axes[0]) == [r"$\hat z = 0.5$", r"$\hat z = 1$"]
    with pytest.raises(ValueError, match=r"one row per g: shape \(3,\) or \(3, J\)"):
        P.plot_measures_vs_g(g, {"conv": conv[:2]})
    with pytest.raises(ValueError, match="one row per g"):
        P.plot_measures_vs_g(g, {"conv": conv.T})          # (J, G) would be silently scrambled by a reshape
    with pytest.raises(ValueError, match="z_hat"):
        P.plot_measures_vs_g(g, {"conv": conv}, z_hat=[0.5])


def test_shuffle_vs_g_ratio_lines_and_the_level_one():
    g = [0.0, 0.5, 0.9]
    ratio = np.array([[1.0, 1.0], [2.0, 3.0], [10.0, 30.0]])
    ax = P.plot_shuffle_vs_g(g, ratio, z_hat=[0.5, 2.0])
    curves = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(curves) == 2
    for j in range(2):
        np.testing.assert_allclose(curves[j].get_xydata(), _xy(g, ratio[:, j]))
    assert [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), 1.0) and ln.get_linestyle() == ":"]
    assert "shuffle" in ax.get_ylabel() and "L_0" in ax.get_ylabel()
    assert _legend_texts(ax) == [r"$\hat z = 0.5$", r"$\hat z = 2$"]
    assert P.plot_shuffle_vs_g(g, ratio[:, 0]).get_legend() is None           # no z_hat: no legend
    with pytest.raises(ValueError, match=r"one row per g: shape \(3,\) or \(3, J\)"):
        P.plot_shuffle_vs_g(g, [1.0, 2.0])


# --------------------------------------------------------------------------- chapter 10
def test_eigenvalue_snapshots_one_panel_per_epoch():
    rng = np.random.default_rng(3)
    eigs = [0.5 * (rng.normal(size=20) + 1j * rng.normal(size=20)) for _ in range(3)]
    eigs[2][0] = 1.4 + 0.0j                               # an outlier across Re = 1
    theory = [None, np.array([0.8]), np.array([1.4 + 0j])]
    axes = P.plot_eigenvalue_snapshots(eigs, [0, 50, 100], g=0.8, theory=theory)
    assert len(axes) == 3
    assert [ax.get_title() for ax in axes] == ["epoch 0", "epoch 50", "epoch 100"]
    lim = 1.1 * max(np.abs(e).max() for e in eigs)
    for ax, ev, th in zip(axes, eigs, theory):
        lines = ax.get_lines()
        circle = [ln for ln in lines if len(ln.get_xdata()) == 200]
        assert len(circle) == 1 and np.allclose(np.hypot(*circle[0].get_data()), 0.8)
        assert [ln for ln in lines if np.allclose(ln.get_xdata(), 1.0) and len(ln.get_xdata()) == 2]  # Re = 1
        dots = [ln for ln in lines if ln.get_marker() == "."]
        np.testing.assert_allclose(dots[0].get_xydata(), _xy(ev.real, ev.imag))
        top = [ln for ln in lines if ln.get_marker() == "o"]
        i = np.argmax(ev.real)
        np.testing.assert_allclose(top[0].get_xydata(), [[ev[i].real, ev[i].imag]])
        crosses = [ln for ln in lines if ln.get_marker() == "x"]
        if th is None:
            assert not crosses
        else:
            np.testing.assert_allclose(crosses[0].get_xydata(), _xy(th.real, th.imag))
        assert ax.get_xlim() == pytest.approx((-lim, lim)) and ax.get_ylim() == pytest.approx((-lim, lim))
    assert "Re" in axes[0].get_xlabel() and "Im" in axes[0].get_ylabel()
    assert P.plot_eigenvalue_snapshots(eigs[:1], [0], g=0.5, lim=3.0)[0].get_xlim() == (-3.0, 3.0)
    with pytest.raises(ValueError, match="epochs must have 3 entries; got 2"):
        P.plot_eigenvalue_snapshots(eigs, [0, 50], g=0.8)


def test_outlier_over_training_marks_where_a_run_diverged():
    E = 20
    loss = np.stack([np.exp(-np.arange(E) / 5), np.exp(np.arange(E) / 5)], axis=1)
    loss[13:, 1] = np.nan                                  # run 1 diverged at epoch 12
    se = np.array([0, 5, 10, 15])
    out = np.array([[0.5, 0.5], [0.6, 0.9], [0.7, 1.3], [0.75, np.nan]])
    axes = P.plot_outlier_over_training(se, out, loss, ["stable", "diverging"], diverged_epoch=[-1, 12])
    (l0,) = _labelled(axes[0], "stable")
    (l1,) = _labelled(axes[0], "diverging")
    np.testing.assert_allclose(l0.get_xydata(), _xy(np.arange(E), loss[:, 0]))
    np.testing.assert_allclose(l1.get_ydata(), loss[:, 1])                      # NaN where it diverged
    assert axes[0].get_yscale() == "log"
    cross0 = [ln for ln in axes[0].get_lines() if ln.get_marker() == "x"]
    assert len(cross0) == 1                                                      # only the diverged run
    np.testing.assert_allclose(cross0[0].get_xydata(), [[12, loss[12, 1]]])
    assert _same_color(cross0[0].get_color(), "C1")
    traces = [ln for ln in axes[1].get_lines() if ln.get_marker() == "."]
    np.testing.assert_allclose(traces[0].get_xydata(), _xy(se, out[:, 0]))
    cross1 = [ln for ln in axes[1].get_lines() if ln.get_marker() == "x"]
    np.testing.assert_allclose(cross1[0].get_xydata(), [[10, 1.3]])             # last finite outlier
    assert [ln for ln in axes[1].get_lines() if np.allclose(ln.get_ydata(), 1.0)]  # Re = 1
    assert "Re" in axes[1].get_ylabel() and _legend_texts(axes[0]) == ["stable", "diverging"]
    no_div = P.plot_outlier_over_training(se, out, loss, ["a", "b"])
    assert not [ln for ax in no_div for ln in ax.get_lines() if ln.get_marker() == "x"]
    with pytest.raises(ValueError, match="labels K entries"):
        P.plot_outlier_over_training(se, out, loss, ["a"])
    with pytest.raises(ValueError, match=r"outlier must be \(S, K\)"):
        P.plot_outlier_over_training(se[:3], out, loss, ["a", "b"])


# --------------------------------------------------------------------------- chapter 11
def test_cosine_learning_three_panels_and_targets():
    E, se = 30, np.array([0, 10, 20, 30])
    loss = np.stack([np.full(E, 0.5), np.exp(-np.arange(E) / 10)], axis=1)
    re = np.array([[0.1, 0.2], [0.1, 0.6], [0.1, 0.9], [0.1, 1.0]])
    im = np.array([[0.0, 0.1], [0.0, 0.05], [0.0, 0.06], [0.0, 0.063]])
    g = [0.0, 0.8]
    axes = P.plot_cosine_learning(loss, se, re, im, g, target_re=1.0, target_im=0.0628)
    assert len(axes) == 3 and axes[0].get_yscale() == "log"
    assert [ax.get_ylabel() for ax in axes] == ["loss", r"Re $\lambda$", r"Im $\lambda$"]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)
    colors = g_colors(g)
    for k in range(2):
        (lk,) = _labelled(axes[0], f"$g = {g[k]:g}$")
        np.testing.assert_allclose(lk.get_xydata(), _xy(np.arange(E), loss[:, k]))
        for ax, v in ((axes[1], re), (axes[2], im)):
            mine = [ln for ln in ax.get_lines() if _same_color(ln.get_color(), colors[k])]
            np.testing.assert_allclose(mine[0].get_xydata(), _xy(se, v[:, k]))
    np.testing.assert_allclose(_dashed(axes[1])[0].get_ydata(), 1.0)
    np.testing.assert_allclose(_dashed(axes[2])[0].get_ydata(), 0.0628)
    assert not _dashed(axes[0])
    bare = P.plot_cosine_learning(loss, se, re, im, g)
    assert not _dashed(bare[1]) and not _dashed(bare[2])
    with pytest.raises(ValueError, match="must have shape"):
        P.plot_cosine_learning(loss, se, re, im, [0.0])                # 2 networks, 1 g
    with pytest.raises(ValueError, match="must have shape"):
        P.plot_cosine_learning(loss, se[:3], re, im, g)                 # 4 snapshots, 3 epochs
