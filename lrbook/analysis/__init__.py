r"""Analyses of trained recurrent connectivity: pure functions of weights and tasks.

Works on lrbook's own results and on any RNN's recurrent matrices (numpy arrays or
torch tensors). Results are dataclasses with ``to_dict()``.

- :mod:`~lrbook.analysis.spectra`: singular values and eigenvalues of ``W0``, ``W``, ``dW``.
- :mod:`~lrbook.analysis.measures`: ``||dW||``, convergence epoch, effective ranks.
- :mod:`~lrbook.analysis.truncation`: ``W0 + SVD_R(dW)`` and the functional rank.
- :mod:`~lrbook.analysis.shuffle`: the shuffle test.
- :mod:`~lrbook.analysis.alignment`: singular vectors of ``dW`` against input/output vectors.
- :mod:`~lrbook.analysis.evaluate`: test-batch losses of lrbook networks, batched.
- :mod:`~lrbook.analysis.report`: :func:`analyse` (bring your own weights) and
  :func:`report_from_result`.
- :mod:`~lrbook.analysis.adapters`: weights of ``torch.nn.RNN/GRU/LSTM`` per gate.

Chapters: :doc:`/book/04_low_rank`, :doc:`/book/05_randomness`, :doc:`/book/15_own_network`.
"""

from __future__ import annotations

from .adapters import (
                       analyse_gates,
                       gate_names,
                       input_weights,
                       module_loss_fn,
                       recurrent_weights,
                       set_recurrent_weight,
                       split_gates,
                       with_recurrent_weight,
)
from .alignment import Alignment, alignment
from .evaluate import (
                       EVAL_BATCH,
                       Evaluation,
                       eval_batch,
                       evaluate_result,
                       losses,
                       shuffle_losses,
                       silent_loss,
                       truncation_losses,
)
from .gradient import GradientTerms, gradient_terms, krylov_fraction, span_fraction
from .measures import (
                       THRESHOLD,
                       convergence_epoch,
                       entropy_rank,
                       loglog_slope,
                       norm_dW,
                       participation_ratio,
                       rank_for_fraction,
                       stable_rank,
                       top_fraction,
)
from .report import Report, analyse, report_from_result, reports_from_result
from .shuffle import ShuffleTest, shuffle_entries, shuffle_ratio, shuffle_test
from .spectra import Spectra, dW_singular_values, eigenvalues, singular_values, singular_values_over_training, spectra
from .truncation import DEFAULT_RANKS, functional_rank, svd_truncate, truncate, truncation_curve, truncations

__all__ = [
    "Alignment", "alignment",
    "GradientTerms", "gradient_terms", "krylov_fraction", "span_fraction",
    "EVAL_BATCH", "Evaluation", "eval_batch", "evaluate_result", "losses", "shuffle_losses",
    "truncation_losses", "silent_loss",
    "THRESHOLD", "convergence_epoch", "entropy_rank", "loglog_slope", "norm_dW", "participation_ratio",
    "rank_for_fraction", "stable_rank", "top_fraction",
    "Report", "analyse", "report_from_result", "reports_from_result",
    "ShuffleTest", "shuffle_entries", "shuffle_ratio", "shuffle_test",
    "Spectra", "dW_singular_values", "eigenvalues", "singular_values", "singular_values_over_training",
    "spectra",
    "DEFAULT_RANKS", "functional_rank", "svd_truncate", "truncate", "truncation_curve", "truncations",
    "analyse_gates", "gate_names", "input_weights", "module_loss_fn", "recurrent_weights",
    "set_recurrent_weight", "split_gates", "with_recurrent_weight",
]
