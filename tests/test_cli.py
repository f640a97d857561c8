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


# --------------------------------------------------------------------------- issue 20: refused before training
@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything is trained."""
    import lrbook.training
    from lrbook.experiments import run as run_mod

    def forbidden(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(lrbook.training, "train", forbidden)
    monkeypatch.setattr(run_mod, "train", forbidden)


@pytest.mark.parametrize("argv, needle", [
    # item 1: sizes, seeds and network counts beyond what the machine or the seeding accepts
    (["train", "flipflop", "-N", "10000000", "--epochs", "1"], "--neurons=10000000"),
    (["train", "flipflop", "-N", "16", "--epochs", "5", "--seed", "100000000000000000000000"],
     "argument --seed: seed must be an integer >= 0 and <= 9223372036854775807"),
    (["train", "romo", "-N", "16", "--epochs", "5", "--seeds", "100000000"],
     "argument --seeds: seeds must be an integer >= 1 and <= 10000; got 100000000"),
    (["train", "flipflop", "--g", "0", "1", "2", "--seeds", "5000"], "--g values x --seeds must be at most 10000"),
    (["train", "flipflop", "-N", "16", "--epochs", "100000000000000"], "--epochs=100000000000000"),
    (["train", "flipflop", "--seed", "9223372036854775807", "--seeds", "2"], "--seed + --seeds - 1"),
    (["train", "flipflop", "--threads", "1000000000"], "threads must be an integer >= 1 and <= 1024"),
    # item 3: finite in float64, not in float32
    (["train", "flipflop", "--g", "1e308", "-N", "16", "--epochs", "2"], "g must be <= 3.403e+37"),
    (["train", "fixedpoint", "--zhat", "1e308", "-N", "16", "--epochs", "2"],
     "z_hat must be representable in float32"),
    (["train", "flipflop", "--lr", "1e39"], "lr must be a finite number > 0 and <= 3.40282e+38"),
    # item 6
    (["sweep", "--cache", ""], "--cache must be a non-empty folder path; got ''"),
    (["sweep", "--cache", "   "], "--cache must be a non-empty folder path"),
    (["sweep", "--workers", "100000"], "--workers must be an integer <= 1024"),
    (["sweep", "--max-ensemble", "100000"], "--max-ensemble must be an integer <= 10000"),
])
def test_bad_sizes_and_values_exit_2_before_training(capsys, no_training, argv, needle):
    code, out, err = _run(capsys, argv)
    assert code == 2, err
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert needle in err


def test_memory_error_says_how_much_is_needed_and_available(capsys, no_training):
    code, _, err = _run(capsys, ["train", "flipflop", "-N", "10000000", "--epochs", "1"])
    assert code == 2
    assert "needs about" in err and "PiB of memory" in err and "is available on cpu" in err
    assert "reduce --neurons" in err


def test_dry_run_checks_everything_and_trains_nothing(capsys, no_training):
    code, out, err = _run(capsys, ["train", "flipflop", "--g", "0", "0.5", "--seeds", "3", "--dry-run"])
    assert code == 0, err
    assert "6 networks of N=256" in out and "dry run: nothing trained" in out and "available" in out


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_networks_are_trained_and_analysed(capsys, n):
    """Item 2: the analysis clips its ranks (and r_align) to what N allows."""
    code, out, err = _run(capsys, ["train", "flipflop", "-N", str(n), "--epochs", "2", "--json", "--threads", "1"])
    assert code == 0, err
    (r,) = json.loads(out)
    assert r["N"] == n and len(r["singular_values"]) == n and len(r["truncation_losses"]) == n + 1


def test_sweep_help_says_what_an_interruption_loses(capsys):
    """Item 7: resumption is per ensemble, and the help says so."""
    code, out, _ = _run(capsys, ["sweep", "--help"])
    assert code == 0
    text = " ".join(out.split())
    assert "loses at most the ensemble in progress" in text and "Exit codes" in text


def test_sweep_with_a_diverging_network_exits_3_names_it_and_reruns_nothing(capsys, monkeypatch, tmp_path):
    """Item 8: a linear network at g = 6 beside two healthy ones, through ``lrbook sweep``."""
    from lrbook import cli_sweep as sweep_cli
    from lrbook.experiments import EnsembleConfig, ResultCache
    from lrbook.experiments import run as run_mod
    from lrbook.training import train

    calls = []

    def counted(model, *a, **k):
        calls.append(model.K)
        return train(model, *a, **k)

    monkeypatch.setattr(run_mod, "train", counted)
    cfg = EnsembleConfig("flipflop", N=16, g=(0.0, 0.5, 6.0), seeds=(0,), epochs=3, phi="linear")
    monkeypatch.setitem(sweep_cli.PRESETS, "diverge", lambda scale, tasks=None: {"flipflop": cfg})
    argv = ["sweep", "--preset", "diverge", "--cache", str(tmp_path), "--no-progress"]
    code, out, err = _run(capsys, argv)
    assert code == cli.EXIT_DIVERGED == 3 and calls == [3]
    assert "3 networks, 3 trained" in out and "1 diverged" in out
    assert err.strip().splitlines() == ["lrbook sweep: diverged: flipflop N=16 g=6 seed=0: diverged at epoch 0 "
                                        "(stored as diverged; try a smaller g or lr)"]
    assert len(ResultCache(tmp_path).keys()) == 3                # the healthy ones and the diverged one
    code, out, err = _run(capsys, [*argv, "--json"])             # a rerun trains nothing, reports again
    assert code == 3 and calls == [3]
    report = json.loads(out)
    assert report["n_trained"] == 0 and report["n_cached"] == 3 and report["n_diverged"] == 1
    (bad,) = [n for n in report["networks"] if n["diverged_epoch"] >= 0]
    assert bad["g"] == 6.0 and report["diverged"] == [bad["key"]] and "g=6 seed=0" in err


def test_sweep_cache_that_is_a_file_exits_2_before_training(capsys, no_training, tmp_path):
    """Item 5 through the CLI: an unusable cache is found before anything is trained."""
    f = tmp_path / "file"
    f.write_text("not a folder")
    code, out, err = _run(capsys, ["sweep", "--scale", "ci", "--tasks", "flipflop", "--cache", str(f),
                                   "--no-progress"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "is a file, not a folder" in err
