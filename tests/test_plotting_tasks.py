"""Figures of the tasks chapter (lrbook.plotting.tasks): what they draw is the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from lrbook.plotting import tasks as P  # noqa: E402
from lrbook.tasks import Batch, FlipFlop, WorkingMemory, make_task  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _spans(ax):
    """(start, end) in data x of the grey mask-off bands of an Axes."""
    out = []
    for p in ax.patches:
        if not np.allclose(to_rgba(p.get_facecolor()), to_rgba(P.MASK_OFF_COLOR)):
            continue
        if isinstance(p, Rectangle):
            out.append((p.get_x(), p.get_x() + p.get_width()))
        else:                                   # a Polygon (older matplotlib)
            xs = np.asarray(p.get_xy())[:, 0]
            out.append((xs.min(), xs.max()))
    return sorted(out)


def _shaded(spans, x):
    return np.array([any(s < xi < e for s, e in spans) for xi in x])


def _xy(x, y):
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


# --------------------------------------------------------------------------- mask_off_spans
def test_mask_off_spans_of_a_hand_built_mask():
    dt = 0.5
    time = (np.arange(10) + 1) * dt                       # step t covers (t dt, (t + 1) dt]
    mask = np.ones((10, 2))
    mask[0:3] = 0                                         # off for both outputs: steps 0-2
    mask[3, 0] = 0                                        # one output still on: not off
    mask[4:6] = 0
    mask[9] = 0
    assert P.mask_off_spans(mask, time, dt) == [(0.0, 1.5), (2.0, 3.0), (4.5, 5.0)]
    assert P.mask_off_spans(np.ones((10, 1)), time, dt) == []
    assert P.mask_off_spans(np.zeros((10, 1)), time, dt) == [(0.0, 5.0)]


# --------------------------------------------------------------------------- plot_trial
def test_trial_draws_inputs_targets_and_grey_where_the_loss_is_off():
    task = FlipFlop()
    batch = task.batch(4, rng=0)
    fig = P.plot_trial(task, batch, index=2, title="flip-flop")
    assert len(fig.axes) == 2
    ax_u, ax_z = fig.axes
    t = task.time
    assert [ln.get_label() for ln in ax_u.get_lines()] == ["bit 1", "bit 2"]
    for k, ln in enumerate(ax_u.get_lines()):
        np.testing.assert_array_equal(ln.get_xydata(), _xy(t, batch.u[2, :, k]))
    assert [ln.get_label() for ln in ax_z.get_lines()] == ["target bit 1", "target bit 2"]
    for k, ln in enumerate(ax_z.get_lines()):
        np.testing.assert_array_equal(ln.get_xydata(), _xy(t, batch.target[2, :, k]))
    # the grey bands cover exactly the steps where the mask is 0 for every output, in both panels
    off = batch.mask[2].max(axis=1) == 0
    assert off.any() and not off.all()
    middle = t - task.dt / 2
    for ax in (ax_u, ax_z):
        np.testing.assert_array_equal(_shaded(_spans(ax), middle), off)
    assert _spans(ax_z) == P.mask_off_spans(batch.mask[2], t, task.dt)
    assert "time" in ax_z.get_xlabel() and "input" in ax_u.get_ylabel() and "target" in ax_z.get_ylabel()
    assert ax_z.get_xlim() == (0.0, t[-1]) and ax_u.get_title() == "flip-flop"
    assert [x.get_text() for x in ax_u.get_legend().get_texts()] == ["bit 1", "bit 2"]
    # a negative index counts from the end
    last = P.plot_trial(task, batch, index=-1)
    np.testing.assert_array_equal(last.axes[0].get_lines()[1].get_ydata(), batch.u[3, :, 1])


@pytest.mark.parametrize("name, inputs, outputs", [
    ("flipflop", ["bit 1", "bit 2"], ["bit 1", "bit 2"]),
    ("mante", ["sensory 1", "sensory 2", "context 1", "context 2"], ["choice"]),
    ("romo", ["stimulus"], ["f1 > f2", "f1 < f2"]),
    ("fixedpoint", ["u"], ["z"]),
    ("cosine", ["(none)"], ["z"]),
])
def test_trial_has_one_line_per_channel_of_the_task(name, inputs, outputs):
    task = make_task(name)
    batch = task.batch(2, rng=0)
    ax_u, ax_z = P.plot_trial(task, batch, 1).axes
    assert len(ax_u.get_lines()) == task.n_in == len(inputs)
    assert len(ax_z.get_lines()) == task.n_out == len(outputs)
    assert [ln.get_label() for ln in ax_u.get_lines()] == inputs
    assert [ln.get_label() for ln in ax_z.get_lines()] == [f"target {o}" for o in outputs]
    for k in range(task.n_out):
        np.testing.assert_array_equal(ax_z.get_lines()[k].get_ydata(), batch.target[1, :, k])
    assert (ax_u.get_legend() is not None) == (task.n_in > 1)          # one input needs no legend
    off = batch.mask[1].max(axis=1) == 0
    np.testing.assert_array_equal(_shaded(_spans(ax_z), task.time - task.dt / 2), off)


def test_trial_overlays_network_outputs_dashed_in_the_target_colours():
    task = make_task("romo")
    batch = task.batch(3, rng=1)
    z = 0.5 * batch.target + 0.1
    fig = P.plot_trial(task, batch, 0, z=z)
    ax_z = fig.axes[1]
    targets = [ln for ln in ax_z.get_lines() if ln.get_linestyle() == "-"]
    outs = [ln for ln in ax_z.get_lines() if ln.get_linestyle() == "--"]
    assert len(targets) == len(outs) == task.n_out
    for k in range(task.n_out):
        np.testing.assert_allclose(outs[k].get_xydata(), _xy(task.time, z[0, :, k]))
        assert to_rgba(outs[k].get_color()) == to_rgba(targets[k].get_color())
    assert "$z$ f1 > f2" in [t.get_text() for t in ax_z.get_legend().get_texts()]


def test_trial_on_given_axes_and_bad_input():
    task = FlipFlop()
    batch = task.batch(4, rng=0)
    fig, axes = plt.subplots(2, 1)
    assert P.plot_trial(task, batch, 0, axes=axes) is fig and len(axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="axes must be a pair"):
        P.plot_trial(task, batch, 0, axes=[axes[0]])
    with pytest.raises(ValueError, match=r"index must be in -4\.\.3 for a batch of 4 trials; got 4"):
        P.plot_trial(task, batch, 4)
    for bad in (1.0, True, "0"):
        with pytest.raises(TypeError, match="index must be an integer"):
            P.plot_trial(task, batch, bad)
    z = batch.target.copy()
    for bad_z in (z[0], z[:, :10], z[:2], z[..., :1]):        # one trial, too short, too few trials, one output
        with pytest.raises(ValueError, match=r"z must have the shape of the targets \(4, 100, 2\)"):
            P.plot_trial(task, batch, 0, z=bad_z)
    with pytest.raises(ValueError, match="z must have the shape"):
        P.plot_trials(task, batch, (0, 1), z=z[:, :10])
    with pytest.raises(ValueError, match="100 steps.*task has 40"):
        P.plot_trial(FlipFlop(t_max=20.0), batch, 0)           # a batch of another task


# --------------------------------------------------------------------------- plot_trials
def test_trials_one_column_per_trial():
    task = make_task("mante")
    batch = task.batch(5, rng=2)
    fig = P.plot_trials(task, batch, indices=(4, 0, 2), title="mante")
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["trial 4", "trial 0", "trial 2"]
    for c, i in enumerate((4, 0, 2)):
        assert len(axes[0, c].get_lines()) == 4 and len(axes[1, c].get_lines()) == 1
        np.testing.assert_array_equal(axes[0, c].get_lines()[2].get_ydata(), batch.u[i, :, 2])
        np.testing.assert_array_equal(axes[1, c].get_lines()[0].get_ydata(), batch.target[i, :, 0])
    # labels and the legend only once: on the first column and the last
    assert axes[0, 0].get_ylabel() and not axes[0, 1].get_ylabel() and not axes[1, 2].get_ylabel()
    assert axes[0, 0].get_legend() is None and axes[0, 2].get_legend() is not None
    assert fig.get_suptitle() == "mante"
    with pytest.raises(ValueError, match="indices must name at least one trial"):
        P.plot_trials(task, batch, indices=())
    with pytest.raises(ValueError, match="index must be in"):
        P.plot_trials(task, batch, indices=(0, 5))


# --------------------------------------------------------------------------- working memory
def test_romo_stimuli_of_a_hand_built_trial():
    u = np.zeros((2, 12, 1), np.float32)
    u[0, 2:4, 0], u[0, 8:10, 0] = 0.7, 1.2
    u[1, 1:3, 0], u[1, 6:8, 0] = 1.4, 0.5
    f1, f2 = P.romo_stimuli(Batch(u, np.zeros((2, 12, 2), np.float32), np.ones((2, 12, 2), np.float32)))
    np.testing.assert_allclose(f1, [0.7, 1.4])
    np.testing.assert_allclose(f2, [1.2, 0.5])
    u[1] = 0
    with pytest.raises(ValueError, match="a trial has no stimulus"):
        P.romo_stimuli(Batch(u, np.zeros((2, 12, 2), np.float32), np.ones((2, 12, 2), np.float32)))


def test_romo_conditions_split_by_the_correct_answer():
    task = WorkingMemory()
    batch = task.batch(64, rng=1)
    fig = P.plot_romo_conditions(task, batch)
    (ax,) = fig.axes
    pts = {c.get_label(): np.asarray(c.get_offsets()) for c in ax.collections}
    bigger, smaller = pts["answer f1 > f2"], pts["answer f1 < f2"]
    assert len(bigger) + len(smaller) == 64 and len(bigger) > 10 and len(smaller) > 10
    assert (bigger[:, 0] > bigger[:, 1]).all() and (smaller[:, 0] < smaller[:, 1]).all()
    # the points are the trials' (f1, f2), read off the input independently here
    f1 = batch.u[:, task.steps(task.fixation), 0]
    f2 = np.array([row[row != 0][-1] for row in batch.u[..., 0]])
    np.testing.assert_allclose(np.sort(bigger[:, 0]), np.sort(f1[f1 > f2]))
    np.testing.assert_allclose(np.sort(smaller[:, 1]), np.sort(f2[f1 < f2]))
    (diag,) = ax.get_lines()
    lo, hi = task.amplitude
    np.testing.assert_allclose(diag.get_xydata(), [[lo, lo], [hi, hi]])            # the line f1 = f2
    assert ax.get_xlabel() == "$f_1$" and ax.get_ylabel() == "$f_2$"
    _, mine = plt.subplots()
    assert P.plot_romo_conditions(task, batch, ax=mine) is mine.figure and len(mine.collections) == 2


# --------------------------------------------------------------------------- untrained activity
def test_activity_one_column_per_network():
    T, N = 6, 5
    time = 0.5 * np.arange(1, T + 1)
    rng = np.random.default_rng(0)
    r = rng.normal(size=(2, T + 1, N))
    z = rng.normal(size=(2, T, 2))
    fig = P.plot_activity(time, r, z, [0.0, 1.5], n_units=3)
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["$g = 0$", "$g = 1.5$"]
    t_r = np.r_[0.0, time]                                # rates from t = 0, one step before the outputs
    for k in range(2):
        rates = axes[0, k].get_lines()
        assert len(rates) == 3
        for i, ln in enumerate(rates):
            np.testing.assert_allclose(ln.get_xydata(), _xy(t_r, r[k, :, i]))
        outs = axes[1, k].get_lines()
        assert len(outs) == 2
        np.testing.assert_allclose(outs[1].get_xydata(), _xy(time, z[k, :, 1]))
    assert "rates" in axes[0, 0].get_ylabel() and "output" in axes[1, 0].get_ylabel()
    assert len(P.plot_activity(time, r, z, [0.0, 1.5], n_units=50).axes[0].get_lines()) == N   # at most N
    with pytest.raises(ValueError, match="same K = 2 networks"):
        P.plot_activity(time, r, z, [0.0])
    with pytest.raises(ValueError, match="same K = 2 networks"):
        P.plot_activity(time, r, z[:1], [0.0, 1.5])
    with pytest.raises(ValueError, match=r"T = 5 .*r must have shape \(K, T \+ 1, N\)"):
        P.plot_activity(time[:-1], r, z, [0.0, 1.5])
