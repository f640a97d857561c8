"""The lrbook command line: in-process main() and the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lrbook
from lrbook import cli

KEYS = ["task", "g", "N", "seed", "epochs", "L0", "final_loss", "convergence_epoch", "norm_dW",
        "singular_values", "truncation_losses", "functional_rank", "shuffle_loss_ratio", "seconds"]
SCRIPT = Path(sys.executable).parent / "lrbook"
SMALL = ["--neurons", "12", "--epochs", "3", "--threads", "1"]


def _run(capsys, argv):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _check_records(records, *, n_sv=10, n_trunc=11):
    for r in records:
        assert list(r) == KEYS
        assert isinstance(r["task"], str) and isinstance(r["g"], float) and isinstance(r["N"], int)
        assert isinstance(r["seed"], int) and isinstance(r["epochs"], int)
        for k in ("L0", "final_loss", "norm_dW", "shuffle_loss_ratio", "seconds"):
            assert isinstance(r[k], float) and r[k] >= 0, k
        assert isinstance(r["convergence_epoch"], int) and r["convergence_epoch"] >= -1
        fr = r["functional_rank"]
        assert fr is None or (isinstance(fr, int) and 0 <= fr <= r["N"])
        sv = r["singular_values"]
        assert len(sv) == n_sv and all(isinstance(s, float) for s in sv)
        assert all(a >= b for a, b in zip(sv, sv[1:]))
        assert len(r["truncation_losses"]) == n_trunc
        assert all(isinstance(v, float) and v >= 0 for v in r["truncation_losses"])
        assert r["final_loss"] < r["L0"]                    # a few Adam steps already help


def test_train_json_in_process(capsys):
    code, out, err = _run(capsys, ["train", "flipflop", "--g", "0", "0.5", "--seeds", "2", "--seed", "3",
                                   "--json", *SMALL])
    assert code == 0, err
    records = json.loads(out)
    assert [(r["g"], r["seed"]) for r in records] == [(0.0, 3), (0.0, 4), (0.5, 3), (0.5, 4)]
    _check_records(records)
    assert all(r["task"] == "flipflop" and r["N"] == 12 and r["epochs"] == 3 for r in records)
    # the same network trained again gives the same numbers (seeded), apart from the time
    code, out2, _ = _run(capsys, ["train", "flipflop", "--g", "0.5", "--seed", "4", "--json", *SMALL])
    again = json.loads(out2)[0]
    for k in ("L0", "final_loss", "norm_dW", "singular_values", "truncation_losses", "shuffle_loss_ratio"):
        assert again[k] == pytest.approx(records[3][k], rel=1e-5), k


def test_fixedpoint_with_zhat_and_small_N(capsys):
    code, out, err = _run(capsys, ["train", "fixedpoint", "--zhat", "0.5", "--g", "0.3", "--json",
                                   "--neurons", "6", "--epochs", "4", "--threads", "1"])
    assert code == 0, err
    (r,) = json.loads(out)
    _check_records([r], n_sv=6, n_trunc=7)                 # N < 10: all N singular values, R = 0..N


def test_phi_option(capsys):
    code, out, err = _run(capsys, ["train", "flipflop", "--phi", "relu", "--g", "0.5", "--json", *SMALL])
    assert code == 0, err
    (relu,) = json.loads(out)
    _check_records([relu])
    code, out, err = _run(capsys, ["train", "flipflop", "--phi", "tanh", "--g", "0.5", "--json", *SMALL])
    (tanh,) = json.loads(out)
    assert relu["L0"] != pytest.approx(tanh["L0"], rel=1e-3)    # another network, same seed


def test_table_output(capsys):
    code, out, err = _run(capsys, ["train", "romo", *SMALL])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["task", "g", "N"] and lines[1].split()[0] == "romo"
    assert len(lines) == 3 and err == ""


@pytest.mark.parametrize("argv, needle", [
    (["train", "nosuchtask"], "invalid choice"),
    (["train", "flipflop", "--g", "-0.5"], "g must be a finite number >= 0"),
    (["train", "flipflop", "--g", "abc"], "g must be a finite number >= 0; got 'abc'"),
    (["train", "flipflop", "--g", "nan"], "g must be a finite number"),
    (["train", "flipflop", "--neurons", "0"], "neurons must be an integer >= 1"),
    (["train", "flipflop", "--epochs", "0"], "epochs must be an integer >= 1"),
    (["train", "flipflop", "--epochs", "1.5"], "epochs must be an integer >= 1; got '1.5'"),
    (["train", "flipflop", "--seeds", "0"], "seeds must be an integer >= 1"),
    (["train", "flipflop", "--seed", "-1"], "seed must be an integer >= 0"),
    (["train", "flipflop", "--lr", "0"], "lr must be a finite number > 0"),
    (["train", "flipflop", "--lr", "inf"], "lr must be a finite number > 0"),
    (["train", "flipflop", "--zhat", "1"], "--zhat applies only to the fixedpoint task"),
    (["train", "fixedpoint", "--g", "1.0"], "g must be in [0, 1) for fixedpoint"),
    (["train", "flipflop", "--unknown"], "unrecognized arguments"),
    (["train", "flipflop", "--phi", "elu"], "argument --phi: invalid choice: 'elu'"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = _run(capsys, argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert needle in err


def test_library_errors_become_one_line(capsys, monkeypatch):
    import lrbook.training

    def bad_train(*a, **k):
        raise ValueError("batch_size must be an integer >= 1; got 0")

    monkeypatch.setattr(lrbook.training, "train", bad_train)
    code, out, err = _run(capsys, ["train", "flipflop", *SMALL])
    assert code == 2 and err.strip() == "lrbook train: error: batch_size must be an integer >= 1; got 0"


def test_divergence_exits_3_naming_the_epoch(capsys):
    code, out, err = _run(capsys, ["train", "fixedpoint", "--g", "0.5", "--lr", "1000", "--neurons", "8",
                                   "--epochs", "20", "--threads", "1"])
    assert code == 3 and out == ""
    assert len(err.strip().splitlines()) == 1 and "diverged at epoch" in err and "Traceback" not in err


def test_version_in_process(capsys):
    code, out, _ = _run(capsys, ["--version"])
    assert code == 0 and out.strip() == f"lrbook {lrbook.__version__}"


def test_a_command_registered_in_COMMANDS_is_dispatched(capsys, monkeypatch):
    def add_hello_command(sub):
        p = sub.add_parser("hello")
        p.add_argument("--times", type=cli.int_arg("times", lo=1), default=1)
        p.set_defaults(func=lambda args: print("hi " * args.times) or 7)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, add_hello_command])
    code, out, _ = _run(capsys, ["hello", "--times", "2"])
    assert code == 7 and out.split() == ["hi", "hi"]
    code, _, err = _run(capsys, ["hello", "--times", "0"])
    assert code == 2
    assert err.strip() == "lrbook hello: error: argument --times: times must be an integer >= 1; got 0"
    code, out, _ = _run(capsys, ["train", "--help"])
    assert code == 0 and "functional_rank" in out


# --------------------------------------------------------------------------- console script
@pytest.fixture(scope="module")
def script():
    if not SCRIPT.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e",
                        str(Path(__file__).resolve().parents[1])], check=True)
    assert SCRIPT.exists(), "console script lrbook is not installed"
    return str(SCRIPT)


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def test_console_script_json_and_errors(script):
    p = subprocess.run([script, "train", "mante", "--g", "0.9", "--json", *SMALL], capture_output=True,
                       text=True, env=_env(), timeout=300)
    assert p.returncode == 0, p.stderr
    records = json.loads(p.stdout)
    assert len(records) == 1 and records[0]["task"] == "mante"
    _check_records(records)
    bad = subprocess.run([script, "train", "flipflop", "--neurons", "-3"], capture_output=True, text=True,
                         env=_env(), timeout=300)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == ["lrbook train: error: argument --neurons/-N: neurons must be "
                                               "an integer >= 1; got -3"]
    v = subprocess.run([script, "--version"], capture_output=True, text=True, env=_env(), timeout=300)
    assert v.returncode == 0 and v.stdout.strip() == f"lrbook {lrbook.__version__}"
