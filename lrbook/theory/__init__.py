r"""Linear theory of learning in RNNs (Schuessler et al. 2020, sections 3-4), and beyond it.

Pure functions of weights and task parameters (numpy, float64):

- :mod:`~lrbook.theory.fixed_point`: the readout at the fixed point
  :math:`z = w^\top (1-W)^{-1} m / N`, its gradient :math:`-(\hat z - z)\,a b^\top`,
  :math:`\beta = 1/(1-g^2)`, the large-N norms of ``a`` and ``b`` and the effective
  learning time :math:`\tilde\tau = \tau / (1-g^2)^2`;
- :mod:`~lrbook.theory.series`: the third-order series of ``z``, ``s1``, ``s2`` in
  :math:`\tilde\tau` and the first-order closed forms (convergence time, norm of
  :math:`\Delta W`), vectorised over learning time and g;
- :mod:`~lrbook.theory.reduced_flow`: the exact reduced gradient flow at g = 0, an ODE in
  the four coefficients of :math:`\Delta W` in the basis ``{w, m}``;
- :mod:`~lrbook.theory.predictions`: convergence time and :math:`\|\Delta W\|` as functions
  of g.

Chapters: :doc:`/book/08_linear_rnn`, :doc:`/book/09_acceleration`,
:doc:`/book/10_eigenvalues`, :doc:`/book/11_cosine`.
"""

from __future__ import annotations

from .fixed_point import (
    NetworkParameters,
    beta,
    effective_time,
    expected_factor_norms,
    fixed_point_gradient,
    fixed_point_loss,
    fixed_point_readout,
    fixed_point_state,
    gradient_factors,
    io_vectors,
    learning_time,
    network_beta,
    network_parameters,
)
from .predictions import predicted_convergence_time, predicted_dW_norm
from .reduced_flow import (
    ReducedFlow,
    convergence_of_flow,
    expand_coefficients,
    gram_matrix,
    project_coefficients,
    reduced_descent,
    reduced_flow,
)
from .series import (
    convergence_time_first_order,
    dW_norm_first_order,
    gradient_norm_first_order,
    loss_first_order,
    loss_series,
    s1_first_order,
    s1_series,
    s2_series,
    series_window,
    z_first_order,
    z_series,
)

__all__ = [
    "beta", "effective_time", "expected_factor_norms", "fixed_point_gradient", "fixed_point_loss",
    "fixed_point_readout", "fixed_point_state", "gradient_factors", "io_vectors", "learning_time",
    "network_beta", "NetworkParameters", "network_parameters",
    "ReducedFlow", "convergence_of_flow", "expand_coefficients", "gram_matrix",
    "project_coefficients", "reduced_descent", "reduced_flow",
    "convergence_time_first_order", "dW_norm_first_order", "gradient_norm_first_order",
    "loss_first_order", "loss_series", "s1_first_order", "s1_series", "s2_series",
    "series_window", "z_first_order", "z_series", "predicted_convergence_time", "predicted_dW_norm",
]
