"""Tasks: hand-built trials, shapes, seeds, vectorised generation, validation, properties.

Hand-checked trials use parameters that make the timing deterministic (a fixed
gap or delay); the remaining random choices (channel, sign, coherence, f1, f2)
are read off the input, and the whole expected trial is then written down by
hand, step by step, from the task's description.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrbook.tasks import TASKS, Batch, ContextIntegration, Cosine, FixedPoint, FlipFlop, WorkingMemory, make_task

RANDOM_TASKS = [FlipFlop, ContextIntegration, WorkingMemory]
ALL_TASKS = RANDOM_TASKS + [FixedPoint, Cosine]
PROPS = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_batch(task, batch: Batch, B: int) -> None:
    """Properties every task's batch has."""
    T = task.n_steps
    assert isinstance(batch, Batch)
    assert batch.u.shape == (B, T, task.n_in)
    assert batch.target.shape == (B, T, task.n_out)
    assert batch.mask.shape == (B, T, task.n_out)
    for a in batch:
        assert a.dtype == np.float32 and a.flags.c_contiguous
        assert np.isfinite(a).all()
    assert np.isin(batch.mask, (0.0, 1.0)).all(), "mask is 0/1"
    assert (batch.target[batch.mask == 0] == 0).all(), "target is 0 where the loss is off"
    assert task.time.shape == (T,)


def flipflop_reference(task: FlipFlop, u: np.ndarray):
    """Target and mask of flip-flop trials rebuilt from their inputs (vectorised).

    Valid when pulses never touch (decision_delay + interval[0] > pulse + dt).
    """
    B, T, _ = u.shape
    step = np.arange(T)
    pulsing = np.abs(u).sum(axis=2) > 0
    onset = pulsing & ~np.concatenate([np.zeros((B, 1), bool), pulsing[:, :-1]], axis=1)
    last = np.maximum.accumulate(np.where(onset, step, -1), axis=1)
    u_last = u[np.arange(B)[:, None], np.clip(last, 0, None)]
    respond = (last >= 0) & (step >= last + task.steps(task.decision_delay))
    target = task.level * (u_last / task.amplitude) * respond[:, :, None]
    mask = np.repeat(respond[:, :, None], task.n_bits, axis=2)
    return target.astype(np.float32), mask.astype(np.float32), onset


# --------------------------------------------------------------------------------------
# hand-built trials
# --------------------------------------------------------------------------------------

def test_flipflop_hand_built_trials():
    # dt 0.5, 60 steps; onsets at t = 1 and 1 + 5 + 10 = 16 (steps 2 and 32); the
    # third would start at step 62 > 60. Pulses last 2 steps; responses start
    # 10 steps (decision delay 5) after each onset.
    task = FlipFlop(t_max=30.0, interval=(10.0, 10.0))
    assert task.n_steps == 60
    B = 64
    u, target, mask = task.batch(B, rng=123)
    for b in range(B):
        c0 = int(np.abs(u[b, 2]).argmax())
        s0 = float(u[b, 2, c0])
        c1 = int(np.abs(u[b, 32]).argmax())
        s1 = float(u[b, 32, c1])
        assert s0 in (-1.0, 1.0) and s1 in (-1.0, 1.0)
        eu = np.zeros((60, 2), np.float32)
        eu[2:4, c0] = s0
        eu[32:34, c1] = s1
        et = np.zeros((60, 2), np.float32)
        et[12:32, c0] = 0.5 * s0
        et[42:60, c1] = 0.5 * s1
        em = np.zeros((60, 2), np.float32)
        em[12:32] = 1.0
        em[42:60] = 1.0
        np.testing.assert_array_equal(u[b], eu)
        np.testing.assert_array_equal(target[b], et)
        np.testing.assert_array_equal(mask[b], em)
    # the random choices do vary across trials
    assert len({(int(np.abs(u[b, 2]).argmax()), float(u[b, 2].sum())) for b in range(B)}) == 4


def test_flipflop_random_gaps_on_grid_and_in_range():
    task = FlipFlop()
    u, target, mask = task.batch(512, rng=np.random.default_rng(5))
    ref_t, ref_m, onset = flipflop_reference(task, u)
    np.testing.assert_array_equal(target, ref_t)
    np.testing.assert_array_equal(mask, ref_m)
    gaps = np.concatenate([np.diff(np.flatnonzero(row)) for row in onset])
    lo = (task.decision_delay + task.interval[0]) / task.dt
    hi = (task.decision_delay + task.interval[1]) / task.dt
    assert gaps.min() >= lo - 1 and gaps.max() <= hi + 1     # onsets rounded to the grid
    assert gaps.max() - gaps.min() > 0.8 * (hi - lo), "gaps spread over the interval"
    assert (onset[:, task.steps(task.fixation)]).all()
    # every pulse lasts exactly `pulse`
    pulsing = np.abs(u).sum(axis=2) > 0
    assert pulsing.sum() == onset.sum() * task.steps(task.pulse)


def test_mante_hand_built_trials():
    # no noise, one coherence magnitude: steps fixation 0-5, stimulus 6-45,
    # delay 46-55, decision 56-95
    task = ContextIntegration(noise_std=0.0, coherences=(0.5,))
    assert task.n_steps == 96
    B = 64
    u, target, mask = task.batch(B, rng=7)
    combos = set()
    for b in range(B):
        c = u[b, 6, 0:2].copy()
        ctx = int(u[b, 6, 2:4].argmax())
        assert set(np.abs(c)) == {0.5}
        eu = np.zeros((96, 4), np.float32)
        eu[6:46, 0:2] = c
        eu[6:46, 2 + ctx] = 1.0
        et = np.zeros((96, 1), np.float32)
        et[56:96, 0] = 0.5 * np.sign(c[ctx])
        em = np.ones((96, 1), np.float32)
        em[46:56] = 0.0
        np.testing.assert_array_equal(u[b], eu)
        np.testing.assert_array_equal(target[b], et)
        np.testing.assert_array_equal(mask[b], em)
        combos.add((ctx, float(np.sign(c[0])), float(np.sign(c[1]))))
    assert len(combos) == 8, "both contexts and all coherence signs occur"


def test_mante_coherences_and_noise():
    task = ContextIntegration()
    u, target, mask = task.batch(2048, rng=11)
    c_hat = u[:, 6:46, 0:2].mean(axis=1)                      # (B, 2)
    levels = np.array([1, 2, 4, 8]) / 8
    nearest = levels[np.abs(np.abs(c_hat)[..., None] - levels).argmin(axis=-1)]
    assert np.abs(np.abs(c_hat) - nearest).max() < 0.05
    assert set(np.unique(nearest)) == set(levels)
    std = u[:, 46:, 0:2].std()
    assert abs(std - 0.05 / math.sqrt(0.5)) < 0.005
    assert (u[:, :, 2:4].std(axis=(0, 1)) > 0).all() and (u[:, 46:, 2:4] == 0).all()


def test_romo_hand_built_trials():
    # delay fixed at 4 (8 steps): f1 at steps 6-7, f2 at 16-17, decision 28-47
    task = WorkingMemory(delay=(4.0, 4.0))
    assert task.n_steps == 48
    B = 64
    u, target, mask = task.batch(B, rng=3)
    for b in range(B):
        f1, f2 = float(u[b, 6, 0]), float(u[b, 16, 0])
        assert 0.5 <= f1 <= 1.5 and 0.5 <= f2 <= 1.5 and abs(f1 - f2) >= 0.2 - 1e-6
        eu = np.zeros((48, 1), np.float32)
        eu[6:8, 0] = f1
        eu[16:18, 0] = f2
        et = np.zeros((48, 2), np.float32)
        et[28:48, 0 if f1 > f2 else 1] = 0.5
        em = np.zeros((48, 2), np.float32)
        em[0:18] = 1.0
        em[28:48] = 1.0
        np.testing.assert_array_equal(u[b], eu)
        np.testing.assert_array_equal(target[b], et)
        np.testing.assert_array_equal(mask[b], em)


def test_fixedpoint_hand_built():
    task = FixedPoint(z_hat=2.0, t_max=10.0, fixation=1.0, readout=1.0)
    u, target, mask = task.batch(3)
    assert task.n_steps == 20
    eu = np.zeros((20, 1), np.float32)
    eu[2:] = 1.0
    et = np.zeros((20, 1), np.float32)
    et[18:] = 2.0
    em = np.zeros((20, 1), np.float32)
    em[18:] = 1.0
    for b in range(3):
        np.testing.assert_array_equal(u[b], eu)
        np.testing.assert_array_equal(target[b], et)
        np.testing.assert_array_equal(mask[b], em)
    # the paper's default: 202 steps, target on the last 2
    u, target, mask = FixedPoint().batch(1)
    assert u.shape == (1, 202, 1) and mask.sum() == 2 and target[0, -1, 0] == 1.0


def test_cosine_hand_built():
    task = Cosine()
    u, target, mask = task.batch(2)
    assert task.n_steps == 200 and (u == 0).all()
    t = target[0, :, 0]
    assert t[24] == pytest.approx(-1.0, abs=1e-6)      # time 2.5: half a period
    assert t[49] == pytest.approx(1.0, abs=1e-6)       # time 5.0
    assert t[11] == pytest.approx(math.cos(2 * math.pi * 1.2 / 5), abs=1e-6)
    assert mask[0, 99, 0] == 1 and t[99] == pytest.approx(1.0, abs=1e-6)   # time 10.0
    assert (mask[0, 100:] == 0).all() and (target[0, 100:] == 0).all()
    assert mask[0, :100].all()


# --------------------------------------------------------------------------------------
# shapes, dtypes, seeds
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL_TASKS, ids=lambda c: c.name)
@pytest.mark.parametrize("B", [1, 7, 32])
def test_shapes_and_dtypes(cls, B):
    task = cls()
    check_batch(task, task.batch(B, rng=0), B)


@pytest.mark.parametrize("cls", RANDOM_TASKS, ids=lambda c: c.name)
def test_seeds_reproduce_and_differ(cls):
    task = cls()
    a = task.batch(16, rng=42)
    b = task.batch(16, rng=np.random.default_rng(42))
    c = task.batch(16, rng=43)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.u, c.u)
    # one Generator advances: two draws from it differ
    g = np.random.default_rng(0)
    assert not np.array_equal(task.batch(16, g).u, task.batch(16, g).u)


@pytest.mark.parametrize("cls", RANDOM_TASKS, ids=lambda c: c.name)
def test_random_tasks_need_an_rng(cls):
    with pytest.raises(ValueError, match="rng"):
        cls().batch(4)
    with pytest.raises(TypeError, match="rng"):
        cls().batch(4, rng="seed")


@pytest.mark.parametrize("cls", [FixedPoint, Cosine], ids=lambda c: c.name)
def test_deterministic_tasks_ignore_rng(cls):
    task = cls()
    assert task.deterministic
    a, b = task.batch(2), task.batch(2, rng=99)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x[0], x[1])


def test_registry_and_params():
    assert set(TASKS) == {"flipflop", "mante", "romo", "fixedpoint", "cosine"}
    for name, cls in TASKS.items():
        task = make_task(name)
        assert isinstance(task, cls) and task.name == name
        p = task.params()
        assert p["name"] == name
        again = make_task(**p)
        assert again.params() == p, "params() round-trips"
        for a, b in zip(task.batch(4, rng=1), again.batch(4, rng=1)):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="task"):
        make_task("nope")
    assert make_task("fixedpoint", z_hat=2.0).z_hat == 2.0


def test_paper_timings():
    assert FlipFlop().n_steps == 100 and FlipFlop().n_in == FlipFlop().n_out == 2
    assert ContextIntegration().n_steps == 96
    assert (ContextIntegration().n_in, ContextIntegration().n_out) == (4, 1)
    wm = WorkingMemory()
    assert wm.t_max == 28 and wm.n_steps == 56 and (wm.n_in, wm.n_out) == (1, 2)
    assert Cosine().n_steps == 200 and Cosine().x0 == "input"


# --------------------------------------------------------------------------------------
# vectorised generation: one batch of 4096 trials, the rng called O(1) times
# --------------------------------------------------------------------------------------

class CountingGenerator(np.random.Generator):
    """A numpy Generator that counts calls to its sampling methods."""

    SAMPLERS = {"uniform", "integers", "choice", "standard_normal", "normal", "random",
                "permutation", "shuffle", "exponential", "binomial", "permuted"}
    calls = 0

    def __getattribute__(self, name):
        if name in CountingGenerator.SAMPLERS:
            CountingGenerator.calls += 1
        return super().__getattribute__(name)


@pytest.mark.parametrize("cls", RANDOM_TASKS, ids=lambda c: c.name)
def test_generation_is_vectorised(cls):
    task = cls()
    calls = {}
    for B in (8, 4096):
        CountingGenerator.calls = 0
        batch = task.batch(B, CountingGenerator(np.random.PCG64(1)))
        calls[B] = CountingGenerator.calls
        check_batch(task, batch, B)
    # a loop over trials would draw at least once per trial
    assert 0 < calls[4096] <= 30, calls
    assert calls[4096] <= calls[8] + 20, calls


def test_large_batches_have_the_right_statistics():
    B = 4096
    ff = FlipFlop()
    u, target, mask = ff.batch(B, rng=0)
    ref_t, ref_m, onset = flipflop_reference(ff, u)
    np.testing.assert_array_equal(target, ref_t)
    np.testing.assert_array_equal(mask, ref_m)
    first = u[:, ff.steps(ff.fixation)]
    assert abs((first[:, 0] != 0).mean() - 0.5) < 0.05, "both channels"
    assert abs((first.sum(axis=1) > 0).mean() - 0.5) < 0.05, "both signs"

    wm = WorkingMemory()
    u, target, mask = wm.batch(B, rng=0)
    on = u[..., 0] != 0
    end_f2 = wm.n_steps - np.argmax(on[:, ::-1], axis=1)
    delay_steps = end_f2 - 2 * wm.steps(wm.stimulus) - wm.steps(wm.fixation)
    assert set(np.unique(delay_steps)) == set(range(4, 17)), "delays U(2, 8) on the dt grid"
    f1 = u[:, wm.steps(wm.fixation), 0]
    f2 = u[np.arange(B), end_f2 - 1, 0]
    assert (np.abs(f1 - f2) >= 0.2 - 1e-6).all()
    assert abs((f1 > f2).mean() - 0.5) < 0.05
    np.testing.assert_array_equal(target[:, :, 0].max(axis=1) > 0, f1 > f2)

    mt = ContextIntegration()
    u, target, mask = mt.batch(B, rng=0)
    ctx = u[:, 6, 2:4].argmax(axis=1)
    assert abs(ctx.mean() - 0.5) < 0.05
    assert abs((target[:, -1, 0] > 0).mean() - 0.5) < 0.05


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------

BAD = [
    (FlipFlop, dict(dt=0.0), ValueError, "dt"),
    (FlipFlop, dict(dt=1.5), ValueError, "dt"),
    (FlipFlop, dict(dt="0.5"), TypeError, "dt"),
    (FlipFlop, dict(t_max=-1.0), ValueError, "t_max"),
    (FlipFlop, dict(t_max=1.0), ValueError, "t_max"),           # < fixation + pulse
    (FlipFlop, dict(pulse=0.3), ValueError, "pulse"),           # not a multiple of dt
    (FlipFlop, dict(decision_delay=0.0), ValueError, "decision_delay"),
    (FlipFlop, dict(fixation=-0.5), ValueError, "fixation"),
    (FlipFlop, dict(interval=(25.0, 5.0)), ValueError, "interval"),
    (FlipFlop, dict(interval=(-1.0, 5.0)), ValueError, "interval"),
    (FlipFlop, dict(interval="5-25"), TypeError, "interval"),
    (FlipFlop, dict(n_bits=0), ValueError, "n_bits"),
    (FlipFlop, dict(n_bits=2.0), TypeError, "n_bits"),
    (FlipFlop, dict(amplitude=float("nan")), ValueError, "amplitude"),
    (FlipFlop, dict(level=None), TypeError, "level"),
    (ContextIntegration, dict(stimulus=0.0), ValueError, "stimulus"),
    (ContextIntegration, dict(delay=-1.0), ValueError, "delay"),
    (ContextIntegration, dict(fixation=0.25), ValueError, "fixation"),
    (ContextIntegration, dict(decision=float("inf")), ValueError, "decision"),
    (ContextIntegration, dict(coherences=()), ValueError, "coherences"),
    (ContextIntegration, dict(coherences=(0.5, -0.1)), ValueError, "coherences"),
    (ContextIntegration, dict(coherences=(0.5, 0.0)), ValueError, "coherences"),
    (ContextIntegration, dict(noise_std=-0.1), ValueError, "noise_std"),
    (ContextIntegration, dict(level="a"), TypeError, "level"),
    (WorkingMemory, dict(delay=(8.0, 2.0)), ValueError, "delay"),
    (WorkingMemory, dict(amplitude=(1.5, 0.5)), ValueError, "amplitude"),
    (WorkingMemory, dict(min_diff=0.6), ValueError, "min_diff"),
    (WorkingMemory, dict(min_diff=-0.1), ValueError, "min_diff"),
    (WorkingMemory, dict(decision=0.0), ValueError, "decision"),
    (WorkingMemory, dict(stimulus=0.3), ValueError, "stimulus"),
    (WorkingMemory, dict(decision_delay="5"), TypeError, "decision_delay"),
    (FixedPoint, dict(z_hat=float("nan")), ValueError, "z_hat"),
    (FixedPoint, dict(z_hat="1"), TypeError, "z_hat"),
    (FixedPoint, dict(readout=0.0), ValueError, "readout"),
    (FixedPoint, dict(t_max=1.5, fixation=1.0, readout=1.0), ValueError, "t_max"),
    (FixedPoint, dict(t_max=10.25), ValueError, "t_max"),
    (Cosine, dict(period=0.0), ValueError, "period"),
    (Cosine, dict(n_periods=10.0), ValueError, "n_periods"),
    (Cosine, dict(t_max=0.05), ValueError, "t_max"),
    (Cosine, dict(amplitude=[1.0]), TypeError, "amplitude"),
]


@pytest.mark.parametrize("cls, kwargs, exc, name", BAD,
                         ids=[f"{c.name}-{next(iter(k))}-{e.__name__}" for c, k, e, _ in BAD])
def test_bad_parameters_are_rejected_with_their_name(cls, kwargs, exc, name):
    with pytest.raises(exc) as info:
        cls(**kwargs)
    msg = str(info.value)
    assert name in msg, msg
    assert "got" in msg, f"the message shows the value received: {msg}"


# Regression tests of a fixed defect: pair parameters went through list() before
# validation, so None raised "'NoneType' object is not iterable" without the name.
KNOWN_BAD_TYPES = [(FlipFlop, dict(interval=None), TypeError, "interval"),
                   (WorkingMemory, dict(delay=None), TypeError, "delay"),
                   (WorkingMemory, dict(amplitude=None), TypeError, "amplitude")]


@pytest.mark.parametrize("cls, kwargs, exc, name", KNOWN_BAD_TYPES,
                         ids=[f"{c.name}-{next(iter(k))}" for c, k, e, _ in KNOWN_BAD_TYPES])
def test_none_for_a_pair_names_the_parameter(cls, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        cls(**kwargs)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                      (True, TypeError), ("8", TypeError)])
def test_bad_batch_size(bad, exc):
    with pytest.raises(exc, match="batch_size"):
        FlipFlop().batch(bad, rng=0)


def test_tasks_are_frozen():
    task = FlipFlop()
    with pytest.raises(AttributeError):
        task.dt = 0.1


# --------------------------------------------------------------------------------------
# property tests (hypothesis)
# --------------------------------------------------------------------------------------

DTS = st.sampled_from([0.1, 0.2, 0.25, 0.5, 1.0])
SEEDS = st.integers(0, 2**32 - 1)
BATCH = st.integers(1, 12)


@st.composite
def flipflops(draw, separated=False):
    dt = draw(DTS)
    k = lambda lo, hi: draw(st.integers(lo, hi)) * dt  # noqa: E731
    pulse = k(1, 4)
    decision_delay = pulse + k(2, 20) if separated else k(1, 20)
    fixation = k(0, 10)
    lo = max(draw(st.floats(0, 20)), pulse - decision_delay)   # pulses never overlap
    hi = lo + draw(st.floats(0, 20))
    amplitude = draw(st.floats(0.1, 3)) * draw(st.sampled_from([-1, 1]))
    return FlipFlop(dt=dt, t_max=fixation + pulse + k(0, 120), fixation=fixation, pulse=pulse,
                    decision_delay=decision_delay, interval=(lo, hi), amplitude=amplitude,
                    level=draw(st.floats(-2, 2)), n_bits=draw(st.integers(1, 4)))


@st.composite
def contexts(draw):
    dt = draw(DTS)
    k = lambda lo, hi: draw(st.integers(lo, hi)) * dt  # noqa: E731
    coh = draw(st.lists(st.floats(0.01, 2), min_size=1, max_size=4))
    return ContextIntegration(dt=dt, fixation=k(0, 10), stimulus=k(1, 40), delay=k(0, 20),
                              decision=k(1, 40), coherences=tuple(coh),
                              noise_std=draw(st.floats(0, 0.5)), level=draw(st.floats(-2, 2)))


@st.composite
def working_memories(draw):
    dt = draw(DTS)
    k = lambda lo, hi: draw(st.integers(lo, hi)) * dt  # noqa: E731
    d_lo = k(0, 16)
    a_lo = draw(st.floats(0.05, 2))
    width = draw(st.floats(0.1, 2))
    return WorkingMemory(dt=dt, fixation=k(0, 10), stimulus=k(1, 4), delay=(d_lo, d_lo + k(0, 16)),
                         decision_delay=k(0, 10), decision=k(1, 20), amplitude=(a_lo, a_lo + width),
                         min_diff=draw(st.floats(0, 0.4)) * width, level=draw(st.floats(0.1, 2)))


@st.composite
def linear_tasks(draw):
    dt = draw(DTS)
    k = lambda lo, hi: draw(st.integers(lo, hi)) * dt  # noqa: E731
    if draw(st.booleans()):
        fixation, readout = k(0, 10), k(1, 10)
        return FixedPoint(dt=dt, z_hat=draw(st.floats(-4, 4)), fixation=fixation, readout=readout,
                          t_max=fixation + readout + k(0, 100))
    period = draw(st.floats(0.5, 10))
    n_periods = draw(st.floats(0.5, 3))
    return Cosine(dt=dt, period=period, n_periods=n_periods,
                  t_max=math.ceil(period * n_periods / dt + 1) * dt + k(0, 50),
                  amplitude=draw(st.floats(-2, 2)))


@PROPS
@given(task=flipflops(), B=BATCH, seed=SEEDS)
def test_flipflop_properties(task, B, seed):
    batch = task.batch(B, rng=seed)
    check_batch(task, batch, B)
    assert ((batch.target != 0).sum(axis=2) <= 1).all(), "only the channel pulsed last reports"
    fix = task.steps(task.fixation)
    assert (batch.u[:, :fix] == 0).all() and (batch.mask[:, :fix] == 0).all()
    assert (batch.mask[:, : fix + task.steps(task.decision_delay)] == 0).all()


@PROPS
@given(task=flipflops(separated=True), B=BATCH, seed=SEEDS)
def test_flipflop_target_follows_the_last_pulse(task, B, seed):
    u, target, mask = task.batch(B, rng=seed)
    ref_t, ref_m, _ = flipflop_reference(task, u)
    np.testing.assert_allclose(target, ref_t, atol=1e-6)
    np.testing.assert_array_equal(mask, ref_m)


@PROPS
@given(task=contexts(), B=BATCH, seed=SEEDS)
def test_context_properties(task, B, seed):
    u, target, mask = batch = task.batch(B, rng=seed)
    check_batch(task, batch, B)
    s0 = task.steps(task.fixation)
    s1 = s0 + task.steps(task.stimulus)
    s2 = s1 + task.steps(task.delay)
    assert (mask[:, s1:s2] == 0).all() and (mask[:, :s1] == 1).all() and (mask[:, s2:] == 1).all()
    assert (target[:, :s2] == 0).all()
    np.testing.assert_allclose(np.abs(target[:, s2:]), abs(np.float32(task.level)), rtol=1e-6)
    assert (u[:, s0:s1, 2:4].sum(axis=2) == 1).all() and (u[:, s1:, 2:4] == 0).all()


@PROPS
@given(task=working_memories(), B=BATCH, seed=SEEDS)
def test_working_memory_properties(task, B, seed):
    u, target, mask = batch = task.batch(B, rng=seed)
    check_batch(task, batch, B)
    on1, dur = task.steps(task.fixation), task.steps(task.stimulus)
    f1 = u[:, on1, 0]
    on = u[..., 0] != 0
    end_f2 = task.n_steps - np.argmax(on[:, ::-1], axis=1)
    f2 = u[np.arange(B), end_f2 - 1, 0]
    lo, hi = task.amplitude
    assert ((f1 >= lo - 1e-6) & (f1 <= hi + 1e-6) & (f2 >= lo - 1e-6) & (f2 <= hi + 1e-6)).all()
    assert (np.abs(f1 - f2) >= task.min_diff - 1e-5).all()
    answer = target.max(axis=1)                                   # (B, 2)
    np.testing.assert_array_equal(answer[:, 0] > 0, f1 > f2)
    np.testing.assert_array_equal(answer[:, 1] > 0, f1 < f2)
    before_end = np.arange(task.n_steps)[None, :] < end_f2[:, None]     # (B, T)
    assert (mask[before_end] == 1).all(), "the mask is on until the end of f2"
    assert (target.max(axis=2) > 0).sum(axis=1).tolist() == [task.steps(task.decision)] * B
    step = np.arange(task.n_steps)[None, :]
    between = (step >= on1 + dur) & (step < end_f2[:, None] - dur)
    assert (u[between] == 0).all(), "silence between f1 and f2"


@PROPS
@given(task=linear_tasks(), B=BATCH)
def test_linear_task_properties(task, B):
    batch = task.batch(B)
    check_batch(task, batch, B)
    for a in batch:
        np.testing.assert_array_equal(a, np.broadcast_to(a[:1], a.shape))


@st.composite
def bad_parameters(draw):
    """(task class, kwargs, exception, parameter name) for one invalid parameter."""
    cls, name, kind = draw(st.sampled_from([
        (FlipFlop, "t_max", "positive"), (FlipFlop, "pulse", "positive"),
        (FlipFlop, "decision_delay", "positive"), (FlipFlop, "fixation", "nonneg"),
        (FlipFlop, "amplitude", "finite"), (FlipFlop, "level", "finite"),
        (FlipFlop, "interval", "range"), (FlipFlop, "n_bits", "count"),
        (ContextIntegration, "stimulus", "positive"), (ContextIntegration, "decision", "positive"),
        (ContextIntegration, "fixation", "nonneg"), (ContextIntegration, "delay", "nonneg"),
        (ContextIntegration, "noise_std", "nonneg"), (ContextIntegration, "level", "finite"),
        (WorkingMemory, "stimulus", "positive"), (WorkingMemory, "decision", "positive"),
        (WorkingMemory, "fixation", "nonneg"), (WorkingMemory, "decision_delay", "nonneg"),
        (WorkingMemory, "delay", "range"), (WorkingMemory, "amplitude", "range"),
        (FixedPoint, "z_hat", "finite"), (FixedPoint, "readout", "positive"),
        (Cosine, "period", "positive"), (Cosine, "amplitude", "finite"),
        (FlipFlop, "dt", "dt"), (ContextIntegration, "dt", "dt"), (Cosine, "dt", "dt"),
    ]))
    special = st.sampled_from([math.nan, math.inf, -math.inf])
    if draw(st.integers(0, 4)) == 0:                               # wrong type
        value = draw(st.sampled_from(["1.0", None, [1.0, 2.0], {"a": 1}]))
        if kind == "range" and (isinstance(value, list) or value is None):
            value = "1.0"      # None for a pair: see KNOWN_BAD_TYPES below
        if kind == "count" and value is None:
            value = 2.5
        return cls, {name: value}, TypeError, name
    if kind == "positive":
        value = draw(st.one_of(st.floats(max_value=0.0, allow_nan=False), special))
    elif kind == "nonneg":
        value = draw(st.one_of(st.floats(max_value=-1e-3, allow_nan=False), special))
    elif kind == "finite":
        value = draw(special)
    elif kind == "count":
        value = draw(st.integers(max_value=0))
    elif kind == "dt":
        value = draw(st.one_of(st.floats(max_value=0.0, allow_nan=False),
                               st.floats(min_value=1.0001, allow_infinity=False), special))
    else:                                                          # an inverted or broken pair
        lo = draw(st.floats(0.5, 10))
        value = draw(st.sampled_from([(lo + 1.0, lo), (lo, math.nan), (lo,)]))
    return cls, {name: value}, ValueError, name


@PROPS
@given(case=bad_parameters())
def test_invalid_parameters_name_the_parameter(case):
    cls, kwargs, exc, name = case
    with pytest.raises(exc) as info:
        cls(**kwargs)
    assert name in str(info.value), (kwargs, str(info.value))


@pytest.mark.parametrize("cls", [FlipFlop, ContextIntegration, WorkingMemory, FixedPoint, Cosine])
def test_params_round_trip_to_an_equal_hashable_task(cls):
    task = cls()
    p = dict(task.params())
    p.pop("name")
    again = cls(**p)
    assert again == task and hash(again) == hash(task)


def test_flipflop_rejects_overlapping_pulses():
    with pytest.raises(ValueError, match="pulse"):
        FlipFlop(pulse=3.0, decision_delay=1.0, interval=(1.0, 5.0))
