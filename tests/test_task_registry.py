"""Tasks describe themselves: a new task is one class and one ``register`` call (issue 16).

A small task defined here, registered in-process, trains, goes through the result
cache, is plotted and runs from the command line without any other module knowing
about it; it is unregistered after each test. Classes with missing or invalid facts
are refused with an error that names the fact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from lrbook import cli, engine, models, training
from lrbook.tasks import (
    TASKS,
    Batch,
    Task,
    TaskRegistrationError,
    make_task,
    register,
    registry,
    task_names,
    unregister,
)


@dataclass(frozen=True)
class Sign(Task):
    """Sign memory, a test task: report the sign of a brief pulse after a delay (a one-channel
    cousin of the flip-flop of Sussillo & Barak, 2013, *Neural Computation* 25:626)."""

    name: ClassVar[str] = "sign"
    paper_epochs: ClassVar[int] = 4
    paper_N: ClassVar[int] = 12
    g_grid: ClassVar[tuple[float, ...]] = (0.0, 0.9)
    input_channels: ClassVar[tuple[str, ...]] = ("pulse",)
    output_channels: ClassVar[tuple[str, ...]] = ("reported sign",)
    sweep_scales: ClassVar = {"book": (3, (0.0, 0.9)), "ci": (2, (0.0,))}
    t_max: float = 6.0

    @property
    def timing(self) -> dict:
        """Pulse 1, delay 2, response 3 (tau)."""
        return {"pulse": 1.0, "delay": 2.0, "response": 3.0, "trial": self.t_max}

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:
        T, r, sign = self.n_steps, self.steps(3.0), rng.choice([-1.0, 1.0], size=(B, 1))
        u, target, mask = np.zeros((B, T, 1)), np.zeros((B, T, 1)), np.zeros((B, T, 1))
        u[:, :self.steps(1.0), 0] = sign
        target[:, T - r:, 0], mask[:, T - r:, 0] = 0.5 * sign, 1.0
        return Batch(u, target, mask)


@pytest.fixture
def sign():
    """``Sign`` registered for one test, then removed (other tests see the built-in tasks only)."""
    before = dict(TASKS)
    register(Sign)
    yield Sign
    unregister("sign")
    assert TASKS == before


def test_the_builtin_tasks_are_registered_with_their_facts():
    assert list(TASKS) == ["flipflop", "mante", "romo", "fixedpoint", "cosine"]
    assert task_names(optimizer="sgd") == task_names(phi="linear") == ("fixedpoint", "cosine")
    assert task_names(sweep=True) == ("flipflop", "mante", "romo")
    assert {n: c.paper_epochs for n, c in TASKS.items()} == {
        "flipflop": 1000, "mante": 2000, "romo": 6000, "fixedpoint": 200, "cosine": 1000}
    assert make_task("flipflop", n_bits=3).output_channels == ("bit 1", "bit 2", "bit 3")
    # the registry's own (torch-free) lists of choices agree with the layers that use them
    assert registry.OPTIMIZERS == training.OPTIMIZERS
    assert registry.PHIS == engine.PHIS
    assert registry.PARAMS == models.PARAMS


def test_the_registry_loads_no_torch():
    code = "import sys, lrbook.tasks; assert 'torch' not in sys.modules, 'importing the tasks loaded torch'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_a_registered_task_trains_with_its_own_facts(sign):
    from lrbook.training import default_batch_size, default_lr, default_optimizer, model_for, train

    task = make_task("sign")
    assert default_optimizer(task) == "adam" and default_batch_size(task) == 32
    np.testing.assert_array_equal(default_lr(task, 12, [0.0, 0.9]), [0.05 / 12] * 2)
    model = model_for(task, 12, [0.0, 0.9], [0, 1])
    assert (model.phi, model.n_in, model.n_out) == ("tanh", 1, 1)
    res = train(model, task, 3)
    assert res.loss.shape == (3, 2) and np.all(np.isfinite(res.loss))
    assert res.config["optimizer"] == "adam" and res.config["phi"] == "tanh"


def test_a_registered_task_goes_through_the_cache_and_the_presets(sign, tmp_path, monkeypatch):
    from lrbook.experiments import NONLINEAR, EnsembleConfig, nonlinear_sweep, run_ensemble
    from lrbook.experiments import run as run_mod

    cfg = EnsembleConfig("sign", N=12, g=(0.0, 0.9), seeds=(0,), epochs=3)
    assert (cfg.phi, cfg.optimizer, cfg.batch_size) == ("tanh", "adam", 32)
    first = run_ensemble(cfg, cache=tmp_path)
    assert first.n_trained == 2
    monkeypatch.setattr(run_mod, "train", lambda *a, **k: pytest.fail("trained again instead of reading"))
    again = run_ensemble(cfg, cache=tmp_path)
    assert again.n_trained == 0 and again.from_cache.all()
    np.testing.assert_array_equal(again.W, first.W)
    np.testing.assert_array_equal(again.loss, first.loss)
    # its sweep_scales put it in the Figure 2 presets
    assert nonlinear_sweep("ci", tasks="sign")["sign"].epochs == 2
    assert nonlinear_sweep("paper", tasks="sign")["sign"].g == (0.0, 0.9)
    assert NONLINEAR["book"]["epochs"]["sign"] == 3 and "sign" in NONLINEAR["paper"]["g"]


def test_a_registered_task_is_plotted_with_its_channel_names(sign):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lrbook.plotting.nonlinear import plot_network_trials
    from lrbook.training import model_for

    task = make_task("sign")
    batch = task.batch(2, rng=0)
    z = model_for(task, 12, 0.5).forward(batch.u)[0].detach().numpy()
    fig = plot_network_trials(task, batch, z, indices=(0, 1))
    labels = {t.get_text() for ax in fig.axes for leg in [ax.get_legend()] if leg for t in leg.get_texts()}
    assert "target reported sign" in labels and "$z$ reported sign" in labels
    assert any(line.get_label() == "pulse" for ax in fig.axes for line in ax.get_lines())
    plt.close(fig)


def test_a_registered_task_runs_from_the_command_line(sign, capsys, tmp_path):
    code = cli.main(["train", "--help"])
    assert code == 0 and "sign" in capsys.readouterr().out
    code = cli.main(["train", "sign", "--g", "0", "0.9", "--json"])     # the task's paper N and epochs
    out, err = capsys.readouterr()
    assert code == 0, err
    records = json.loads(out)
    assert [(r["task"], r["N"], r["epochs"]) for r in records] == [("sign", 12, 4)] * 2
    code = cli.main(["train", "sign", "--zhat", "1"])
    assert code == 2 and "--zhat applies only to the fixedpoint task" in capsys.readouterr().err
    code = cli.main(["sweep", "--tasks", "sign", "--scale", "ci", "--dry-run", "--cache", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 networks" in out and "(sign)" in out


def test_unregistered_tasks_are_unknown_everywhere():
    assert "sign" not in TASKS
    with pytest.raises(ValueError, match="task must be one of"):
        make_task("sign")
    assert cli.main(["train", "sign"]) == 2
    with pytest.raises(KeyError, match="no task is registered"):
        unregister("sign")


# --------------------------------------------------------------------------- refusals
def _variant(base: type = Sign, decorate: bool = True, **attrs) -> type:
    """A subclass of ``base`` named ``sign_variant`` with some facts changed (``name=None``: no name)."""
    ns = {"__doc__": "A variant of the sign task (Sussillo & Barak, 2013).", "name": "sign_variant", **attrs}
    if ns["name"] is None:
        del ns["name"]
    cls = type("Variant", (base,), ns)
    return dataclass(frozen=True)(cls) if decorate else cls


def _too_short(self) -> None:
    raise ValueError("t_max too short")


@pytest.mark.parametrize("make, fact", [
    (lambda: _variant(base=Task, name=None), "name"),
    (lambda: _variant(name="task"), "name"),
    (lambda: _variant(name="Sign Task"), "name"),
    (lambda: _variant(optimizer="rmsprop"), "optimizer"),
    (lambda: _variant(phi="sigmoid"), "phi"),
    (lambda: _variant(paper_epochs=None), "paper_epochs"),
    (lambda: _variant(paper_epochs=0), "paper_epochs"),
    (lambda: _variant(paper_N=2.5), "paper_N"),
    (lambda: _variant(g_grid=()), "g_grid"),
    (lambda: _variant(g_grid=(0.9, 0.0)), "g_grid"),
    (lambda: _variant(g_grid=(0.0, 1.5), g_limit=1.0), "g_limit"),
    (lambda: _variant(input_channels=()), "input_channels"),
    (lambda: _variant(output_channels=("a", "b")), "output_channels"),
    (lambda: _variant(x0="random"), "x0"),
    (lambda: _variant(default_trained=("W", "bias")), "default_trained"),
    (lambda: _variant(sweep_scales={"ci": (2, (0.0,))}), "sweep_scales"),
    (lambda: _variant(sweep_scales={"book": (0, (0.0,)), "ci": (2, (0.0,))}), "sweep_scales"),
    (lambda: _variant(optimizer="sgd"), "paper_lr"),
    (lambda: _variant(paper_lr=lambda self, N, g: np.zeros(np.shape(np.atleast_1d(g)))), "paper_lr"),
    (lambda: _variant(decorate=False), "@dataclass"),
    (lambda: _variant(__doc__=None), "docstring"),
    (lambda: _variant(__doc__="A variant of the sign task, citing nobody."), "cites the paper"),
    (lambda: _variant(_validate=_too_short), "constructible"),
    (lambda: _variant(_generate=Task._generate), "_generate"),
    (lambda: _variant(n_out=2, output_channels=("a", "b")), "shapes"),
])
def test_registering_a_class_with_a_missing_or_invalid_fact_is_refused(make, fact):
    cls = make()
    with pytest.raises(TaskRegistrationError, match=fact) as info:
        register(cls)
    assert "cannot register task class 'Variant'" in str(info.value)
    assert "sign_variant" not in TASKS and len(TASKS) == 5


def test_registering_refuses_non_tasks_and_taken_names(sign):
    with pytest.raises(TaskRegistrationError, match="subclass of lrbook.tasks.Task"):
        register(dict)
    with pytest.raises(TypeError):                         # TaskRegistrationError is a TypeError
        register(Task)
    clash = _variant(name="flipflop")
    with pytest.raises(TaskRegistrationError, match="'flipflop' is taken by lrbook.tasks.flipflop.FlipFlop"):
        register(clash)
    assert register(Sign) is Sign                          # registering again: nothing changes
    other = _variant(name="sign")
    register(other, replace=True)
    assert TASKS["sign"] is other
    register(Sign, replace=True)


def test_register_works_as_a_decorator():
    @register
    @dataclass(frozen=True)
    class Echo(Sign):
        """Echo of the sign task (Sussillo & Barak, 2013)."""

        name: ClassVar[str] = "echo"

    try:
        assert TASKS["echo"] is Echo and make_task("echo").name == "echo"
        assert isinstance(Echo.sweep_scales, type(Task.sweep_scales))     # frozen
    finally:
        unregister("echo")
