"""The main training loop gives bit-identical numbers for the same seeds across refactors.

``tests/data/main_loop_pins.json`` holds numbers (as float hex strings) written by the
training loop of lrbook 195d2f3, before the loop absorbed the training variants
(low-rank factors, per-parameter learning rates), and rewritten once since, when
training began to flush subnormal floats to zero (an intended change of values below
1.2e-38 only: the pinned sums moved by at most 5e-7, the last losses not at all). Every task trains two networks
(g = 0 and 0.9, seeds 0 and 1) for a few epochs on one thread; the last loss and the
sums of the trained weights must match to the last bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrbook.tasks import make_task
from lrbook.training import model_for, train

PINS = json.loads((Path(__file__).parent / "data" / "main_loop_pins.json").read_text())
SIZES = {"flipflop": (32, 6), "mante": (24, 4), "romo": (16, 3), "fixedpoint": (20, 5), "cosine": (20, 5)}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_main_loop_is_bit_identical_to_the_pinned_run(name):
    N, epochs = SIZES[name]
    task = make_task(name)
    res = train(model_for(task, N, [0.0, 0.9], [0, 1]), task, epochs, threads=1)
    got = {"loss_last": res.loss[-1],
           "W_sum": res.W.astype(np.float64).sum((1, 2)),
           "W_in_sum": res.W_in.astype(np.float64).sum((1, 2)),
           "W_out_sum": res.W_out.astype(np.float64).sum((1, 2))}
    for what, values in got.items():
        assert [float(x).hex() for x in values] == PINS[name][what], (name, what)


def test_pins_cover_every_task_and_distinguish_networks():
    """The pins are not degenerate: two networks differ, and each task's numbers differ."""
    assert set(PINS) == set(SIZES)
    for name, pin in PINS.items():
        assert pin["loss_last"][0] != pin["loss_last"][1], name
        assert pin["W_sum"][0] != pin["W_sum"][1], name
