r"""Recurrent weight matrices of PyTorch's ``nn.RNN``, ``nn.GRU`` and ``nn.LSTM``, per gate and layer.

PyTorch stacks the gates of layer ``k`` in one parameter ``weight_hh_l{k}`` of shape
``(G * H, H)`` (``G`` gates, hidden size ``H``), in the documented order

- ``nn.RNN``: one block, :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`;
- ``nn.GRU``: :math:`(W_{hr} | W_{hz} | W_{hn})` - reset, update, new;
- ``nn.LSTM``: :math:`(W_{hi} | W_{hf} | W_{hg} | W_{ho})` - input, forget, cell, output;

and ``weight_hh_l{k}_reverse`` for the backward direction of a bidirectional
module. Each block maps the hidden state to the gate's pre-activation, so
``block[i, j]`` is the weight from unit ``j`` to unit ``i`` - lrbook's convention for
``W``. Snapshot before and after training and analyse each block:

>>> import torch
>>> from lrbook.analysis import analyse, recurrent_weights
>>> lstm = torch.nn.LSTM(input_size=3, hidden_size=16, num_layers=2)
>>> before = recurrent_weights(lstm)
>>> sorted(before)[:4]
['l0.f', 'l0.g', 'l0.i', 'l0.o']
>>> # ... train lstm ...
>>> after = recurrent_weights(lstm)
>>> reports = {key: analyse(before[key], after[key]) for key in before}

To measure losses with a modified block (truncation, shuffle test), build the
loss function with :func:`module_loss_fn`. The input vectors of a gate are the
*columns* of its ``weight_ih`` block (:func:`input_weights`): pass
``W_in=input_weights(m)[key].T`` to :func:`~lrbook.analysis.analyse`.
With ``proj_size > 0`` an LSTM's recurrent blocks are ``(H, proj_size)``, not
square, and :func:`~lrbook.analysis.analyse` rejects them.

The chapters :doc:`/book/14_sentiment` and :doc:`/book/15_own_network` use these.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from .report import Report, analyse

#: Gate names in PyTorch's stacking order, by module mode.
GATES: dict[str, tuple[str, ...]] = {
    "RNN_TANH": ("",), "RNN_RELU": ("",), "GRU": ("r", "z", "n"), "LSTM": ("i", "f", "g", "o"),
}
PARAMS = ("weight_hh", "weight_ih", "bias_hh", "bias_ih")


def _check_module(module: Any) -> str:
    if not isinstance(module, torch.nn.RNNBase) or getattr(module, "mode", None) not in GATES:
        raise TypeError(f"module must be a torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM; "
                        f"got {type(module).__name__}")
    return module.mode


def gate_names(module: torch.nn.RNNBase) -> tuple[str, ...]:
    """Gate names of ``module`` in PyTorch's stacking order.

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM

    Returns
    -------
    tuple of str
        ``("",)`` for ``nn.RNN`` (one block, keys ``"l{k}"``), ``("r", "z", "n")`` for
        ``nn.GRU``, ``("i", "f", "g", "o")`` for ``nn.LSTM``.

    Raises
    ------
    TypeError
        if ``module`` is not one of these.
    """
    return GATES[_check_module(module)]


def _layers(module: torch.nn.RNNBase) -> list[tuple[str, str]]:
    """(key prefix, parameter suffix) of every layer and direction."""
    out = []
    for k in range(module.num_layers):
        out.append((f"l{k}", f"_l{k}"))
        if module.bidirectional:
            out.append((f"l{k}_reverse", f"_l{k}_reverse"))
    return out


def _key(prefix: str, gate: str) -> str:
    return prefix if gate == "" else f"{prefix}.{gate}"


def split_gates(module: torch.nn.RNNBase, param: str = "weight_hh") -> dict[str, np.ndarray]:
    """Blocks of a stacked parameter of every layer, by gate, as float64 numpy copies.

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM
        any ``num_layers``, uni- or bidirectional.
    param : {"weight_hh", "weight_ih", "bias_hh", "bias_ih"}

    Returns
    -------
    dict of str to ndarray
        keys ``"l{k}"`` (``nn.RNN``) or ``"l{k}.{gate}"`` (``"l0.i"``, ``"l1_reverse.n"``,
        ...), values of shape (H, H) for ``weight_hh`` (``(H, proj_size)`` for a
        projected LSTM), (H, input) for ``weight_ih``, (H,) for biases.

    Raises
    ------
    TypeError
        if ``module`` is not an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``.
    ValueError
        if ``param`` is unknown or absent (biases of a module built with ``bias=False``).
    """
    gates = gate_names(module)
    if param not in PARAMS:
        raise ValueError(f"param must be one of {', '.join(PARAMS)}; got {param!r}")
    out: dict[str, np.ndarray] = {}
    for prefix, suffix in _layers(module):
        p = getattr(module, param + suffix, None)
        if p is None:                                      # bias=False
            raise ValueError(f"param {param!r} does not exist in this module (bias=False?)")
        blocks = p.detach().cpu().double().numpy().reshape(len(gates), -1, *p.shape[1:])
        for gate, block in zip(gates, blocks):
            out[_key(prefix, gate)] = block.copy()
    return out


def recurrent_weights(module: torch.nn.RNNBase) -> dict[str, np.ndarray]:
    """Recurrent matrices of every layer and gate (``weight_hh`` blocks), see :func:`split_gates`.

    Take one snapshot before and one after training and pass each pair of blocks to
    :func:`~lrbook.analysis.analyse` (or both snapshots to :func:`analyse_gates`).

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM
        any ``num_layers``, uni- or bidirectional.

    Returns
    -------
    dict of str to ndarray, each of shape (H, H)
        float64 copies, keys ``"l{k}"`` (``nn.RNN``) or ``"l{k}.{gate}"``
        (``"l0.f"``, ``"l1_reverse.n"``, ...); ``block[i, j]`` is the weight from
        hidden unit j to unit i. A projected LSTM (``proj_size > 0``) gives
        (H, proj_size) blocks.
    """
    return split_gates(module, "weight_hh")


def input_weights(module: torch.nn.RNNBase) -> dict[str, np.ndarray]:
    """Input matrices of every layer and gate (``weight_ih`` blocks, columns = input vectors).

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM

    Returns
    -------
    dict of str to ndarray, each of shape (H, n_in)
        float64 copies, keys as in :func:`recurrent_weights`; ``n_in`` is
        ``input_size`` for layer 0 and the output size of the layer below
        (times 2 if bidirectional) above it. Column j is the input vector of input
        j: pass ``input_weights(m)[key].T`` as ``W_in`` to
        :func:`~lrbook.analysis.analyse`.
    """
    return split_gates(module, "weight_ih")


def _locate(module: torch.nn.RNNBase, key: str, param: str) -> tuple[torch.nn.Parameter, slice]:
    gates = gate_names(module)
    prefixes = dict(_layers(module))
    prefix, _, gate = key.partition(".")
    if prefix not in prefixes or gate not in gates:
        allowed = [_key(p, gt) for p in prefixes for gt in gates]
        raise ValueError(f"key must be one of {', '.join(allowed)}; got {key!r}")
    p = getattr(module, param + prefixes[prefix])
    H = p.shape[0] // len(gates)
    i = gates.index(gate)
    return p, slice(i * H, (i + 1) * H)


def set_recurrent_weight(module: torch.nn.RNNBase, key: str, W: Any, param: str = "weight_hh") -> None:
    """Write the block ``key`` (e.g. ``"l0.g"``) of ``module`` in place (no gradient is recorded).

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM
    key : str
        as returned by :func:`recurrent_weights`.
    W : array or Tensor
        the new block, of the block's shape ((H, H) for ``weight_hh``); cast to the
        parameter's dtype and device.
    param : {"weight_hh", "weight_ih", "bias_hh", "bias_ih"}
        which stacked parameter holds the block.

    Raises
    ------
    ValueError
        if ``param`` or ``key`` is unknown, or ``W`` has the wrong shape.
    TypeError
        if ``module`` is not an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``.
    """
    if param not in PARAMS:
        raise ValueError(f"param must be one of {', '.join(PARAMS)}; got {param!r}")
    p, sl = _locate(module, key, param)
    new = torch.as_tensor(np.asarray(W.detach().cpu() if hasattr(W, "detach") else W),
                          dtype=p.dtype, device=p.device)
    if tuple(new.shape) != tuple(p[sl].shape):
        raise ValueError(f"W must have shape {tuple(p[sl].shape)} for {key!r}; got {tuple(new.shape)}")
    with torch.no_grad():
        p[sl] = new


def with_recurrent_weight(module: torch.nn.RNNBase, key: str, W: Any,
                          param: str = "weight_hh") -> torch.nn.RNNBase:
    """A deep copy of ``module`` with the block ``key`` replaced by ``W`` (``module`` is unchanged).

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM
    key : str
        block name as returned by :func:`recurrent_weights`, e.g. ``"l0.g"``.
    W : array or Tensor
        the new block, of the block's shape ((H, H) for ``weight_hh``).
    param : {"weight_hh", "weight_ih", "bias_hh", "bias_ih"}
        which stacked parameter holds the block.

    Returns
    -------
    torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM
        the modified copy (see :func:`set_recurrent_weight` for the errors).
    """
    new = copy.deepcopy(module)
    set_recurrent_weight(new, key, W, param)
    return new


def module_loss_fn(model: torch.nn.Module, rnn: torch.nn.RNNBase, key: str,
                   evaluate: Callable[[torch.nn.Module], float]) -> Callable[[Any], float]:
    """A ``loss_fn(W)`` for :func:`~lrbook.analysis.analyse` from an evaluation of the whole model.

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    model : torch.nn.Module
        the full network (e.g. embedding + LSTM + readout).
    rnn : torch.nn.RNN, GRU or LSTM
        the recurrent module inside ``model`` whose block ``key`` is replaced.
    key : str
        block name, e.g. ``"l0.g"``.
    evaluate : callable
        ``evaluate(model) -> float``, e.g. the test loss.

    Returns
    -------
    callable
        ``loss_fn(W)``: writes ``W`` into the block, evaluates (under
        ``torch.no_grad()``), and restores the original block (also when
        ``evaluate`` raises).

    Raises
    ------
    ValueError
        if ``key`` is not a block of ``rnn``.
    TypeError
        if ``rnn`` is not an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``, or ``evaluate``
        is not callable.
    """
    _locate(rnn, key, "weight_hh")
    if not callable(evaluate):
        raise TypeError(f"evaluate must be callable, evaluate(model) -> float; got {type(evaluate).__name__}")

    def loss_fn(W: Any) -> float:
        p, sl = _locate(rnn, key, "weight_hh")
        saved = p[sl].detach().clone()
        try:
            set_recurrent_weight(rnn, key, W)
            with torch.no_grad():
                return float(evaluate(model))
        finally:
            with torch.no_grad():
                p[sl] = saved

    return loss_fn


def analyse_gates(before: Mapping[str, Any], after: Mapping[str, Any],
                  loss_fns: Mapping[str, Callable[[Any], float]] | None = None,
                  **kwargs: Any) -> dict[str, Report]:
    """:func:`~lrbook.analysis.analyse` for every block of two :func:`recurrent_weights` snapshots.

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    before, after : dict of str to array
        same keys and shapes.
    loss_fns : dict of str to callable, optional
        a ``loss_fn`` per key (see :func:`module_loss_fn`); keys without one get no
        loss-based analyses.
    **kwargs : Any
        passed to :func:`~lrbook.analysis.analyse` (except ``name``, which is the key).

    Returns
    -------
    dict of str to Report
        one per key, named by it.

    Raises
    ------
    ValueError
        if ``before`` and ``after`` have different keys, or ``loss_fns`` has a key
        that is not among them.
    """
    if set(before) != set(after):
        raise ValueError(f"before and after must have the same keys; got {sorted(before)} and {sorted(after)}")
    loss_fns = dict(loss_fns or {})
    unknown = set(loss_fns) - set(before)
    if unknown:
        raise ValueError(f"loss_fns keys must be among {sorted(before)}; got {sorted(unknown)}")
    return {k: analyse(before[k], after[k], loss_fns.get(k), name=k, **kwargs) for k in before}
