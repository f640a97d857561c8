r"""Beyond the paper: other nonlinearities, frozen input/output weights, low-rank training.

The variants are options of the one training loop (:func:`lrbook.training.train`:
the model's ``phi`` and ``trained`` weights, ``rank=R`` for a recurrent change
:math:`W = W_0 + U V^\top` of rank R from the start); their networks go through the
result cache like every other run. This package holds the chapter's two studies,
:func:`variant_study` and :func:`lowrank_study`, sized per scale.

Chapter: :doc:`/book/13_beyond`.
"""

from __future__ import annotations

from .study import (
    LOWRANK_SIZES,
    VARIANT_SIZES,
    VARIANTS,
    LowRankSummary,
    VariantSummary,
    first_batch_silent_loss,
    lowrank_study,
    lowrank_table,
    network_epochs,
    variant_study,
    variant_table,
)

__all__ = [
    "LOWRANK_SIZES", "VARIANT_SIZES", "VARIANTS", "LowRankSummary", "VariantSummary",
    "first_batch_silent_loss", "lowrank_study", "lowrank_table", "network_epochs", "variant_study",
    "variant_table",
]
