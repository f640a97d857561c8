r"""Predicted convergence time and norm of :math:`\Delta W` as functions of g.

Two levels of the theory:

``"first_order"``
    :math:`z = \hat z (1 - e^{-\tilde\tau})` with :math:`\tilde\tau = \tau/(1-g^2)^2`:
    :math:`\tau_c = (1-g^2)^2\,\tfrac12 \ln(1/c)` and :math:`\|\Delta W\| = |\hat z|(1-g^2)`.
``"reduced_flow"``
    the exact g = 0 learning curve of the reduced flow (large N), carried to g > 0 by the
    same first-order scalings (the collapse): :math:`\tau_c(g) = (1-g^2)^2\,\tau_c^{flow}(\hat z)`
    and :math:`\|\Delta W\|(g) = (1-g^2)\,\|\Delta W\|^{flow}(\hat z)`. Exact at g = 0
    (N large); it keeps the nonlinear speed-up of learning that the first order misses.

Explained in the chapter :doc:`/book/09_acceleration`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import _validate as V
from .fixed_point import beta
from .reduced_flow import convergence_of_flow
from .series import convergence_time_first_order, dW_norm_first_order

METHODS = ("reduced_flow", "first_order")


@lru_cache(maxsize=256)
def _flow_at_zero(z_hat: float, criterion: float) -> tuple[float, float]:
    return convergence_of_flow(z_hat, criterion, step=0.001)


def _flow_values(z_hat, criterion: float, which: int) -> np.ndarray:
    zh = np.asarray(z_hat, dtype=float)
    if not np.all(np.isfinite(zh)) or np.any(zh == 0):
        raise ValueError(f"z_hat must be finite and nonzero; got {z_hat!r}")
    flat = [_flow_at_zero(float(v), criterion)[which] for v in zh.ravel()]
    return np.asarray(flat).reshape(zh.shape)


def predicted_convergence_time(g, z_hat, criterion: float = 0.05, method: str = "reduced_flow"):
    r"""Learning time :math:`\tau_c` (``lr * epochs``) to reach ``loss < criterion * L0``.

    .. math::

        \tau_c(g) = (1 - g^2)^2\, \tilde\tau_c(\hat z), \qquad
        \tilde\tau_c = \begin{cases} \tfrac12 \ln(1/c) & \text{first order} \\
        \text{crossing of the reduced flow at } g = 0 & \text{reduced flow} \end{cases}

    Parameters
    ----------
    g : float or array
        in [0, 1).
    z_hat : float or array
        nonzero; broadcasts against ``g``.
    criterion : float
        in (0, 1); 0.05 in the paper.
    method : {"reduced_flow", "first_order"}

    Returns
    -------
    float or ndarray
    """
    V.choice("method", method, METHODS)
    c = V.real("criterion", criterion, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    b = np.asarray(beta(g))
    if method == "first_order":
        out = np.asarray(convergence_time_first_order(g, c)) + 0 * np.asarray(z_hat, dtype=float)
    else:
        out = _flow_values(z_hat, c, 0) / b ** 2
    return float(out) if out.ndim == 0 else out


def predicted_dW_norm(g, z_hat, method: str = "reduced_flow"):
    r"""Frobenius norm of :math:`\Delta W` once learning has converged (:math:`z = \hat z`).

    .. math::

        \|\Delta W\|(g) = (1 - g^2)\, \|\Delta W\|_{g=0}(\hat z), \qquad
        \|\Delta W\|_{g=0} = \begin{cases} |\hat z| & \text{first order} \\
        \text{end point of the reduced flow} & \text{reduced flow} \end{cases}

    Parameters
    ----------
    g : float or array
        in [0, 1).
    z_hat : float or array
        nonzero; broadcasts against ``g``.
    method : {"reduced_flow", "first_order"}
    """
    V.choice("method", method, METHODS)
    b = np.asarray(beta(g))
    if method == "first_order":
        out = np.asarray(dW_norm_first_order(g, z_hat))
    else:
        out = _flow_values(z_hat, 0.05, 1) / b
    return float(out) if out.ndim == 0 else out
