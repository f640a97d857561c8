"""``lrbook fixed-points`` and ``lrbook times``: JSON contracts and bad input."""

from __future__ import annotations

import json

import pytest

from lrbook.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fixed_points_json_contract_and_cache_reuse(capsys, tmp_path, monkeypatch):
    args = ("fixed-points", "flipflop", "--g", "0.5", "-N", "16", "--epochs", "20", "--seed", "1",
            "--cache", str(tmp_path), "--json")
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    d = json.loads(out)
    assert {"task", "g", "N", "seed", "fixed_points", "slow_points"} <= set(d)
    assert (d["task"], d["g"], d["N"], d["seed"]) == ("flipflop", 0.5, 16, 1)
    assert isinstance(d["slow_points"], int) and d["fixed_points"]
    for p in d["fixed_points"]:
        assert set(p) == {"readout", "stable", "q", "max_real_eigenvalue", "n_unstable"}
        assert len(p["readout"]) == 2 and isinstance(p["stable"], bool)
        assert p["stable"] == (p["n_unstable"] == 0) == (p["max_real_eigenvalue"] < 0)
        assert 0 <= p["q"] < 1e-12
    assert list((tmp_path / "networks").glob("*.npz")), "the network is cached"
    from lrbook.experiments import run as run_mod

    def no_training(*a, **k):
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(run_mod, "train", no_training)
    code2, out2, err2 = _run(capsys, *args)             # read back from the cache: same answer
    assert code2 == 0, err2
    assert json.loads(out2) == d


@pytest.mark.parametrize("argv, name", [
    (["fixed-points", "cosine"], "TASK"),
    (["fixed-points", "flipflop", "-N", "1"], "--neurons"),
    (["fixed-points", "flipflop", "-N", "100000"], "--neurons"),
    (["fixed-points", "flipflop", "--g", "nan"], "g"),
    (["fixed-points", "flipflop", "--g", "-1"], "g"),
    (["fixed-points", "flipflop", "--seed", "-3"], "seed"),
    (["fixed-points", "flipflop", "--epochs", "0"], "epochs"),
    (["fixed-points", "flipflop", "--cache", ""], "--cache"),
    (["times", "--scale", "huge"], "--scale"),
    (["times", "--cache", ""], "--cache"),
])
def test_bad_input_exits_2_with_one_line_naming_the_parameter(capsys, argv, name):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and not out
    assert err.count("\n") == 1 and name in err and "Traceback" not in err


def test_times_reports_every_preset_and_scale(capsys, tmp_path):
    code, out, err = _run(capsys, "times", "--cache", str(tmp_path), "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert {(r["preset"], r["scale"]) for r in rows} == {
        (p, s) for p in ("nonlinear", "nscaling") for s in ("ci", "book", "paper")}
    assert all(r["cached"] == 0 and r["seconds"] == 0 for r in rows)
    code, out, _ = _run(capsys, "times", "--cache", str(tmp_path), "--scale", "ci")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["preset", "scale"] and len(out.splitlines()) == 3
