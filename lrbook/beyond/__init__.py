r"""Beyond the paper: other nonlinearities, frozen input/output weights, low-rank training.

- :mod:`~lrbook.beyond.training`: :func:`train_variant`, the paper's training with
  another :math:`\phi`, a subset of trained weights, or a recurrent change constrained
  to rank R from the start (:math:`W = W_0 + U V^\top`);
- :mod:`~lrbook.beyond.evaluate`: :func:`variant_losses`, :func:`evaluate_variant`
  (truncation curve and functional rank for any :math:`\phi`);
- :mod:`~lrbook.beyond.study`: the chapter's two studies, :func:`variant_study` and
  :func:`lowrank_study`, sized per scale.

Chapter: :doc:`/book/13_beyond`.
"""

from __future__ import annotations

from .evaluate import evaluate_variant, silent_loss, variant_losses
from .study import (
                    LOWRANK_SIZES,
                    VARIANT_SIZES,
                    VARIANTS,
                    LowRankSummary,
                    VariantSummary,
                    lowrank_study,
                    lowrank_table,
                    network_epochs,
                    variant_study,
                    variant_table,
)
from .training import LOWRANK_LR_FACTOR, STREAM_FACTORS, VariantResult, lowrank_lr, train_variant

__all__ = [
    "evaluate_variant", "silent_loss", "variant_losses",
    "LOWRANK_LR_FACTOR", "STREAM_FACTORS", "VariantResult", "lowrank_lr", "train_variant",
    "LOWRANK_SIZES", "VARIANT_SIZES", "VARIANTS", "LowRankSummary", "VariantSummary", "lowrank_study",
    "lowrank_table", "network_epochs", "variant_study", "variant_table",
]
