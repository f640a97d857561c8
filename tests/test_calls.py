"""cached_call: lrbook results stored by a key of their arguments, read back equal."""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
import pytest
import torch

from lrbook.dynamics import find_fixed_points
from lrbook.experiments import CacheWarning, cached_call, call_key
from lrbook.experiments import calls as calls_mod
from lrbook.tasks import FixedPoint
from lrbook.training import model_for, train


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRBOOK_CACHE", str(tmp_path))
    return tmp_path


def _counting():
    """An lrbook-module function that counts its calls (cached_call accepts lrbook's only)."""
    seen: list[int] = []

    def fn(x, scale=1.0):
        seen.append(1)
        return {"y": np.asarray(x) * scale, "n": len(seen)}

    fn.__module__ = "lrbook._test_calls"
    fn.__qualname__ = "counting"
    return fn, seen


def test_a_second_call_reads_the_stored_result(cache):
    fn, seen = _counting()
    a = cached_call(fn, [1.0, 2.0], scale=3.0)
    b = cached_call(fn, [1.0, 2.0], scale=3.0)
    assert len(seen) == 1
    np.testing.assert_array_equal(a["y"], b["y"])
    assert b["n"] == 1 and isinstance(b["n"], int)
    assert len(list((cache / "calls").glob("*.npz"))) == 1
    cached_call(fn, [1.0, 2.0], scale=2.0)               # another argument: computed
    assert len(seen) == 2


def test_keys_follow_every_byte_and_bit_of_the_arguments():
    fn, _ = _counting()
    x = np.arange(6.0).reshape(2, 3)
    k = call_key(fn, (x,), {})
    assert call_key(fn, (x.copy(),), {}) == k                       # equal values, equal key
    y = x.copy()
    y[1, 2] = np.nextafter(y[1, 2], 10)                              # one ulp
    assert call_key(fn, (y,), {}) != k
    assert call_key(fn, (x.astype(np.float32),), {}) != k          # dtype
    assert call_key(fn, (x.reshape(3, 2),), {}) != k               # shape
    assert call_key(fn, (torch.from_numpy(x),), {}) != k           # a tensor is not an array
    assert call_key(fn, (x,), {"scale": 1.0}) != k                  # a keyword given
    assert call_key(fn, (x,), {"scale": 1.0}) != call_key(fn, (x,), {"scale": 1.0 + 2 ** -52})
    assert call_key(fn, (1,), {}) != call_key(fn, (1.0,), {}) != call_key(fn, (True,), {})
    t1, t2 = FixedPoint(z_hat=1.0), FixedPoint(z_hat=2.0)         # dataclasses by their fields
    assert call_key(fn, (t1,), {}) == call_key(fn, (FixedPoint(z_hat=1.0),), {}) != call_key(fn, (t2,), {})


def test_a_trained_network_round_trips_and_is_not_retrained(cache, monkeypatch):
    task = FixedPoint(z_hat=1.0, t_max=11.0)
    first = cached_call(train, model_for(task, 16, g=[0.0, 0.5], seeds=1), task, 6, snapshot_every=2)
    import lrbook.engine as engine

    def refuse(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(engine, "forward", refuse)                 # any training would call it
    again = cached_call(train, model_for(task, 16, g=[0.0, 0.5], seeds=1), task, 6, snapshot_every=2)
    assert type(again) is type(first)
    for f in dataclasses.fields(first):
        a, b = getattr(first, f.name), getattr(again, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f.name
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, f.name
    assert again.snapshots.shape == (4, 2, 16, 16)


def test_fixed_points_round_trip_with_complex_eigenvalues(cache):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(2, 12, 12)) * 1.6 / np.sqrt(12)
    starts = rng.normal(size=(2, 6, 12))
    a = cached_call(find_fixed_points, W, None, starts, adam_steps=50)
    b = cached_call(find_fixed_points, W, None, starts, adam_steps=50)
    assert len(a.points) == len(b.points) > 0 and b.K == 2 and b.info == a.info
    for p, q in zip(a.points, b.points):
        assert q.eigenvalues.dtype == np.complex128
        np.testing.assert_array_equal(p.eigenvalues, q.eigenvalues)
        np.testing.assert_array_equal(p.x, q.x)
        assert (p.network, p.q, p.n_starts) == (q.network, q.q, q.n_starts)


def test_a_torch_module_round_trips():
    from lrbook.nlp import SentimentLSTM

    net = SentimentLSTM(np.random.default_rng(0).normal(size=(7, 3)), hidden=4, layers=2, seed=3).eval()
    arrays: dict = {}
    node = calls_mod._encode({"model": net}, arrays)
    back = calls_mod._decode(node, arrays)["model"]
    assert isinstance(back, SentimentLSTM) and not back.training
    for (k, v), (k2, v2) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k == k2
        torch.testing.assert_close(v, v2, rtol=0, atol=0)


def test_refusals_come_before_any_work(cache):
    fn, seen = _counting()
    with pytest.raises(TypeError, match="fn must be a function of lrbook"):
        cached_call(np.sum, [1, 2])
    with pytest.raises(TypeError, match="fn must be a function of lrbook"):
        cached_call(lambda x: x, 1)
    with pytest.raises(TypeError, match="cannot key an argument of type object"):
        cached_call(fn, object())
    assert seen == []

    def returns_a_set(x):
        return {1, 2}

    returns_a_set.__module__ = "lrbook._test_calls"
    with pytest.raises(TypeError, match="cannot store a value of type set"):
        cached_call(returns_a_set, 1)


def test_a_corrupt_or_foreign_file_is_recomputed(cache, monkeypatch):
    fn, seen = _counting()
    cached_call(fn, [1.0])
    path, = (cache / "calls").glob("*.npz")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match="corrupt"):
        out = cached_call(fn, [1.0])
    assert len(seen) == 2 and out["n"] == 2
    assert len(list((cache / "corrupt").iterdir())) == 1
    assert path.is_file()                                          # written again
    # a file stored under this key by another version is refused
    monkeypatch.setattr(calls_mod, "__version__", "0.0.0-other")
    assert calls_mod._read.__module__ == "lrbook.experiments.calls"
    with pytest.raises(ValueError, match="another version"):
        calls_mod._read(path, path.stem)


def test_a_read_only_cache_computes_and_stores_nothing(cache):
    fn, seen = _counting()
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    (cache / "networks").mkdir(parents=True)
    os.chmod(cache, 0o555)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheWarning)
            cached_call(fn, [1.0])
            cached_call(fn, [1.0])
    finally:
        os.chmod(cache, 0o755)
    assert len(seen) == 2
    assert not (cache / "calls").exists()


def test_call_times_add_up_the_stored_calls(cache):
    from lrbook.experiments import call_times

    assert call_times() == []
    fn, _ = _counting()
    cached_call(fn, [1.0])
    cached_call(fn, [2.0])
    cached_call(fn, [2.0])                                          # read back: not counted twice
    (cache / "calls" / "junk.npz").write_bytes(b"not a zip")       # unreadable: skipped
    (row,) = call_times()
    assert row.fn == "lrbook._test_calls:counting" and row.calls == 2 and row.seconds >= 0
