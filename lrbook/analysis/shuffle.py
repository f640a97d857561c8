r"""The shuffle test: is the learned change tied to the particular random :math:`W_0`?

Permuting the entries of :math:`W_0` keeps its statistics (the same multiset of
weights, hence the same ``g`` and the same spectral radius for large N) but
destroys its relation to :math:`\Delta W`. If the loss of
:math:`W_0^{\mathrm{shuffled}} + \Delta W` returns to the initial loss
:math:`L_0`, the change was built *for* that :math:`W_0` (claim 3 of the paper,
:doc:`/book/05_randomness`). The permutations come from the stream
:data:`lrbook.models.STREAM_SHUFFLE` of the network's seed.

The ratio has one definition, :func:`shuffle_ratio`, used by every caller
(:class:`ShuffleTest`, :class:`~lrbook.analysis.Report`,
:class:`~lrbook.analysis.Evaluation`): the test loss of :math:`\pi(W_0) + \Delta W`
(every other weight as trained), averaged over the shuffles, divided by the
initial loss :math:`L_0`, the test loss of the untrained network on the same test
trials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validate as V
from ..seeding import STREAM_SHUFFLE, rng_for
from ._arrays import jsonable, matrices, same_shape


def shuffle_entries(W0: Any, seed: int | Sequence[int] | np.random.Generator = 0, n: int | None = None
                    ) -> np.ndarray:
    """Randomly permute all N*N entries of ``W0`` (each matrix of a stack separately).

    See :doc:`/book/05_randomness`.

    Parameters
    ----------
    W0 : array or Tensor, shape (N, N) or (K, N, N)
    seed : int, sequence of K ints, or numpy Generator
        an int seeds :func:`lrbook.models.rng_for` ``(seed, STREAM_SHUFFLE)``; a
        sequence gives one seed per matrix of a stack (the network seeds); a
        Generator is used as is (shared by the stack).
    n : int, optional
        number of independent shuffles; when given the result has a leading axis n.

    Returns
    -------
    ndarray, shape of ``W0``, or (n,) + shape of ``W0``
        float64; each matrix holds exactly the entries of the corresponding
        ``W0`` in a new order.

    Raises
    ------
    ValueError
        if a seed is negative, ``n < 1``, or a sequence of seeds does not have one
        entry per matrix.
    """
    w0 = matrices("W0", W0, square=False)
    if n is not None:
        n = V.integer("n", n, lo=1)
    stack = w0.reshape((-1,) + w0.shape[-2:])
    K = stack.shape[0]
    if isinstance(seed, np.random.Generator):
        rngs = [seed] * K
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        rngs = [rng_for(V.integer("seed", seed, lo=0), STREAM_SHUFFLE)] * K
    else:
        seeds = list(np.asarray(seed).ravel())
        if len(seeds) != K:
            raise ValueError(f"seed must be one integer or {K} integers (one per matrix); got {len(seeds)}")
        rngs = [rng_for(V.integer(f"seed[{i}]", s, lo=0), STREAM_SHUFFLE) for i, s in enumerate(seeds)]
    reps = 1 if n is None else n
    out = np.empty((reps,) + stack.shape)
    flat = stack.reshape(K, -1)
    for k in range(K):
        for i in range(reps):
            out[i, k] = flat[k][rngs[k].permutation(flat.shape[1])].reshape(stack.shape[1:])
    out = out.reshape((reps,) + w0.shape)
    return out[0] if n is None else out


def shuffle_ratio(shuffle_losses: Any, L0: Any) -> float | np.ndarray:
    r"""The shuffle ratio: mean loss of a shuffled :math:`W_0` plus :math:`\Delta W`, over :math:`L_0`.

    .. math:: \rho = \frac{\big\langle L\big(\pi(W_0) + \Delta W\big)\big\rangle_\pi}{L_0}

    The numerator is the test loss of the network with its recurrent matrix replaced by
    :math:`\pi(W_0) + \Delta W` (a random permutation :math:`\pi` of the entries of
    :math:`W_0`, every other weight as trained), averaged over the shuffles; the
    denominator :math:`L_0` is the test loss of the *untrained* network (all weights at
    their initial values) on the same test trials. Near 0: :math:`\Delta W` works on
    any random background; near 1: the network is back to where it started. This is
    the one definition of the ratio in lrbook and the book
    (:doc:`/book/05_randomness`, :doc:`/book/15_own_network`).

    Parameters
    ----------
    shuffle_losses : array-like, shape (..., n_shuffles)
        losses of :math:`\pi(W_0) + \Delta W`, one per shuffle (last axis), for one
        network (1-d) or a stack of networks.
    L0 : float or array-like, shape (...)
        the untrained network's loss on the same test trials, >= 0 (one per network).

    Returns
    -------
    float or ndarray, shape (...)
        a float for one network. NaN where ``L0`` is 0 or NaN, or where there are no
        shuffles (``n_shuffles == 0``).

    Raises
    ------
    ValueError
        if ``shuffle_losses`` is 0-d, ``L0`` is negative, or the shapes do not match.

    Examples
    --------
    >>> shuffle_ratio([0.3, 0.5], 0.5)
    0.8
    >>> shuffle_ratio([[0.3, 0.5], [0.1, 0.1]], [0.5, 0.2]).tolist()
    [0.8, 0.5]
    """
    losses = np.asarray(shuffle_losses, dtype=np.float64)
    ref = np.asarray(L0, dtype=np.float64)
    if losses.ndim == 0:
        raise ValueError("shuffle_losses must have a last axis of shuffles, shape (..., n_shuffles); got a scalar")
    if ref.shape != losses.shape[:-1]:
        raise ValueError(f"L0 must have shape {losses.shape[:-1]} (one per network of shuffle_losses "
                         f"{losses.shape}); got {ref.shape}")
    if np.any(ref < 0):
        raise ValueError(f"L0 must be >= 0; got {ref.tolist()}")
    n = losses.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = losses.sum(axis=-1) / n if n else np.full(ref.shape, np.nan)
        out = np.where(ref > 0, mean / np.where(ref > 0, ref, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


@dataclass
class ShuffleTest:
    r"""Result of :func:`shuffle_test` for one network.

    See :doc:`/book/05_randomness`.

    Attributes
    ----------
    losses : ndarray, shape (n_shuffles,)
        loss of :math:`\mathrm{shuffle}(W_0) + \Delta W` for each shuffle.
    L0 : float
        the untrained network's loss on the same test trials (denominator of
        :func:`shuffle_ratio`).
    loss_trained : float
        loss of :math:`W_0 + \Delta W` (NaN if not measured).
    seed : int
        seed of the shuffles (stream ``STREAM_SHUFFLE``).
    """

    losses: np.ndarray
    L0: float
    loss_trained: float
    seed: int

    @property
    def ratio(self) -> float:
        r"""The shuffle ratio (:func:`shuffle_ratio`) of ``losses`` and ``L0``.

        Near 1: the change only works with its own :math:`W_0`.
        """
        return float(shuffle_ratio(self.losses, self.L0))

    def to_dict(self) -> dict:
        """The fields and :attr:`ratio` as JSON types (NaN as None).

        Returns
        -------
        dict
        """
        return {"losses": jsonable(self.losses), "L0": jsonable(self.L0),
                "loss_trained": jsonable(self.loss_trained), "seed": self.seed,
                "ratio": jsonable(self.ratio)}


def shuffle_test(loss_fn: Callable[[Any], float], W0: Any, dW: Any, *, seed: int = 0,
                 n_shuffles: int = 1, L0: float | None = None) -> ShuffleTest:
    r"""Loss of a shuffled :math:`W_0` plus the trained :math:`\Delta W`, one network.

    .. math:: \rho = \frac{L\big(\pi(W_0) + \Delta W\big)}{L_0}

    See :doc:`/book/05_randomness`.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(W) -> float`` (receives a float64 numpy array (N, N)).
    W0, dW : array or Tensor, shape (N, N)
    seed : int
        >= 0, seeds the permutations (stream ``STREAM_SHUFFLE``).
    n_shuffles : int
        >= 1; the ratio averages the losses.
    L0 : float, optional
        the untrained network's loss on the same test trials as ``loss_fn``
        (denominator of :func:`shuffle_ratio`); default ``loss_fn(W0)``, which is
        that loss only when the recurrent matrix is the only trained weight.

    Returns
    -------
    ShuffleTest
        ``loss_trained`` is ``loss_fn(W0 + dW)``.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, loss_fn(W) -> float; got {type(loss_fn).__name__}")
    w0 = matrices("W0", W0, square=False)
    d = matrices("dW", dW, square=False)
    same_shape("W0", w0, "dW", d)
    if w0.ndim != 2:
        raise ValueError(f"W0 must have shape (N, N) for shuffle_test; got {w0.shape}")
    seed = V.integer("seed", seed, lo=0)
    n_shuffles = V.integer("n_shuffles", n_shuffles, lo=1)
    ref = float(loss_fn(w0)) if L0 is None else V.real("L0", L0, lo=0.0)
    shuffled = shuffle_entries(w0, seed, n=n_shuffles)
    losses = np.array([float(loss_fn(s + d)) for s in shuffled])
    return ShuffleTest(losses=losses, L0=ref, loss_trained=float(loss_fn(w0 + d)), seed=seed)
