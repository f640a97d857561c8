r"""Small-learning-time series of the linear theory, vectorised over learning time and g.

With :math:`\beta = 1/(1-g^2)` and the effective learning time
:math:`\tilde\tau = \beta^2 \tau` (:func:`~lrbook.theory.effective_time`), the
output, the leading and the second singular value of :math:`\Delta W` grow as
(Schuessler et al. 2020, section 4)

.. math::

    z(\tilde\tau) &\simeq \hat z\,\tilde\tau - \hat z\,\frac{\tilde\tau^2}{2}
        + \hat z\,\frac{\tilde\tau^3}{6}\,\big(1 + 8 \hat z^2 \beta\big), \\
    s_1(\tilde\tau) &\simeq \frac{\hat z}{\beta}\Big(\tilde\tau - \frac{\tilde\tau^2}{2}
        + \frac{\tilde\tau^3}{6}\,\big(1 + \tfrac72 \hat z^2 \beta\big)\Big), \\
    s_2(\tilde\tau) &\simeq \frac{\hat z^3\,\tilde\tau^3}{12} .

To first order the whole curve is known in closed form,
:math:`z = \hat z (1 - e^{-\tilde\tau})`, :math:`s_1 = (\hat z/\beta)(1 - e^{-\tilde\tau})`,
which gives the first-order convergence time and the norm of :math:`\Delta W` at
convergence as functions of g.

Explained in the chapter :doc:`/book/09_acceleration`.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from .fixed_point import beta


def _tau(tau_eff) -> np.ndarray:
    t = np.asarray(tau_eff, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"tau_eff must be >= 0 and finite; got {tau_eff!r}")
    return t


def _beta(g, beta_value) -> np.ndarray:
    if beta_value is None:
        if g is None:
            raise TypeError("give g (in [0, 1)) or beta (>= 1)")
        return np.asarray(beta(g))
    if g is not None:
        raise TypeError("give either g or beta, not both")
    b = np.asarray(beta_value, dtype=float)
    if np.any(~np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"beta must be > 0 and finite; got {beta_value!r}")
    return b


def _err(z_hat, z0) -> np.ndarray:
    return np.asarray(z_hat, dtype=float) - np.asarray(z0, dtype=float)


def _order(order) -> int:
    return V.integer("order", order, lo=1, hi=3)


def _out(x: np.ndarray):
    return float(x) if np.ndim(x) == 0 else x


def z_series(tau_eff, z_hat, g=None, order: int = 3, *, beta=None, z0=0.0, nu=0.0):
    r"""Output :math:`z(\tilde\tau)` to ``order`` 1, 2 or 3 in the effective learning time.

    .. math::

        z \simeq \hat z\,\tilde\tau - \hat z\,\frac{\tilde\tau^2}{2}
        + \hat z\,\frac{\tilde\tau^3}{6}\,(1 + 8 \hat z^2 \beta)

    For a finite network, three numbers of :func:`~lrbook.theory.network_parameters` give
    its own series: the initial output ``z0`` (the series is then that of :math:`z - z_0`
    with :math:`\hat z` replaced by the initial error :math:`e = \hat z - z_0`), its gain
    ``beta`` (:math:`\beta_N = |a_0||b_0|`, with :math:`\tilde\tau = \beta_N^2 \tau`) and
    the overlap ``nu``, which corrects the second-order term:

    .. math::

        z - z_0 \simeq e\,\tilde\tau - e\,\frac{\tilde\tau^2}{2}\Big(1 - \frac{4 e \nu}{\beta^2}\Big)
        + e\,\frac{\tilde\tau^3}{6}\,(1 + 8 e^2 \beta) .

    Parameters
    ----------
    tau_eff : float or array
        effective learning time :math:`\tilde\tau \ge 0`.
    z_hat : float or array
        target output.
    g : float or array
        in [0, 1); or instead give ``beta``.
    order : {1, 2, 3}
    beta : float or array, optional
        :math:`\beta` itself, e.g. a network's own :func:`~lrbook.theory.network_beta`
        (then ``tau_eff`` should be :math:`\beta^2 \tau` with the same value).
    z0 : float or array
        initial output (default 0, the large-N value).
    nu : float or array
        overlap :math:`b_0^\top (1-W_0)^{-1} a_0` (default 0, the large-N value).

    All arguments broadcast together.

    Returns
    -------
    float or ndarray, the broadcast shape
    """
    t, b = _tau(tau_eff), _beta(g, beta)
    e = _err(z_hat, z0)
    order = _order(order)
    nu = np.asarray(nu, dtype=float)
    terms = [e * t, -e * t ** 2 / 2 * (1 - 4 * e * nu / b ** 2), e * t ** 3 / 6 * (1 + 8 * e ** 2 * b)]
    return _out(np.asarray(z0, dtype=float) + sum(terms[:order]) + 0 * b)


def loss_series(tau_eff, z_hat, g=None, order: int = 3, *, beta=None, z0=0.0, nu=0.0):
    r"""Loss :math:`\tfrac12 (\hat z - z)^2` with ``z`` from :func:`z_series` (same arguments)."""
    z = np.asarray(z_series(tau_eff, z_hat, g, order, beta=beta, z0=z0, nu=nu))
    return _out(0.5 * (np.asarray(z_hat, dtype=float) - z) ** 2)


def s1_series(tau_eff, z_hat, g=None, order: int = 3, *, beta=None, z0=0.0, nu=0.0):
    r"""Leading singular value of :math:`\Delta W` to ``order`` 1, 2 or 3.

    .. math::

        s_1 \simeq \frac{|\hat z|}{\beta}\Big(\tilde\tau - \frac{\tilde\tau^2}{2}
        + \frac{\tilde\tau^3}{6}\,(1 + \tfrac72 \hat z^2 \beta)\Big)

    Arguments as :func:`z_series`; for a finite network (:math:`e = \hat z - z_0`)

    .. math::

        s_1 \simeq \frac{|e|}{\beta}\Big(\tilde\tau - \frac{\tilde\tau^2}{2}\Big(1 - \frac{2 e\nu}{\beta^2}\Big)
        + \frac{\tilde\tau^3}{6}\,(1 + \tfrac72 e^2 \beta)\Big) .
    """
    t, b = _tau(tau_eff), _beta(g, beta)
    e = _err(z_hat, z0)
    order = _order(order)
    nu = np.asarray(nu, dtype=float)
    terms = [t, -t ** 2 / 2 * (1 - 2 * e * nu / b ** 2), t ** 3 / 6 * (1 + 3.5 * e ** 2 * b)]
    return _out(np.abs(e) / b * sum(terms[:order]))


def s2_series(tau_eff, z_hat, g=None, *, beta=None, z0=0.0):
    r"""Second singular value of :math:`\Delta W` to leading (third) order,
    :math:`s_2 \simeq |\hat z|^3 \tilde\tau^3 / 12` (independent of :math:`\beta` at this order).

    Valid only for small :math:`\tilde\tau` (at g = 0 it is 30 % above the exact reduced
    flow already at :math:`\tilde\tau = 0.2/\hat z`). Arguments as :func:`z_series`;
    ``g``/``beta`` are only validated and broadcast.
    """
    t = _tau(tau_eff)
    b = _beta(0.0 if g is None and beta is None else g, beta)
    e = _err(z_hat, z0)
    return _out(np.abs(e) ** 3 * t ** 3 / 12 + 0 * b)


def series_window(z_hat, g=None, *, beta=None, z0=0.0, fraction: float = 0.1):
    r"""Largest :math:`\tilde\tau` where the third-order term of :func:`z_series` is at most
    ``fraction`` of the first-order term: :math:`\tilde\tau_{max}^2 = 6 f / (1 + 8 e^2 \beta)`,
    :math:`e = \hat z - z_0`.

    Within it the neglected fourth-order terms are small, which is where the chapters
    compare the series with simulations.
    """
    f = V.real("fraction", fraction, lo=0.0, hi=1.0, lo_open=True)
    b = _beta(g, beta)
    e = _err(z_hat, z0)
    return _out(np.sqrt(6 * f / (1 + 8 * e ** 2 * b)))


# --------------------------------------------------------------------------- first order, closed form
def z_first_order(tau_eff, z_hat):
    r"""First-order learning curve :math:`z = \hat z\,(1 - e^{-\tilde\tau})` (all g collapse)."""
    t, zh = _tau(tau_eff), np.asarray(z_hat, dtype=float)
    return _out(zh * -np.expm1(-t))


def loss_first_order(tau_eff, z_hat):
    r"""First-order loss :math:`\tfrac12 \hat z^2 e^{-2\tilde\tau}`."""
    t, zh = _tau(tau_eff), np.asarray(z_hat, dtype=float)
    return _out(0.5 * zh ** 2 * np.exp(-2 * t))


def s1_first_order(tau_eff, z_hat, g):
    r"""First-order leading singular value :math:`s_1 = (|\hat z|/\beta)(1 - e^{-\tilde\tau})`."""
    t, zh, b = _tau(tau_eff), np.asarray(z_hat, dtype=float), np.asarray(beta(g))
    return _out(np.abs(zh) / b * -np.expm1(-t))


def gradient_norm_first_order(tau_eff, z_hat, g):
    r"""First-order norm of the gradient, :math:`|\hat z - z|\,|a|\,|b| = \beta |\hat z| e^{-\tilde\tau}`.

    With the paper's learning rate :math:`lr = lr_0 (1-g^2)^2` the epochs map to the same
    :math:`\tilde\tau` for every g, so the gradient norm averaged over training grows like
    :math:`\beta`.
    """
    t, zh, b = _tau(tau_eff), np.asarray(z_hat, dtype=float), np.asarray(beta(g))
    return _out(b * np.abs(zh) * np.exp(-t))


def convergence_time_first_order(g, criterion: float = 0.05):
    r"""First-order learning time to reach ``loss < criterion * L0``.

    .. math::

        e^{-2\tilde\tau_c} = c \;\Rightarrow\; \tilde\tau_c = \tfrac12 \ln(1/c), \qquad
        \tau_c = (1 - g^2)^2\, \tilde\tau_c .

    Parameters
    ----------
    g : float or array
        in [0, 1).
    criterion : float
        in (0, 1); 0.05 in the paper.

    Returns
    -------
    float or ndarray
        :math:`\tau_c` (learning time, ``lr * epochs``); divide by the learning rate for
        epochs.
    """
    c = V.real("criterion", criterion, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    return _out(0.5 * np.log(1.0 / c) / np.asarray(beta(g)) ** 2)


def dW_norm_first_order(g, z_hat):
    r"""First-order :math:`\|\Delta W\|` at convergence, :math:`s_1(\infty) = |\hat z| (1 - g^2)`."""
    zh = np.asarray(z_hat, dtype=float)
    return _out(np.abs(zh) / np.asarray(beta(g)))
