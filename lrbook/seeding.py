"""Random streams: one numpy Generator per (network seed, purpose).

The lowest layer of lrbook (numpy only): every random draw of the package (the
initialisation, the training and evaluation trials, the state noise, the shuffles)
comes from :func:`rng_for`, so a network draws the same numbers alone or inside an
ensemble. See :doc:`/book/01_tasks` (reproducibility of every draw).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rng_for", "STREAM_INIT", "STREAM_DATA", "STREAM_NOISE", "STREAM_EVAL", "STREAM_SHUFFLE",
           "STREAM_FACTORS"]

#: Random streams derived from one network seed (independent by construction); the
#: last, ``STREAM_FACTORS``, draws the initial factor V0 of a rank-constrained run
#: (:mod:`lrbook.factors`).
STREAM_INIT, STREAM_DATA, STREAM_NOISE, STREAM_EVAL, STREAM_SHUFFLE, STREAM_FACTORS = range(6)


def _seed_sequence(seed: int, stream: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), int(stream)])


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """The numpy Generator of ``stream`` for a network ``seed``.

    Streams: 0 init, 1 training data, 2 state noise, 3 evaluation data, 4 shuffles,
    5 low-rank factors (:data:`STREAM_INIT` ... :data:`STREAM_FACTORS`). The generator is seeded with
    ``numpy.random.SeedSequence([seed, stream])``, so streams are independent and
    a network draws the same numbers alone or inside an ensemble.

    See :doc:`/book/01_tasks` (reproducibility of every draw).

    Parameters
    ----------
    seed : int
        the network seed, >= 0.
    stream : int
        one of the ``STREAM_*`` constants.

    Returns
    -------
    numpy.random.Generator
        a fresh generator: two calls with the same arguments give the same draws.
    """
    return np.random.default_rng(_seed_sequence(seed, stream))
