r"""The rate RNN of the paper, as an ensemble of K independent networks.

.. math::

    x_{t+1} = (1 - \Delta t)\, x_t + \Delta t\, \big(W \phi(x_t) + W_{in}^\top u_t\big)
              + \sqrt{\Delta t}\,\sigma\,\xi_t, \qquad z_t = W_{out}^\top \phi(x_{t+1})

Initialisation (Schuessler et al. 2020, section 2): :math:`W_0 = g\,\chi` with
:math:`\chi_{ij} \sim \mathcal N(0, 1/N)`; input vectors ``m`` (rows of ``W_in``)
and output vectors ``w`` are Gaussian, normalised to norm exactly
:math:`\sqrt N`; ``W_out = w / N``.

Explained in the chapter :doc:`/book/01_tasks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import _memory, engine
from . import _validate as V
from .seeding import (  # noqa: F401  (re-exported: ``from lrbook.models import rng_for`` works)
    STREAM_DATA,
    STREAM_EVAL,
    STREAM_INIT,
    STREAM_NOISE,
    STREAM_SHUFFLE,
    rng_for,
)

PARAMS = ("W_in", "W", "W_out")


def init_weights(N: int, n_in: int, n_out: int, g: float, seed: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Paper initialisation of one network (float64 numpy).

    .. math::

        W_0 = g\,\chi, \quad \chi_{ij} \sim \mathcal N(0, 1/N), \qquad
        |m_i| = |w_k| = \sqrt N, \qquad W_{out} = w / N,

    with Gaussian directions for the input vectors :math:`m_i` and the output
    vectors :math:`w_k`, all drawn from ``rng_for(seed, STREAM_INIT)``: networks of
    one seed share :math:`\chi`, ``m`` and ``w`` whatever ``g``. The arguments are not
    validated here (see :meth:`RNN.create`).

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    N : int
        neurons.
    n_in, n_out : int
        input and output dimensions.
    g : float
        initial connectivity strength.
    seed : int
        network seed.

    Returns
    -------
    W_in : ndarray, shape (n_in, N)
        rows are the input vectors ``m``, :math:`|m| = \sqrt N`.
    W0 : ndarray, shape (N, N)
        :math:`g \chi`, :math:`\chi_{ij} \sim \mathcal N(0, 1/N)`.
    W_out : ndarray, shape (N, n_out)
        columns ``w / N`` with :math:`|w| = \sqrt N`.
    """
    rng = rng_for(seed, STREAM_INIT)
    chi = rng.standard_normal((N, N)) / np.sqrt(N)
    m = rng.standard_normal((n_in, N))
    m *= np.sqrt(N) / np.linalg.norm(m, axis=1, keepdims=True)
    w = rng.standard_normal((N, n_out))
    w *= np.sqrt(N) / np.linalg.norm(w, axis=0, keepdims=True)
    return m, g * chi, w / N


class _Ensemble:
    """K networks of N neurons, read off the stacked recurrent weights ``W`` (K, N, N).

    Shared by :class:`RNN` (tensors) and :class:`lrbook.training.TrainResult` (arrays).
    """

    W: Any

    @property
    def K(self) -> int:
        """Number of networks."""
        return self.W.shape[0]

    @property
    def N(self) -> int:
        """Neurons per network."""
        return self.W.shape[-1]


@dataclass
class RNN(_Ensemble):
    r"""An ensemble of K independent rate RNNs in stacked tensors.

    Use :meth:`RNN.create` to initialise; K = 1 is the single-network case.

    See :doc:`/book/01_tasks`.

    Attributes
    ----------
    W : Tensor, shape (K, N, N)
        recurrent weights (``W[k, i, j]``: from neuron j to neuron i).
    W_in : Tensor, shape (K, n_in, N)
        input weights; row ``i`` is the input vector ``m_i``.
    W_out : Tensor, shape (K, N, n_out)
        readout; column ``k`` is ``w_k / N``.
    g : ndarray, shape (K,)
        initial connectivity strength of each network.
    seeds : ndarray, shape (K,)
        seed of each network (initialisation, data and noise streams).
    dt : float
        Euler step.
    phi : {"tanh", "linear", "relu", "softplus"}
        the nonlinearity :math:`\phi`.
    sigma : float
        state-noise strength (0 in the paper's experiments).
    trained : tuple of str
        which of ``"W_in", "W", "W_out"`` training updates.
    x0_mode : {"zero", "input"}
        initial state 0, or the first input vector ``m_1`` (see :meth:`x0`).
    K, N : int
        properties: the number of networks and of neurons per network (the shape of ``W``).
    """

    W: torch.Tensor
    W_in: torch.Tensor
    W_out: torch.Tensor
    g: np.ndarray
    seeds: np.ndarray
    dt: float = 0.5
    phi: str = "tanh"
    sigma: float = 0.0
    trained: tuple[str, ...] = PARAMS
    x0_mode: str = "zero"
    _noise_gens: list = field(default_factory=list, repr=False)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def create(cls, N: int, n_in: int, n_out: int, g: float | Sequence[float] = 0.0,
               seeds: int | Sequence[int] = 0, *, dt: float = 0.5, phi: str = "tanh",
               sigma: float = 0.0, trained: Sequence[str] = PARAMS, x0_mode: str = "zero",
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> RNN:
        """Initialise an ensemble with the paper's initialisation.

        ``g`` and ``seeds`` broadcast against each other: ``g=[0, 0.9], seeds=[0, 1, 2]``
        is an error, ``g=[0, 0.9], seeds=0`` gives two networks that share the
        random matrix chi (seed 0) at two strengths.

        Parameters
        ----------
        N : int
            neurons, >= 1 (the weights must fit in the available memory).
        n_in, n_out : int
            input and output dimensions, >= 1.
        g : float or sequence of float
            >= 0 and finite, with ``W0 = g chi`` representable in ``dtype``; at most
            :data:`lrbook._validate.MAX_NETWORKS` networks in all.
        seeds : int or sequence of int
            0 .. 2**63 - 1.
        dt : float
            in (0, 1].
        phi : {"tanh", "linear", "relu", "softplus"}
        sigma : float
            >= 0.
        trained : sequence of {"W_in", "W", "W_out"}
            at least one; stored in the order ``W_in, W, W_out``.
        x0_mode : {"zero", "input"}
            initial state 0 or the first input vector ``m``.
        device : str or torch.device
            where the weights live (default CPU): ``"cpu"``, ``"cuda"``, ``"cuda:<index>"``
            or ``"mps"``, one this machine has.
        dtype : torch.dtype
            of the weights, ``torch.float32`` (default) or ``torch.float64``; drawn in
            float64, then cast.

        Returns
        -------
        RNN
            K = max(len(g), len(seeds)) networks; network k is
            :func:`init_weights` ``(N, n_in, n_out, g[k], seeds[k])``.

        Raises
        ------
        ValueError, TypeError
            for an argument out of range, naming it; a ValueError also when the
            weights of N neurons x K networks would not fit in the available memory
            (before anything is allocated).
        """
        N = V.integer("N", N, lo=1)
        n_in = V.integer("n_in", n_in, lo=1)
        n_out = V.integer("n_out", n_out, lo=1)
        gs, sd = V.g_and_seeds(g, seeds)
        V.real("dt", dt, lo=0.0, hi=1.0, lo_open=True)
        V.choice("phi", phi, engine.PHIS)
        V.real("sigma", sigma, lo=0.0)
        V.choice("x0_mode", x0_mode, ("zero", "input"))
        trained = tuple(trained)
        for p in trained:
            V.choice("trained", p, PARAMS)
        if not trained:
            raise ValueError("trained must name at least one of W_in, W, W_out; got ()")
        device = V.torch_device("device", device)
        dtype = V.torch_dtype("dtype", dtype)
        big = float(torch.finfo(dtype).max)
        V.real("sigma", sigma, lo=0.0, hi=big)
        K = len(gs)
        _memory.check(_memory.weights_bytes(N, K, n_in, n_out, torch.finfo(dtype).bits // 8),
                      {"N": N, "K": K})
        mats = []
        for gi, si in zip(gs, sd):
            m = init_weights(N, n_in, n_out, gi, si)
            top = float(np.max(np.abs(m[1]))) if gi > 0 else 0.0
            if not (np.isfinite(top) and top <= big):
                raise ValueError(f"g={gi:g} is not representable in {str(dtype).replace('torch.', '')}: "
                                 f"W0 = g chi has entries of size {top:.3g} > {big:.3g}; g must be smaller")
            mats.append(m)
        as_t = lambda i: torch.as_tensor(np.stack([m[i] for m in mats]), dtype=dtype).to(device)  # noqa: E731
        return cls(W=as_t(1), W_in=as_t(0), W_out=as_t(2), g=np.asarray(gs, dtype=float),
                   seeds=np.asarray(sd, dtype=np.int64), dt=float(dt), phi=phi,
                   sigma=float(sigma), trained=tuple(p for p in PARAMS if p in trained),
                   x0_mode=x0_mode)

    # -- shape helpers (K and N: _Ensemble) ---------------------------------------------
    @property
    def n_in(self) -> int:
        """Input dimension."""
        return self.W_in.shape[1]

    @property
    def n_out(self) -> int:
        """Output dimension."""
        return self.W_out.shape[2]

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return self.W.device

    def params(self) -> dict[str, torch.Tensor]:
        """``{"W_in": ..., "W": ..., "W_out": ...}``, the weight tensors themselves (not copies)."""
        return {"W_in": self.W_in, "W": self.W, "W_out": self.W_out}

    def clone(self) -> RNN:
        """A deep copy of the weights (same metadata)."""
        return RNN(W=self.W.clone(), W_in=self.W_in.clone(), W_out=self.W_out.clone(),
                   g=self.g.copy(), seeds=self.seeds.copy(), dt=self.dt, phi=self.phi,
                   sigma=self.sigma, trained=self.trained, x0_mode=self.x0_mode)

    def subset(self, index: Sequence[int] | slice) -> RNN:
        """The networks ``index`` as a new ensemble (copies).

        Parameters
        ----------
        index : sequence of int or slice
            positions among the K networks (repeats allowed).

        Returns
        -------
        RNN
            ``len(index)`` networks with their weights, ``g`` and ``seeds``.
        """
        idx = np.arange(self.K)[index]
        ti = torch.as_tensor(idx, device=self.device)
        return RNN(W=self.W[ti].clone(), W_in=self.W_in[ti].clone(), W_out=self.W_out[ti].clone(),
                   g=self.g[idx].copy(), seeds=self.seeds[idx].copy(), dt=self.dt, phi=self.phi,
                   sigma=self.sigma, trained=self.trained, x0_mode=self.x0_mode)

    def with_weights(self, W: torch.Tensor | None = None, W_in: torch.Tensor | None = None,
                     W_out: torch.Tensor | None = None) -> RNN:
        """A copy with some weights replaced (e.g. a truncated ``W``).

        Parameters
        ----------
        W : array or Tensor, shape (K, N, N), optional
        W_in : array or Tensor, shape (K, n_in, N), optional
        W_out : array or Tensor, shape (K, N, n_out), optional
            the new weights (cast to the model's dtype and device, copied); None
            keeps the current ones.

        Returns
        -------
        RNN
            a new ensemble; ``self`` is unchanged.

        Raises
        ------
        ValueError
            if a new weight has the wrong shape.
        """
        new = self.clone()
        for name, val in (("W", W), ("W_in", W_in), ("W_out", W_out)):
            if val is not None:
                ref = getattr(self, name)
                val = torch.as_tensor(val, dtype=ref.dtype, device=ref.device)
                if val.shape != ref.shape:
                    raise ValueError(f"{name} must have shape {tuple(ref.shape)}; got {tuple(val.shape)}")
                setattr(new, name, val.clone())
        return new

    # -- running ----------------------------------------------------------------------
    def _inputs(self, u) -> torch.Tensor:
        u = _finite("u", u, self.W.dtype, self.device)
        if u.dim() == 3:                           # (B, T, n_in): same trials for all K
            u = u.unsqueeze(0).expand(self.K, *u.shape)
        if u.dim() != 4 or u.shape[0] != self.K or u.shape[-1] != self.n_in:
            raise ValueError(f"u must have shape (B, T, {self.n_in}) or ({self.K}, B, T, {self.n_in}); "
                             f"got {tuple(u.shape)}")
        return u.transpose(1, 2).contiguous()       # time-major (K, T, B, n_in)

    def x0(self, B: int) -> torch.Tensor | None:
        """Initial state of every trial.

        Parameters
        ----------
        B : int
            batch size (unused: the state broadcasts over trials).

        Returns
        -------
        Tensor, shape (K, 1, N), or None
            the first input vector ``W_in[:, 0]`` (a view, not detached: through
            :meth:`forward` the gradient of the initial state reaches ``W_in``) when
            ``x0_mode`` is ``"input"``; None (zeros) otherwise.
        """
        if self.x0_mode == "input":
            return self.W_in[:, :1, :]
        return None

    def noise(self, T: int, B: int, generators: Sequence[torch.Generator] | None = None
              ) -> torch.Tensor | None:
        r"""State noise :math:`\sqrt{\Delta t}\,\sigma\,\xi_t` of every step.

        Parameters
        ----------
        T, B : int
            time steps and trials.
        generators : sequence of K torch.Generator, optional
            one per network; default fresh generators seeded from each network's
            stream ``STREAM_NOISE`` (so every call without them repeats the same noise).

        Returns
        -------
        Tensor, shape (K, T, B, N), or None
            standard normal :math:`\xi` scaled by ``sqrt(dt) * sigma``; None when
            ``sigma == 0``.
        """
        if self.sigma == 0.0:
            return None
        if generators is None:
            generators = [torch.Generator().manual_seed(int(rng_for(s, STREAM_NOISE).integers(2**62)))
                          for s in self.seeds]
        xi = torch.stack([torch.randn(T, B, self.N, generator=gen) for gen in generators])
        return xi.to(self.device, self.W.dtype).mul_(np.sqrt(self.dt) * self.sigma)

    def forward(self, u, noise_generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
        r"""Outputs for inputs ``u``, differentiable in the weights.

        Parameters
        ----------
        u : array or Tensor, shape (B, T, n_in) or (K, B, T, n_in)
            inputs, batch-first; 3-d inputs are shared by all K networks.
        noise_generators : sequence of K torch.Generator, optional
            passed to :meth:`noise` (only used when ``sigma > 0``).

        Returns
        -------
        z : Tensor, shape (K, B, T, n_out)
            :math:`z_t = W_{out}^\top \phi(x_{t+1})`, t = 0..T-1.

        Raises
        ------
        ValueError
            if ``u`` has the wrong shape, or holds NaN/inf (after the cast to the
            weights' dtype: 1e308 is inf in float32).
        """
        ut = self._inputs(u)
        K, T, B, _ = ut.shape
        z = engine.EulerRNN.apply(self.W_in, self.W, self.W_out, ut, self.dt, self.phi,
                                  self.x0(B), self.noise(T, B, noise_generators))
        return z.transpose(1, 2)

    __call__ = forward

    @torch.no_grad()
    def simulate(self, u) -> Trajectory:
        """Run without gradients and return states and outputs.

        Parameters
        ----------
        u : array or Tensor, shape (B, T, n_in) or (K, B, T, n_in)
            inputs, as in :meth:`forward`.

        Returns
        -------
        Trajectory
            ``r`` (K, B, T+1, N) rates from t = 0, ``z`` (K, B, T, n_out).
        """
        ut = self._inputs(u)
        K, T, B, _ = ut.shape
        z, ws = engine.forward(self.W_in, self.W, self.W_out, ut, dt=self.dt, phi=self.phi,
                               x0=self.x0(B), noise=self.noise(T, B))
        return Trajectory(r=ws.rates().transpose(1, 2).clone(), z=z.transpose(1, 2).clone())

    @torch.no_grad()
    def loss(self, u, target, mask) -> torch.Tensor:
        """Masked MSE of each network (see :func:`lrbook.engine.masked_mse`), without gradients.

        Parameters
        ----------
        u : array or Tensor, shape (B, T, n_in) or (K, B, T, n_in)
        target, mask : array or Tensor, shape (B, T, n_out) or (K, B, T, n_out)
            3-d arrays are shared by all K networks.

        Returns
        -------
        Tensor, shape (K,)

        Raises
        ------
        ValueError
            if an array holds NaN/inf, or ``mask`` a negative weight.
        """
        ut = self._inputs(u)
        K, T, B, _ = ut.shape
        z, _ = engine.forward(self.W_in, self.W, self.W_out, ut, dt=self.dt, phi=self.phi,
                              x0=self.x0(B), noise=self.noise(T, B), trajectory=False)
        tt = self._targets(target, "target")
        mt = self._targets(mask, "mask")
        return engine.masked_mse(z, tt, mt)[0]

    def _targets(self, y, name: str = "target") -> torch.Tensor:
        y = _finite(name, y, self.W.dtype, self.device)
        if y.dim() == 3:
            y = y.unsqueeze(0).expand(self.K, *y.shape)
        return y.transpose(1, 2).contiguous()


def _finite(name: str, x, dtype: torch.dtype, device) -> torch.Tensor:
    """``x`` as a tensor of ``dtype``; ValueError naming ``name`` for NaN, inf or a value
    that ``dtype`` cannot represent (e.g. 1e308 in float32)."""
    try:
        t = torch.as_tensor(x, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a real array or tensor; got {type(x).__name__} ({err})") from None
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} must hold finite values representable in {str(dtype).replace('torch.', '')}; "
                         f"got {bad} NaN/inf entries (after the cast)")
    return t


@dataclass
class Trajectory:
    """States and outputs of a simulation.

    Returned by :meth:`RNN.simulate`; see :doc:`/book/01_tasks`.

    Attributes
    ----------
    r : Tensor, shape (K, B, T+1, N)
        rates ``phi(x_t)``, t = 0..T.
    z : Tensor, shape (K, B, T, n_out)
        outputs.
    """

    r: torch.Tensor
    z: torch.Tensor
