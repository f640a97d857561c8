"""torch's thread setting is process-wide: every part of lrbook that changes it puts it back."""

from __future__ import annotations

import threading

import pytest
import torch

from lrbook._threads import flush_denormals, torch_threads
from lrbook.tasks import FlipFlop
from lrbook.training import model_for, train


def _in_a_new_thread() -> int:
    """torch's threads as a thread started now sees them (OpenMP copies the last setting)."""
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(torch.get_num_threads()))
    t.start()
    t.join()
    return out[0]


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_torch_threads_sets_and_restores(two_threads):
    with torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == two_threads
    with torch_threads(None) as n:                 # None: leave as is
        assert n == two_threads == torch.get_num_threads()
        torch.set_num_threads(1)                   # a change inside the block is undone
    assert torch.get_num_threads() == two_threads


def test_torch_threads_restores_after_an_exception(two_threads):
    with pytest.raises(RuntimeError, match="boom"), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == two_threads
    assert _in_a_new_thread() == two_threads


@pytest.mark.parametrize("threads", [None, 1])
def test_train_leaves_torch_threads_as_it_found_them(two_threads, threads):
    """Worker threads run one core each (torch.set_num_threads(1) in each); afterwards the
    caller's setting holds, in this thread and in threads started later."""
    task = FlipFlop(t_max=4.0)
    train(model_for(task, 8, g=[0.0, 0.5, 0.9], seeds=0), task, 2, workers=2, chunk_size=1,
          threads=threads)
    assert torch.get_num_threads() == two_threads
    assert _in_a_new_thread() == two_threads


def test_train_restores_torch_threads_after_an_error(two_threads):
    task = FlipFlop(t_max=4.0)
    with pytest.raises(ValueError, match="task dt"):          # refused before training
        train(model_for(task, 8, g=[0.0], seeds=0), FlipFlop(t_max=4.0, dt=0.25), 1, threads=1)
    with pytest.raises(KeyboardInterrupt):
        train(model_for(task, 8, g=[0.0, 0.5], seeds=0), _Interrupting(t_max=4.0), 3, workers=2,
              chunk_size=1, threads=1)
    assert torch.get_num_threads() == two_threads
    assert _in_a_new_thread() == two_threads


class _Interrupting(FlipFlop):
    """FlipFlop whose second batch is interrupted (as by Ctrl-C, while training)."""

    calls = 0

    def batch(self, B, rng=None):
        type(self).calls += 1
        if type(self).calls > 2:
            raise KeyboardInterrupt
        return super().batch(B, rng)


# ----------------------------------------------------------------- subnormal floats

def _flushes() -> bool:
    """Whether this thread flushes: a float32 subnormal times one is zero."""
    return bool((torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() == 0.0)


@pytest.fixture
def keeping_subnormals():
    torch.set_flush_denormal(False)
    yield
    torch.set_flush_denormal(False)


def test_flush_denormals_flushes_inside_and_restores(keeping_subnormals):
    assert not _flushes()
    with flush_denormals() as on:
        assert on and _flushes()
        with flush_denormals(False) as inner:       # nested: off, then back on
            assert not inner and not _flushes()
        assert _flushes()
    assert not _flushes()
    torch.set_flush_denormal(True)                  # a caller that flushes keeps flushing
    with flush_denormals(False):
        assert not _flushes()
    assert _flushes()


def test_flush_denormals_restores_after_an_exception(keeping_subnormals):
    with pytest.raises(RuntimeError, match="boom"), flush_denormals():
        raise RuntimeError("boom")
    assert not _flushes()


def test_training_flushes_subnormals_in_its_workers_and_restores(keeping_subnormals, monkeypatch):
    """The workers' chunks run with subnormals flushed; the caller's mode is back after."""
    from lrbook import engine

    seen: list[bool] = []
    real = engine.masked_mse

    def spy(*a, **k):
        seen.append(_flushes())
        return real(*a, **k)

    monkeypatch.setattr(engine, "masked_mse", spy)
    task = FlipFlop(t_max=4.0)
    train(model_for(task, 8, g=[0.0, 0.5, 0.9], seeds=0), task, 2, workers=2, chunk_size=1)
    train(model_for(task, 8, g=0.5, seeds=0), task, 2, workers=1)
    assert seen and all(seen)
    assert not _flushes()


def test_flushing_subnormals_makes_a_long_decay_exact_zero():
    """What flushing changes: the adjoint of a silent network halves every step
    (dt = 0.5); after 160 steps float32 holds a subnormal, which becomes 0."""
    h = torch.ones(1, dtype=torch.float32)
    for _ in range(140):
        h = h * 0.5
    with flush_denormals():
        assert (h * 0.5).item() == 0.0
    assert 0.0 < (h * 0.5).item() < 1.2e-38
