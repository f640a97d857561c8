r"""The LSTM sentiment classifier of the paper's section 5 (PyTorch ``nn.LSTM``).

Frozen word vectors (GloVe, 100-d) feed a stacked LSTM (2 layers, hidden size 256,
dropout 0.5 on the word vectors, between the layers and before the readout); a
linear readout of the last layer's final hidden state gives the two class scores.
Layer :math:`k` holds its recurrent weights in ``lstm.weight_hh_l{k}``, shape
:math:`(4H, H)`, the gates stacked in PyTorch's order (input, forget, cell, output):

.. math::

    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}), \quad
    f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}), \\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}), \quad
    o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}), \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).

The per-gate blocks :math:`W_{hi}, W_{hf}, W_{hg}, W_{ho}` are what the chapter
:doc:`/book/14_sentiment` analyses (see :func:`lrbook.analysis.recurrent_weights`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .. import _validate as V
from .vocab import PAD_ID


class SentimentLSTM(nn.Module):
    """Embedding (frozen) -> dropout -> stacked LSTM -> dropout -> linear readout.

    Parameters
    ----------
    embeddings : array or Tensor, shape (n_words, dim)
        frozen word vectors, row = token id (row 0 = padding).
    hidden : int
        hidden size H of every layer, >= 1 (256 in the paper).
    layers : int
        stacked LSTM layers, >= 1 (2 in the paper).
    dropout : float
        in [0, 1) (0.5 in the paper).
    n_classes : int
        >= 2.
    seed : int
        of the initial weights (PyTorch's default initialisation, drawn from a
        generator seeded with ``seed``; the global torch RNG is not touched).

    Attributes
    ----------
    embedding : nn.Embedding
        frozen (``requires_grad`` False).
    lstm : nn.LSTM
        ``batch_first``; ``weight_hh_l{k}`` of shape (4H, H).
    readout : nn.Linear
        (H -> n_classes).
    """

    def __init__(self, embeddings: Any, hidden: int = 256, layers: int = 2, dropout: float = 0.5,
                 n_classes: int = 2, seed: int = 0):
        super().__init__()
        emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
        if emb.dim() != 2 or emb.shape[0] < 2 or emb.shape[1] < 1:
            raise ValueError(f"embeddings must have shape (n_words, dim) with n_words >= 2; got {tuple(emb.shape)}")
        hidden = V.integer("hidden", hidden, lo=1)
        layers = V.integer("layers", layers, lo=1)
        dropout = V.real("dropout", dropout, lo=0.0, hi=1.0, hi_open=True)
        n_classes = V.integer("n_classes", n_classes, lo=2)
        seed = V.integer("seed", seed, lo=0)
        self.hidden, self.layers, self.p_dropout, self.seed = hidden, layers, dropout, seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embedding = nn.Embedding.from_pretrained(emb, freeze=True, padding_idx=PAD_ID)
            self.lstm = nn.LSTM(emb.shape[1], hidden, num_layers=layers, batch_first=True,
                                dropout=dropout if layers > 1 else 0.0)
            self.readout = nn.Linear(hidden, n_classes)
        self.drop = nn.Dropout(dropout)

    def init_kwargs(self) -> dict[str, Any]:
        """The arguments that rebuild this network's architecture (its weights aside).

        ``SentimentLSTM(**m.init_kwargs())`` followed by ``load_state_dict(m.state_dict())``
        gives the same network; :func:`lrbook.experiments.cached_call` stores it so.

        Returns
        -------
        dict
            ``embeddings`` (ndarray), ``hidden``, ``layers``, ``dropout``, ``n_classes``,
            ``seed``.
        """
        return {"embeddings": self.embedding.weight.detach().cpu().numpy(), "hidden": self.hidden,
                "layers": self.layers, "dropout": self.p_dropout,
                "n_classes": self.readout.out_features, "seed": self.seed}

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class scores (logits).

        Parameters
        ----------
        tokens : LongTensor, shape (B, T)
            token ids, right-padded with 0.
        lengths : LongTensor, shape (B,)
            tokens per sentence, 1 <= length <= T.

        Returns
        -------
        Tensor, shape (B, n_classes)
        """
        if tokens.dim() != 2 or lengths.shape != tokens.shape[:1]:
            raise ValueError(f"tokens must have shape (B, T) and lengths (B,); got {tuple(tokens.shape)} "
                             f"and {tuple(lengths.shape)}")
        x = self.drop(self.embedding(tokens))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.readout(self.drop(h[-1]))

    def n_trainable(self) -> int:
        """Number of trained parameters (the embedding is frozen)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
