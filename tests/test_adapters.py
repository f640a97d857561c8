"""Adapters for torch.nn.RNN / GRU / LSTM: blocks, gate order (PyTorch's documented equations), round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lrbook.analysis import (
    analyse_gates,
    gate_names,
    input_weights,
    module_loss_fn,
    recurrent_weights,
    set_recurrent_weight,
    split_gates,
    with_recurrent_weight,
)

torch.manual_seed(0)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _step(module, x, h, c=None):
    """One step of layer 0 from the documented equations, using only the adapters' blocks."""
    Wh, Wi = recurrent_weights(module), input_weights(module)
    bh, bi = split_gates(module, "bias_hh"), split_gates(module, "bias_ih")
    pre = {k: Wi[k] @ x + bi[k] + Wh[k] @ h + bh[k] for k in Wh if k.startswith("l0") and "reverse" not in k}
    if isinstance(module, torch.nn.LSTM):
        i, f, g, o = (_sig(pre["l0.i"]), _sig(pre["l0.f"]), np.tanh(pre["l0.g"]), _sig(pre["l0.o"]))
        c1 = f * c + i * g
        return o * np.tanh(c1)
    if isinstance(module, torch.nn.GRU):
        r, z = _sig(pre["l0.r"]), _sig(pre["l0.z"])
        n = np.tanh(Wi["l0.n"] @ x + bi["l0.n"] + r * (Wh["l0.n"] @ h + bh["l0.n"]))
        return (1 - z) * n + z * h
    return np.tanh(pre["l0"])


@pytest.mark.parametrize("cls, gates", [(torch.nn.RNN, ("",)), (torch.nn.GRU, ("r", "z", "n")),
                                        (torch.nn.LSTM, ("i", "f", "g", "o"))])
def test_gate_order_matches_pytorch_equations(cls, gates):
    H, n_in = 7, 3
    mod = cls(n_in, H, num_layers=1, batch_first=True).double()
    assert gate_names(mod) == gates
    x = np.random.default_rng(0).standard_normal(n_in)
    h0 = np.random.default_rng(1).standard_normal(H)
    c0 = np.random.default_rng(2).standard_normal(H)
    xt = torch.tensor(x)[None, None]
    with torch.no_grad():
        if cls is torch.nn.LSTM:
            out, _ = mod(xt, (torch.tensor(h0)[None, None], torch.tensor(c0)[None, None]))
        else:
            out, _ = mod(xt, torch.tensor(h0)[None, None])
    np.testing.assert_allclose(_step(mod, x, h0, c0), out[0, 0].numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls, G", [(torch.nn.RNN, 1), (torch.nn.GRU, 3), (torch.nn.LSTM, 4)])
def test_blocks_are_the_stacked_rows_of_each_layer_and_direction(cls, G):
    H = 5
    mod = cls(2, H, num_layers=2, bidirectional=True)
    W = recurrent_weights(mod)
    names = gate_names(mod)
    prefixes = ["l0", "l0_reverse", "l1", "l1_reverse"]
    expect = [p if g == "" else f"{p}.{g}" for p in prefixes for g in names]
    assert list(W) == expect
    for p in prefixes:
        full = getattr(mod, f"weight_hh_{p}").detach().double().numpy()
        assert full.shape == (G * H, H)
        for i, g in enumerate(names):
            key = p if g == "" else f"{p}.{g}"
            assert W[key].shape == (H, H) and W[key].dtype == np.float64
            np.testing.assert_array_equal(W[key], full[i * H:(i + 1) * H])
    assert input_weights(mod)[expect[-1]].shape == (H, 2 * H)          # layer 1 reads both directions


def test_set_and_copy_round_trip_only_touch_one_block():
    mod = torch.nn.LSTM(3, 6, num_layers=2)
    before = recurrent_weights(mod)
    new = np.arange(36.0).reshape(6, 6)
    copy = with_recurrent_weight(mod, "l1.f", new)
    after_copy = recurrent_weights(copy)
    np.testing.assert_array_equal(after_copy["l1.f"], new)
    for k in before:
        np.testing.assert_array_equal(recurrent_weights(mod)[k], before[k])     # original untouched
        if k != "l1.f":
            np.testing.assert_array_equal(after_copy[k], before[k])
    set_recurrent_weight(mod, "l0.g", torch.ones(6, 6))
    np.testing.assert_array_equal(recurrent_weights(mod)["l0.g"], 1.0)
    assert mod.weight_hh_l0.requires_grad
    with pytest.raises(ValueError, match="key must be one of l0.i, l0.f"):
        set_recurrent_weight(mod, "l0.x", new)
    with pytest.raises(ValueError, match=r"W must have shape \(6, 6\)"):
        set_recurrent_weight(mod, "l0.i", np.zeros((5, 5)))
    with pytest.raises(TypeError, match="torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM"):
        recurrent_weights(torch.nn.Linear(3, 3))
    proj = torch.nn.LSTM(3, 6, proj_size=2)
    assert recurrent_weights(proj)["l0.i"].shape == (6, 2)


def test_analyse_gates_of_a_trained_gru_with_module_loss():
    torch.manual_seed(1)
    gru = torch.nn.GRU(2, 12, batch_first=True)
    readout = torch.nn.Linear(12, 1)
    model = torch.nn.ModuleDict({"gru": gru, "readout": readout})
    x = torch.randn(16, 10, 2)
    y = x[:, :, :1].cumsum(1)

    def evaluate(m):
        out, _ = m["gru"](x)
        return torch.mean((m["readout"](out) - y) ** 2).item()

    before = recurrent_weights(gru)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(15):
        opt.zero_grad()
        out, _ = gru(x)
        loss = torch.mean((readout(out) - y) ** 2)
        loss.backward()
        opt.step()
    after = recurrent_weights(gru)
    trained_loss = evaluate(model)
    fn = module_loss_fn(model, gru, "l0.n", evaluate)
    assert fn(after["l0.n"]) == pytest.approx(trained_loss, rel=1e-6)
    assert fn(before["l0.n"]) != pytest.approx(trained_loss, rel=1e-6)
    np.testing.assert_array_equal(recurrent_weights(gru)["l0.n"], after["l0.n"])   # restored
    reports = analyse_gates(before, after, {"l0.n": fn}, ranks=range(0, 4), n_shuffles=1)
    assert set(reports) == {"l0.r", "l0.z", "l0.n"}
    rep = reports["l0.n"]
    assert rep.truncation_losses[-1] != rep.truncation_losses[0]
    assert rep.loss_trained == pytest.approx(trained_loss, rel=1e-6)
    assert reports["l0.r"].truncation_losses is None
    np.testing.assert_allclose(rep.singular_values,
                               np.linalg.svd(after["l0.n"] - before["l0.n"], compute_uv=False), rtol=1e-10)
    json.dumps({k: r.to_dict() for k, r in reports.items()}, allow_nan=False)
    with pytest.raises(ValueError, match="before and after must have the same keys"):
        analyse_gates(before, {"l0.r": after["l0.r"]})
