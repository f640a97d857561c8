r"""The linear network at its fixed point: readout, gradient and their large-N sizes.

A linear rate network driven by a constant input ``u = 1`` along the input vector
``m`` settles (for a long trial, when every eigenvalue of ``W`` has real part < 1)
at the fixed point :math:`x^* = (1 - W)^{-1} m`. With the readout ``W_out = w / N``
its output is

.. math::

    z = \frac{1}{N}\, w^\top (1 - W)^{-1} m .

For the loss :math:`L = \tfrac12 (z - \hat z)^2` the gradient in ``W`` is an outer
product,

.. math::

    \frac{\partial L}{\partial W} = -(\hat z - z)\, a\, b^\top, \qquad
    a = \frac{1}{N} (1 - W)^{-\top} w, \qquad b = (1 - W)^{-1} m .

For ``W = W0 = g chi`` (random, ``chi_ij ~ N(0, 1/N)``) and ``|w| = |m| = sqrt(N)``,
the large-N averages are :math:`|b|^2 = N\beta` and :math:`N^2 |a|^2 = N\beta` with
:math:`\beta = 1/(1 - g^2)`, so gradient descent with learning rate ``lr`` moves
``z`` at the rate :math:`\beta^2` per unit of learning time :math:`\tau = lr \cdot
\mathrm{epoch}`: the effective learning time is :math:`\tilde\tau = \beta^2 \tau`.

Explained in the chapters :doc:`/book/08_linear_rnn` and :doc:`/book/09_acceleration`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _validate as V


def _as_float(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; got non-finite entries")
    return a


def _check_Wwm(W, w, m):
    W = _as_float(W, "W")
    w = _as_float(w, "w")
    m = _as_float(m, "m")
    if W.ndim < 2 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"W must have shape (..., N, N); got {W.shape}")
    N = W.shape[-1]
    for name, v in (("w", w), ("m", m)):
        if v.ndim < 1 or v.shape[-1] != N:
            raise ValueError(f"{name} must have shape (..., {N}) to match W; got {v.shape}")
    return W, w, m, N


def _solve(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``A^{-1} v`` for stacks ``A`` (..., N, N) and ``v`` (..., N)."""
    batch = np.broadcast_shapes(A.shape[:-2], v.shape[:-1])
    A = np.broadcast_to(A, batch + A.shape[-2:])
    v = np.broadcast_to(v, batch + v.shape[-1:])
    return np.linalg.solve(A, v[..., None])[..., 0]


def io_vectors(W_in, W_out) -> tuple[np.ndarray, np.ndarray]:
    r"""The output vector ``w`` and input vector ``m`` of networks with one input and one output.

    Parameters
    ----------
    W_in : array, shape (..., 1, N)
        input weights (row = ``m``), e.g. ``TrainResult.W_in0``.
    W_out : array, shape (..., N, 1)
        readout ``w / N``, e.g. ``TrainResult.W_out0``.

    Returns
    -------
    w, m : ndarray, shape (..., N)
        float64, :math:`|w| = |m| = \sqrt N` for the paper's initialisation.
    """
    W_in = _as_float(W_in, "W_in")
    W_out = _as_float(W_out, "W_out")
    if W_in.ndim < 2 or W_in.shape[-2] != 1:
        raise ValueError(f"W_in must have shape (..., 1, N) (one input); got {W_in.shape}")
    if W_out.ndim < 2 or W_out.shape[-1] != 1:
        raise ValueError(f"W_out must have shape (..., N, 1) (one output); got {W_out.shape}")
    N = W_out.shape[-2]
    if W_in.shape[-1] != N:
        raise ValueError(f"W_in must have N={N} columns to match W_out; got {W_in.shape}")
    return N * W_out[..., :, 0], W_in[..., 0, :]


def fixed_point_state(W, m) -> np.ndarray:
    r"""The fixed point :math:`b = x^* = (1 - W)^{-1} m` of the input-driven linear network.

    Parameters
    ----------
    W : array, shape (..., N, N)
    m : array, shape (..., N)

    Returns
    -------
    ndarray, shape (..., N)
    """
    W = _as_float(W, "W")
    m = _as_float(m, "m")
    N = W.shape[-1]
    return _solve(np.eye(N) - W, m)


def fixed_point_readout(W, w, m) -> np.ndarray:
    r"""The output at the fixed point, :math:`z = w^\top (1 - W)^{-1} m / N`.

    Parameters
    ----------
    W : array, shape (..., N, N)
        recurrent weights (a stack of networks is fine).
    w, m : array, shape (..., N)
        output and input vectors (:func:`io_vectors`).

    Returns
    -------
    z : ndarray, shape (...)

    Notes
    -----
    The Euler network of :mod:`lrbook.models` reaches this value at the end of the
    :class:`~lrbook.tasks.FixedPoint` trial up to a transient that decays like
    :math:`(1 - \Delta t + \Delta t\,\lambda)^{k}` (``k`` = 199 input steps): a few
    1e-4 relative at ``g = 0.9`` at initialisation, 1e-15 for ``g <= 0.6``
    (chapter :doc:`/book/08_linear_rnn`).
    """
    W, w, m, N = _check_Wwm(W, w, m)
    return np.sum(w * fixed_point_state(W, m), axis=-1) / N


def gradient_factors(W, w, m) -> tuple[np.ndarray, np.ndarray]:
    r"""The two vectors of the fixed-point gradient, :math:`a = (1-W)^{-\top} w / N` and
    :math:`b = (1-W)^{-1} m`.

    Parameters
    ----------
    W : array, shape (..., N, N)
    w, m : array, shape (..., N)

    Returns
    -------
    a, b : ndarray, shape (..., N)
        :math:`\partial z / \partial W = a b^\top`.
    """
    W, w, m, N = _check_Wwm(W, w, m)
    one_minus = np.eye(N) - W
    a = _solve(np.swapaxes(one_minus, -1, -2), w) / N
    b = _solve(one_minus, m)
    return a, b


def fixed_point_loss(W, w, m, z_hat) -> np.ndarray:
    r"""The fixed-point loss :math:`L = \tfrac12 (z - \hat z)^2`, shape (...)."""
    z_hat = V.real("z_hat", z_hat)
    return 0.5 * (fixed_point_readout(W, w, m) - z_hat) ** 2


def fixed_point_gradient(W, w, m, z_hat) -> np.ndarray:
    r"""Gradient of :math:`L = \tfrac12 (z - \hat z)^2` in ``W`` at the fixed point.

    .. math::

        \frac{\partial L}{\partial W} = -(\hat z - z)\, a\, b^\top,
        \qquad a = \frac1N (1 - W)^{-\top} w,\quad b = (1 - W)^{-1} m .

    It equals the gradient of the Euler network's masked MSE on the
    :class:`~lrbook.tasks.FixedPoint` task (readout on the last 2 steps, both at the
    fixed point) up to the decayed transient (see :func:`fixed_point_readout`).

    Parameters
    ----------
    W : array, shape (..., N, N)
    w, m : array, shape (..., N)
    z_hat : float
        target output.

    Returns
    -------
    ndarray, shape (..., N, N)
        rank one for every network of the stack.
    """
    z_hat = V.real("z_hat", z_hat)
    W, w, m, N = _check_Wwm(W, w, m)
    a, b = gradient_factors(W, w, m)
    z = np.sum(w * b, axis=-1) / N
    return -(z_hat - z)[..., None, None] * a[..., :, None] * b[..., None, :]


# --------------------------------------------------------------------------- large-N sizes
def _g_array(g) -> np.ndarray:
    ga = np.asarray(g, dtype=float)
    if not np.all(np.isfinite(ga)) or np.any(ga < 0) or np.any(ga >= 1):
        bad = ga[~(np.isfinite(ga) & (ga >= 0) & (ga < 1))].ravel()[0]
        raise ValueError(f"g must be >= 0 and < 1 (the linear theory needs a stable W0); got {bad!r}")
    return ga


def beta(g) -> np.ndarray | float:
    r""":math:`\beta = 1 / (1 - g^2)`, the gain of the random bulk on the fixed point.

    Parameters
    ----------
    g : float or array
        in [0, 1).

    Returns
    -------
    float or ndarray, shape of ``g``
    """
    ga = _g_array(g)
    out = 1.0 / (1.0 - ga ** 2)
    return float(out) if out.ndim == 0 else out


def expected_factor_norms(N, g) -> tuple[np.ndarray | float, np.ndarray | float]:
    r"""Large-N averages of the squared gradient factors at initialisation.

    .. math::

        \langle |b|^2 \rangle = N \beta, \qquad \langle N^2 |a|^2 \rangle = N \beta,
        \qquad \beta = \frac{1}{1 - g^2},

    from :math:`b = \sum_k W_0^k m` and :math:`\langle |W_0^k m|^2 \rangle = g^{2k} N`
    (and the same for :math:`N a = \sum_k (W_0^\top)^k w`).

    Parameters
    ----------
    N : int
        >= 1.
    g : float or array
        in [0, 1).

    Returns
    -------
    b2, a2 : float or ndarray
        :math:`N\beta` twice (``a2`` is :math:`N^2 |a|^2`).
    """
    N = V.integer("N", N, lo=1)
    nb = N * np.asarray(beta(g))
    nb = float(nb) if nb.ndim == 0 else nb
    return nb, nb


def network_beta(W0, w, m) -> np.ndarray | float:
    r"""The finite-N gain of one network, :math:`\beta_N = |a_0|\,|b_0|`, whose large-N average is
    :math:`\beta = 1/(1-g^2)`.

    At initialisation the output moves at the rate :math:`dz/d\tau = (\hat z - z)\,|a_0|^2 |b_0|^2`
    (exactly, to first order in :math:`\tau`), so :math:`\beta_N^2` is the network's own
    factor of the effective learning time, :math:`\tilde\tau_N = \beta_N^2 \tau`. It
    fluctuates around :math:`\beta` by :math:`O(N^{-1/2})` relative, more at large g
    (about +-10 % at g = 0.6 and a factor 2 at g = 0.9 for N = 1024); at g = 0 it is 1
    exactly (:math:`|w| = |m| = \sqrt N`).

    Parameters
    ----------
    W0 : array, shape (..., N, N)
        initial recurrent weights.
    w, m : array, shape (..., N)

    Returns
    -------
    float or ndarray, shape (...)
    """
    a, b = gradient_factors(W0, w, m)
    out = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return float(out) if out.ndim == 0 else out


class NetworkParameters(NamedTuple):
    r"""The three numbers of one network that the finite-N series need (:func:`network_parameters`).

    Attributes
    ----------
    z0 : float or ndarray
        initial output :math:`w^\top (1-W_0)^{-1} m / N` (0 at large N).
    beta : float or ndarray
        :math:`\beta_N = |a_0|\,|b_0|` (:math:`\beta = 1/(1-g^2)` at large N).
    nu : float or ndarray
        :math:`\nu = b_0^\top (1 - W_0)^{-1} a_0` (0 on average; :math:`\rho = w^\top m/N` at g = 0).
    """

    z0: np.ndarray | float
    beta: np.ndarray | float
    nu: np.ndarray | float


def network_parameters(W0, w, m) -> NetworkParameters:
    r"""Initial output, gain and overlap of a finite network: the finite-N corrections of the series.

    Along the gradient flow, :math:`\dot W = e\, a b^\top` with :math:`e = \hat z - z`, the
    fixed point and the backward vector move as :math:`\dot b = e\,|b|^2 (1-W)^{-1} a` and
    :math:`\dot a = e\,|a|^2 (1-W)^{-\top} b`, so the rate
    :math:`\kappa = |a|^2 |b|^2` of :math:`\dot z = e\,\kappa` starts to change at first order,

    .. math::

        \dot\kappa(0) = 4\, e_0\, \kappa_0\, \nu, \qquad
        \nu = b_0^\top (1 - W_0)^{-1} a_0 .

    At large N, :math:`\nu \to 0` (w and m are independent), :math:`\kappa_0 \to \beta^2`
    and :math:`z_0 \to 0`; in a network of N = 512-1024 neurons at g = 0.8, :math:`\nu/\beta^2`
    is of order 0.1-0.2 and changes the second-order term of the series by 20-50 %.
    Passing these three numbers to :func:`~lrbook.theory.z_series` and
    :func:`~lrbook.theory.s1_series` gives the series of that network.

    Parameters
    ----------
    W0 : array, shape (..., N, N)
    w, m : array, shape (..., N)

    Returns
    -------
    NetworkParameters
        ``(z0, beta, nu)``, each of shape (...).
    """
    W0, w, m, N = _check_Wwm(W0, w, m)
    a, b = gradient_factors(W0, w, m)
    z0 = np.sum(w * b, axis=-1) / N
    bN = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    nu = np.sum(b * _solve(np.eye(N) - W0, a), axis=-1)
    f = lambda x: float(x) if np.ndim(x) == 0 else x  # noqa: E731
    return NetworkParameters(f(z0), f(bN), f(nu))


def effective_time(tau, g) -> np.ndarray | float:
    r"""Effective learning time :math:`\tilde\tau = \tau / (1 - g^2)^2 = \beta^2 \tau`.

    Parameters
    ----------
    tau : float or array
        learning time :math:`\tau = lr \cdot \mathrm{epoch}` (:func:`learning_time`).
    g : float or array
        in [0, 1); broadcasts against ``tau``.
    """
    t = np.asarray(tau, dtype=float)
    out = t * np.asarray(beta(g)) ** 2
    return float(out) if out.ndim == 0 else out


def learning_time(epochs, lr) -> np.ndarray | float:
    r"""Learning time :math:`\tau = lr \cdot \mathrm{epoch}` (plain gradient descent).

    Parameters
    ----------
    epochs : int or array
        epochs (parameter updates) done.
    lr : float or array
        learning rate(s), > 0; broadcasts against ``epochs``.
    """
    lr_a = np.asarray(lr, dtype=float)
    if np.any(~np.isfinite(lr_a)) or np.any(lr_a <= 0):
        raise ValueError(f"lr must be > 0 and finite; got {lr!r}")
    out = np.asarray(epochs, dtype=float) * lr_a
    return float(out) if out.ndim == 0 else out
