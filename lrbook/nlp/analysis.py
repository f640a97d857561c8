r"""Per-gate analysis of the recurrent weight change of a trained LSTM.

For every layer :math:`k` and gate :math:`a \in \{i, f, g, o\}` the recurrent block
changes by :math:`\Delta W^{(k)}_{a} = W^{(k)}_{a} - W^{(k)}_{a,0}`. Like the paper's
rate networks, a trained LSTM changes each block by a matrix whose singular values
have a few large values above a bulk; truncating **every** block at once,

.. math:: W^{(k)}_{a,R} = W^{(k)}_{a,0} + \mathrm{SVD}_R\big(\Delta W^{(k)}_a\big),

and keeping every other trained parameter, shows how many dimensions of the change
the accuracy needs. Built on :mod:`lrbook.analysis` (singular values, truncation,
the ``nn.LSTM`` adapters). Explained in the chapter :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validate as V
from .._threads import torch_threads
from ..analysis import dW_singular_values, norm_dW, set_recurrent_weight, shuffle_entries, truncations
from ..analysis.measures import participation_ratio, top_fraction
from .data import Split
from .train import ClassifierResult, split_loss_and_accuracy

GATE_NAMES = {"i": "input", "f": "forget", "g": "cell", "o": "output"}


def default_ranks(H: int) -> list[int]:
    """0, 1, 2, 4, ... up to H (powers of two, and H itself)."""
    H = V.integer("H", H, lo=1)
    out, r = [0], 1
    while r < H:
        out.append(r)
        r *= 2
    return out + [H]


@dataclass
class GateAnalysis:
    """Singular values of every block's change and the accuracy of truncated networks.

    Attributes
    ----------
    keys : list of str
        blocks ``"l{layer}.{gate}"`` in order (layer 0 first, gates i, f, g, o).
    singular_values : ndarray, shape (n_blocks, H)
        of each :math:`\\Delta W`, descending.
    singular_values_shuffled : ndarray, shape (n_blocks, H)
        of each :math:`\\Delta W` with its entries randomly permuted (same entries, no
        structure: the reference bulk of a random matrix).
    norm_dW, norm_W0 : ndarray, shape (n_blocks,)
        Frobenius norms of the change and of the initial block.
    participation_ratio : ndarray, shape (n_blocks,)
        effective rank of each change (:func:`lrbook.analysis.participation_ratio`).
    top10 : ndarray, shape (n_blocks,)
        fraction of :math:`\\|\\Delta W\\|_F^2` in the top 10 singular values.
    ranks : ndarray of int, shape (n_ranks,)
    accuracy, loss : ndarray, shape (n_ranks,)
        test accuracy and cross-entropy with every block truncated to rank R.
    accuracy_trained, loss_trained : float
        of the trained network (every block full rank).
    """

    keys: list[str]
    singular_values: np.ndarray
    singular_values_shuffled: np.ndarray
    norm_dW: np.ndarray
    norm_W0: np.ndarray
    participation_ratio: np.ndarray
    top10: np.ndarray
    ranks: np.ndarray
    accuracy: np.ndarray
    loss: np.ndarray
    accuracy_trained: float
    loss_trained: float

    @property
    def H(self) -> int:
        return int(self.singular_values.shape[1])

    def recovered(self, R: int) -> float:
        """Fraction of the accuracy gained from R = 0 to the trained network recovered at rank R.

        :math:`(a(R) - a(0)) / (a_{trained} - a(0))`; NaN when nothing is gained.
        """
        i = int(np.flatnonzero(self.ranks == R)[0]) if R in self.ranks else None
        if i is None:
            raise ValueError(f"R must be one of the measured ranks {self.ranks.tolist()}; got {R}")
        a0 = self.accuracy[self.ranks == 0][0] if 0 in self.ranks else np.nan
        gain = self.accuracy_trained - a0
        return float((self.accuracy[i] - a0) / gain) if gain > 0 else float("nan")

    def rank_for_accuracy(self, tolerance: float = 0.01) -> int:
        """Smallest measured R whose accuracy is within ``tolerance`` of the trained accuracy (-1 if none)."""
        tolerance = V.real("tolerance", tolerance, lo=0.0)
        ok = self.accuracy >= self.accuracy_trained - tolerance
        return int(self.ranks[ok][0]) if ok.any() else -1

    def table(self) -> list[dict]:
        """One row per block: key, gate name, s1..s5, ||dW||, participation ratio, top-10 fraction."""
        out = []
        for j, k in enumerate(self.keys):
            layer, gate = k.split(".")
            row: dict[str, Any] = {"block": k, "layer": int(layer[1:]), "gate": GATE_NAMES[gate]}
            row.update({f"s{r + 1}": float(self.singular_values[j, r]) for r in range(min(5, self.H))})
            row.update({"norm_dW": float(self.norm_dW[j]), "norm_W0": float(self.norm_W0[j]),
                        "PR": float(self.participation_ratio[j]), "top10": float(self.top10[j])})
            out.append(row)
        return out


def truncated_model(result: ClassifierResult, R: int):
    """A copy of the trained model with every recurrent block set to :math:`W_0 + \\mathrm{SVD}_R(\\Delta W)`."""
    model = copy.deepcopy(result.model)
    H = model.hidden
    R = V.integer("R", R, lo=0, hi=H)
    for k in result.W_hh:
        set_recurrent_weight(model.lstm, k, truncations(result.W_hh0[k], result.dW[k], [R])[0])
    return model


def gate_analysis(result: ClassifierResult, test: Split, ranks: Iterable[int] | None = None,
                  batch_size: int = 512, seed: int = 0, threads: int | None = 1) -> GateAnalysis:
    """Singular values per gate and layer, and test accuracy after truncating every block to rank R.

    Parameters
    ----------
    result : ClassifierResult
        from :func:`lrbook.nlp.train_classifier`.
    test : Split
        the sentences to score (the test split).
    ranks : iterable of int, optional
        each in 0..H; default :func:`default_ranks` (0, 1, 2, 4, ..., H).
    batch_size : int
    seed : int
        of the entry shuffles (``rng_for(seed, STREAM_SHUFFLE)``).
    threads : int or None
        torch threads while scoring (default 1; None keeps torch's setting).

    Returns
    -------
    GateAnalysis
    """
    with torch_threads(None if threads is None else V.integer("threads", threads, lo=1)):
        return _gate_analysis(result, test, ranks, batch_size, seed)


def _gate_analysis(result: ClassifierResult, test: Split, ranks: Iterable[int] | None, batch_size: int,
                   seed: int) -> GateAnalysis:
    if not isinstance(result, ClassifierResult):
        raise TypeError(f"result must be a ClassifierResult; got {type(result).__name__}")
    keys = list(result.W_hh)
    H = result.model.hidden
    rk = default_ranks(H) if ranks is None else [V.integer(f"ranks[{i}]", r, lo=0, hi=H)
                                                  for i, r in enumerate(ranks)]
    if not rk:
        raise ValueError("ranks must be non-empty")
    W0 = np.stack([result.W_hh0[k] for k in keys])
    W = np.stack([result.W_hh[k] for k in keys])
    sv = dW_singular_values(W0, W)
    sv_shuffled = np.linalg.svd(shuffle_entries(W - W0, V.integer("seed", seed, lo=0)), compute_uv=False)
    trunc = truncations(W0, W - W0, rk)                   # (n_ranks, n_blocks, H, H)
    model = copy.deepcopy(result.model)
    acc, loss = [], []
    for i in range(len(rk)):
        for j, k in enumerate(keys):
            set_recurrent_weight(model.lstm, k, trunc[i, j])
        lo, ac = split_loss_and_accuracy(model, test, batch_size)
        acc.append(ac)
        loss.append(lo)
    l_tr, a_tr = split_loss_and_accuracy(result.model, test, batch_size)
    return GateAnalysis(keys=keys, singular_values=sv, singular_values_shuffled=sv_shuffled,
                        norm_dW=np.asarray(norm_dW(W0, W)),
                        norm_W0=np.linalg.norm(W0, axis=(1, 2)),
                        participation_ratio=np.asarray(participation_ratio(sv)),
                        top10=np.asarray(top_fraction(sv, min(10, H))),
                        ranks=np.asarray(rk, dtype=np.int64), accuracy=np.asarray(acc),
                        loss=np.asarray(loss), accuracy_trained=a_tr, loss_trained=l_tr)
