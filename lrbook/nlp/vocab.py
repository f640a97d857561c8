r"""Tokenizer and vocabulary for the sentiment chapter.

The tokenizer follows the conventions of the GLUE SST-2 files and of the GloVe
vocabulary (lower case, Penn-Treebank-like clitics): ``"Don't miss it!"`` becomes
``["do", "n't", "miss", "it", "!"]``. SST-2 sentences are already tokenized this
way, so tokenizing one and joining the tokens with spaces gives the sentence back.

The vocabulary maps tokens to integer ids, with two reserved ids: ``0`` for
padding (``<pad>``) and ``1`` for every unknown token (``<unk>``).

Explained in the chapter :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

_CLITIC_NT = re.compile(r"(\w)n't\b")
_CLITIC = re.compile(r"(\w)'(s|re|ve|ll|d|m)\b")
_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-']\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split a sentence into lower-case tokens (words, clitics, punctuation).

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str
        e.g. ``tokenize("It's not bad, really.")`` is
        ``["it", "'s", "not", "bad", ",", "really", "."]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    s = text.lower()
    s = _CLITIC_NT.sub(r"\1 n't", s)
    s = _CLITIC.sub(r"\1 '\2", s)
    return _TOKEN.findall(s)


@dataclass
class Vocab:
    """A token <-> id mapping with ``<pad>`` = 0 and ``<unk>`` = 1.

    Attributes
    ----------
    itos : list of str
        token of each id (``itos[0] == "<pad>"``, ``itos[1] == "<unk>"``).
    stoi : dict of str to int
        id of each token.
    counts : dict of str to int
        how often each token occurred in the text the vocabulary was built from.
    """

    itos: list[str]
    stoi: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"itos must start with {PAD!r}, {UNK!r}; got {self.itos[:2]!r}")
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("itos must not contain a token twice")
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_freq: int = 1,
              max_size: int | None = None) -> Vocab:
        """Vocabulary of tokenized sentences, most frequent tokens first (ties alphabetical).

        Parameters
        ----------
        sentences : iterable of sequences of str
            tokenized sentences (see :func:`tokenize`).
        min_freq : int
            keep tokens seen at least this often, >= 1.
        max_size : int, optional
            keep at most this many tokens (besides ``<pad>`` and ``<unk>``), >= 0.
        """
        min_freq = V.integer("min_freq", min_freq, lo=1)
        if max_size is not None:
            max_size = V.integer("max_size", max_size, lo=0)
        counter: Counter[str] = Counter()
        for s in sentences:
            if isinstance(s, str):
                raise TypeError("sentences must be tokenized (sequences of tokens), not strings; "
                                "use tokenize() first")
            counter.update(s)
        for special in (PAD, UNK):
            counter.pop(special, None)
        kept = sorted((t for t, c in counter.items() if c >= min_freq), key=lambda t: (-counter[t], t))
        if max_size is not None:
            kept = kept[:max_size]
        return cls([PAD, UNK] + kept, counts={t: counter[t] for t in kept})

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of ``tokens`` (unknown tokens -> 1), int64 array of shape (len(tokens),)."""
        return np.fromiter((self.stoi.get(t, UNK_ID) for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``; padding (id 0) is dropped."""
        out = []
        n = len(self.itos)
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"ids must be in 0..{n - 1}; got {i}")
            if i != PAD_ID:
                out.append(self.itos[i])
        return out


def pad(sequences: Sequence[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack id sequences into a padded matrix.

    Parameters
    ----------
    sequences : sequence of int arrays
        token ids of each sentence (length >= 1).
    max_len : int, optional
        truncate longer sentences to their first ``max_len`` tokens, >= 1.

    Returns
    -------
    tokens : ndarray of int64, shape (n, T)
        ``T`` the longest (truncated) length; padded with 0 on the right.
    lengths : ndarray of int64, shape (n,)
    """
    if max_len is not None:
        max_len = V.integer("max_len", max_len, lo=1)
    lengths = np.array([len(s) if max_len is None else min(len(s), max_len) for s in sequences], dtype=np.int64)
    if lengths.size and lengths.min() < 1:
        raise ValueError(f"sequences must all have length >= 1; sequence {int(np.argmin(lengths))} is empty")
    T = int(lengths.max()) if lengths.size else 1
    out = np.zeros((len(sequences), T), dtype=np.int64)
    for i, (s, n) in enumerate(zip(sequences, lengths)):
        out[i, :n] = np.asarray(s, dtype=np.int64)[:n]
    return out, lengths
