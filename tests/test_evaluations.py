"""lrbook.experiments.evaluations: test-batch evaluations cached next to the networks."""

import warnings

import numpy as np
import pytest
from helpers.experiments import tiny

from lrbook.analysis import evaluate_result, reports_from_result
from lrbook.experiments import CacheWarning, ResultCache, cached_reports, evaluate_cached, run_ensemble
from lrbook.experiments import evaluations as ev_mod

RANKS = [0, 1, 2, 4, 8]
KW = dict(ranks=RANKS, n_shuffles=2, batch_size=16)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evalcache")
    cfg = tiny(g=(0.0, 0.9), seeds=(0, 1))
    res = run_ensemble(cfg, cache=folder, threads=1)
    return cfg, res, folder


@pytest.fixture
def cache(trained, tmp_path):
    """A copy of the trained networks' cache, without evaluations."""
    _, res, folder = trained
    (tmp_path / "networks").mkdir()
    for k in res.keys:
        (tmp_path / "networks" / f"{k}.npz").write_bytes((folder / "networks" / f"{k}.npz").read_bytes())
    return ResultCache(tmp_path)


def _same(a, b, rtol=1e-6):
    np.testing.assert_array_equal(a.networks, b.networks)
    np.testing.assert_array_equal(a.ranks, b.ranks)
    np.testing.assert_array_equal(a.functional_rank, b.functional_rank)
    for f in ("truncation_losses", "shuffle_losses", "L0", "loss_trained"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=rtol, err_msg=f)
    assert a.threshold == b.threshold and a.batch_size == b.batch_size


def test_equals_evaluate_result_and_is_read_back(trained, cache, monkeypatch):
    cfg, res, _ = trained
    task = cfg.make_task()
    ref = evaluate_result(res, task, **KW)
    first = evaluate_cached(res, task, cache=cache, **KW)
    _same(first, ref)
    files = sorted((cache.root / "evaluations").glob("*.npz"))
    assert len(files) == res.K and not list((cache.root / "evaluations").glob(".*.tmp"))

    def no_eval(*a, **k):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(ev_mod, "evaluate_result", no_eval)
    again = evaluate_cached(res, task, cache=cache, **KW)
    _same(again, first, rtol=0)
    # the threshold is applied to the stored losses, not part of the key
    loose = evaluate_cached(res, task, cache=cache, threshold=0.5, **KW)
    np.testing.assert_array_equal(loose.functional_rank,
                                  evaluate_result(res, task, threshold=0.5, **KW).functional_rank)


def test_only_missing_networks_are_evaluated(trained, cache, monkeypatch):
    cfg, res, _ = trained
    task = cfg.make_task()
    evaluate_cached(res, task, cache=cache, **KW)
    victim = cache.root / "evaluations" / f"{ev_mod.evaluation_key(res.keys[2], task, RANKS, 2, 16)}.npz"
    victim.unlink()
    calls = []
    real = ev_mod.evaluate_result

    def spy(result, task, **kw):
        calls.append(list(kw["networks"]))
        return real(result, task, **kw)

    monkeypatch.setattr(ev_mod, "evaluate_result", spy)
    out = evaluate_cached(res, task, cache=cache, **KW)
    assert calls == [[2]] and victim.is_file()
    _same(out, evaluate_result(res, task, **KW))


def test_other_parameters_are_other_keys(trained, cache):
    cfg, res, _ = trained
    task = cfg.make_task()
    key = ev_mod.evaluation_key(res.keys[0], task, RANKS, 2, 16)
    assert len(key) == 64
    assert key != ev_mod.evaluation_key(res.keys[1], task, RANKS, 2, 16)
    assert key != ev_mod.evaluation_key(res.keys[0], task, RANKS[:-1], 2, 16)
    assert key != ev_mod.evaluation_key(res.keys[0], task, RANKS, 1, 16)
    assert key != ev_mod.evaluation_key(res.keys[0], task, RANKS, 2, 32)
    # ranks without 0: R = 0 is still measured (the functional rank's reference), not returned
    out = evaluate_cached(res, task, cache=cache, ranks=[1, 3], n_shuffles=0, batch_size=16)
    ref = evaluate_result(res, task, ranks=[1, 3], n_shuffles=0, batch_size=16)
    _same(out, ref)
    assert out.shuffle_losses.shape == (res.K, 0)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_evaluation_is_reported_moved_and_recomputed(trained, cache, damage):
    cfg, res, _ = trained
    task = cfg.make_task()
    good = evaluate_cached(res, task, cache=cache, **KW)
    path = cache.root / "evaluations" / f"{ev_mod.evaluation_key(res.keys[1], task, RANKS, 2, 16)}.npz"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        i = data.find(b"truncation_losses.npy")
        j = data.find(b"\x93NUMPY", i) + 140                   # inside the array payload
        data[j] ^= 0xFF
    else:
        data = bytearray(b"not an npz file at all")
    path.write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match=str(path.name)):
        out = evaluate_cached(res, task, cache=cache, **KW)
    _same(out, good)
    assert path.is_file() and list(cache.corrupt.glob("evaluations-*.npz"))


def test_cached_reports_equal_reports_from_result(trained, cache):
    cfg, res, _ = trained
    task = cfg.make_task()
    ref = reports_from_result(res, task, **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine = cached_reports(res, task, cache=cache, **KW)
    assert len(mine) == len(ref) == res.K
    for a, b in zip(mine, ref):
        assert a.name == b.name and a.functional_rank == b.functional_rank
        np.testing.assert_allclose(a.truncation_losses, b.truncation_losses, rtol=1e-6)
        assert a.shuffle_loss_ratio == pytest.approx(b.shuffle_loss_ratio, rel=1e-6)
        assert a.convergence_epoch == b.convergence_epoch and a.norm_dW == pytest.approx(b.norm_dW)


def test_no_cache_is_plain_evaluate_result(trained, tmp_path, monkeypatch):
    cfg, res, _ = trained
    task = cfg.make_task()
    monkeypatch.setenv("LRBOOK_CACHE", str(tmp_path))       # where the default cache would write
    monkeypatch.chdir(tmp_path)
    _same(evaluate_cached(res, task, cache=False, **KW), evaluate_result(res, task, **KW))
    assert list(tmp_path.iterdir()) == []


def test_bad_input(trained, cache):
    cfg, res, _ = trained
    task = cfg.make_task()
    with pytest.raises(TypeError, match="result must be an EnsembleResult"):
        evaluate_cached(res.part(0), task, cache=cache)
    with pytest.raises(TypeError, match="task must be an lrbook Task"):
        evaluate_cached(res, "flipflop", cache=cache)
    with pytest.raises(ValueError, match=r"ranks\[1\] must be an integer in 0..16"):
        evaluate_cached(res, task, ranks=[0, 17], cache=cache)
    with pytest.raises(ValueError, match="n_shuffles must be an integer >= 0"):
        evaluate_cached(res, task, n_shuffles=-1, cache=cache)
    ev = evaluate_result(res, task, networks=[0, 1], **KW)
    with pytest.raises(ValueError, match="evaluation covers networks"):
        reports_from_result(res, task, evaluation=ev)
    with pytest.raises(ValueError, match="evaluation used threshold"):
        reports_from_result(res, task, networks=[0, 1], threshold=0.1, evaluation=ev)
