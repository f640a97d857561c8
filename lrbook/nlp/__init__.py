r"""Low-rank learning in an LSTM sentiment classifier (the paper's section 5).

- :mod:`~lrbook.nlp.vocab`: :func:`tokenize`, :class:`Vocab`, :func:`pad`;
- :mod:`~lrbook.nlp.data`: the GLUE SST-2 TSV reader, the GloVe text reader, the
  frozen embedding matrix and :func:`load_sentiment` (one folder in,
  :class:`SentimentData` out); :func:`sample_dir` is the small sample lrbook ships;
- :mod:`~lrbook.nlp.fetch`: :func:`download` (only where the network allows it);
- :mod:`~lrbook.nlp.synthetic`: :func:`make_synthetic`, a generated sentiment task
  with a planted sentiment direction, negation and distractors;
- :mod:`~lrbook.nlp.lstm`: :class:`SentimentLSTM` (frozen embeddings, 2-layer LSTM);
- :mod:`~lrbook.nlp.train`: :func:`train_classifier` -> :class:`ClassifierResult`;
- :mod:`~lrbook.nlp.analysis`: :func:`gate_analysis`, singular values of every gate's
  recurrent change and the accuracy of rank-R truncations.

Chapter: :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

from .analysis import GATE_NAMES, GateAnalysis, default_ranks, gate_analysis, truncated_model
from .data import (
    Embeddings,
    SentimentData,
    Split,
    available,
    default_data_dir,
    embedding_matrix,
    encode,
    glove_file,
    load_sentiment,
    read_glove,
    read_sst2,
    sample_dir,
    sst2_file,
)
from .fetch import Download, DownloadError, download, download_plan
from .lstm import SentimentLSTM
from .synthetic import make_synthetic, synthetic_score
from .train import ClassifierResult, SentimentDivergedError, batches, split_loss_and_accuracy, train_classifier
from .vocab import PAD, PAD_ID, UNK, UNK_ID, Vocab, pad, tokenize

__all__ = [
    "GATE_NAMES", "GateAnalysis", "default_ranks", "gate_analysis", "truncated_model",
    "Embeddings", "SentimentData", "Split", "available", "default_data_dir", "embedding_matrix", "encode",
    "glove_file", "load_sentiment", "read_glove", "read_sst2", "sample_dir", "sst2_file",
    "Download", "DownloadError", "download", "download_plan",
    "SentimentLSTM", "make_synthetic", "synthetic_score",
    "ClassifierResult", "SentimentDivergedError", "batches", "split_loss_and_accuracy", "train_classifier",
    "PAD", "PAD_ID", "UNK", "UNK_ID", "Vocab", "pad", "tokenize",
]
