r"""Sentiment data: the GLUE SST-2 files, GloVe text embeddings, and the dataset built from them.

Formats (the real ones; lrbook ships a small sample of each, see :func:`sample_dir`):

- **SST-2** (GLUE): a folder ``SST-2/`` with ``train.tsv`` and ``dev.tsv``, each a header
  line ``sentence<TAB>label`` then one tokenized lower-case sentence and its label
  (0 negative, 1 positive) per line; ``test.tsv`` has ``index<TAB>sentence`` and no labels.
- **GloVe** text format: one word per line followed by its vector,
  ``word v1 v2 ... v100``, separated by single spaces, no header
  (``glove.6B.100d.txt``).

:func:`load_sentiment` reads both from one folder and returns a
:class:`SentimentData`: vocabulary, frozen embedding matrix and padded id matrices.
Nothing here touches the network; :func:`lrbook.nlp.download` fetches the real files
where the network allows it (e.g. on Colab).

Explained in the chapter :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validate as V
from ..checks import Table
from ..config import cache_dir
from .vocab import PAD_ID, UNK_ID, Vocab, pad, tokenize

#: Folder name of the GLUE SST-2 files.
SST2_DIR = "SST-2"
#: Header lines of the GLUE SST-2 files.
SST2_HEADER = ("sentence", "label")
SST2_TEST_HEADER = ("index", "sentence")
#: Embedding dimension used by the paper.
GLOVE_DIM = 100
#: Environment variable naming the data folder.
DATA_ENV = "LRBOOK_DATA"


# --------------------------------------------------------------------------- folders
def default_data_dir() -> Path:
    """Folder of the real data: ``$LRBOOK_DATA`` if set, else ``<cache_dir()>/data``."""
    path = os.environ.get(DATA_ENV)
    return Path(path) if path else Path(cache_dir()) / "data"


def sample_dir() -> Path:
    """Folder of the small sample shipped with lrbook (same layout and formats as the real data).

    ``SST-2/train.tsv``, ``SST-2/dev.tsv`` and ``glove.sample.100d.txt``, written by
    ``lrbook/nlp/make_sample.py``.
    """
    return Path(str(resources.files("lrbook").joinpath("data", "sentiment_sample")))


def _as_path(name: str, value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or PathLike); got {type(value).__name__}")
    return Path(value)


def sst2_file(folder: str | os.PathLike, split: str) -> Path:
    """Path of an SST-2 split in ``folder`` (``folder/SST-2/<split>.tsv`` or ``folder/<split>.tsv``).

    Raises
    ------
    FileNotFoundError
        naming both places looked at.
    """
    folder = _as_path("folder", folder)
    V.choice("split", split, ("train", "dev", "test"))
    for p in (folder / SST2_DIR / f"{split}.tsv", folder / f"{split}.tsv"):
        if p.is_file():
            return p
    raise FileNotFoundError(f"no SST-2 {split} file: looked for {folder / SST2_DIR / f'{split}.tsv'} "
                            f"and {folder / f'{split}.tsv'}")


def glove_file(folder: str | os.PathLike, dim: int = GLOVE_DIM) -> Path:
    """Path of a GloVe text file of dimension ``dim`` in ``folder``.

    ``glove.6B.<dim>d.txt`` if present, else the only (first, sorted) ``glove*.<dim>d.txt``.

    Raises
    ------
    FileNotFoundError
    """
    folder = _as_path("folder", folder)
    dim = V.integer("dim", dim, lo=1)
    exact = folder / f"glove.6B.{dim}d.txt"
    if exact.is_file():
        return exact
    found = sorted(folder.glob(f"glove*.{dim}d.txt")) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no GloVe file of dimension {dim} in {folder} "
                                f"(looked for glove.6B.{dim}d.txt and glove*.{dim}d.txt)")
    return found[0]


def available(folder: str | os.PathLike, dim: int = GLOVE_DIM) -> bool:
    """True when ``folder`` holds SST-2 train and dev files and a GloVe file of dimension ``dim``."""
    try:
        sst2_file(folder, "train")
        sst2_file(folder, "dev")
        glove_file(folder, dim)
    except FileNotFoundError:
        return False
    return True


# --------------------------------------------------------------------------- SST-2
def read_sst2(path: str | os.PathLike) -> tuple[list[str], np.ndarray | None]:
    """Read one GLUE SST-2 TSV file.

    Parameters
    ----------
    path : path
        ``train.tsv`` / ``dev.tsv`` (header ``sentence<TAB>label``) or ``test.tsv``
        (header ``index<TAB>sentence``, no labels).

    Returns
    -------
    sentences : list of str
        as in the file, without the trailing blank.
    labels : ndarray of int64, shape (n,), or None
        0 (negative) or 1 (positive); None for an unlabelled test file.

    Raises
    ------
    ValueError
        naming the file and line of a malformed header, line or label.
    """
    path = _as_path("path", path)
    with open(path, encoding="utf-8", newline="") as fh:
        header = tuple(fh.readline().rstrip("\r\n").split("\t"))
        if header not in (SST2_HEADER, SST2_TEST_HEADER):
            raise ValueError(f"{path}: line 1 must be the header 'sentence<TAB>label' (or "
                             f"'index<TAB>sentence' for test.tsv); got {header!r}")
        labelled = header == SST2_HEADER
        sentences: list[str] = []
        labels: list[int] = []
        for lineno, line in enumerate(fh, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            if labelled:
                sentence, sep, label = line.rpartition("\t")
                if not sep or label not in ("0", "1"):
                    raise ValueError(f"{path}: line {lineno} must be 'sentence<TAB>label' with label "
                                     f"0 or 1; got {line[:80]!r}")
                labels.append(int(label))
            else:
                _, sep, sentence = line.partition("\t")
                if not sep:
                    raise ValueError(f"{path}: line {lineno} must be 'index<TAB>sentence'; got {line[:80]!r}")
            sentences.append(sentence.strip())
    return sentences, (np.asarray(labels, dtype=np.int64) if labelled else None)


# --------------------------------------------------------------------------- GloVe
@dataclass
class Embeddings:
    """Word vectors read from a GloVe text file.

    Attributes
    ----------
    words : list of str
        in file order.
    vectors : ndarray of float32, shape (n_words, dim)
    """

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index[word]]


def _glove_lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if line:
                yield lineno, line


def read_glove(path: str | os.PathLike, *, words: Iterable[str] | None = None,
               dim: int | None = None) -> Embeddings:
    """Read a GloVe text file (``word v1 ... vd`` per line).

    Parameters
    ----------
    path : path
    words : iterable of str, optional
        keep only these words (reading the 400k words of ``glove.6B`` but keeping the
        vocabulary's few thousand saves memory); default all.
    dim : int, optional
        expected dimension; default that of the first line.

    Returns
    -------
    Embeddings

    Raises
    ------
    ValueError
        naming the file and line of a line with the wrong number of values or a
        value that is not a number.
    """
    path = _as_path("path", path)
    if dim is not None:
        dim = V.integer("dim", dim, lo=1)
    keep = None if words is None else set(words)
    out_words: list[str] = []
    rows: list[np.ndarray] = []
    for lineno, line in _glove_lines(path):
        parts = line.split(" ")
        if dim is None:
            dim = len(parts) - 1
            if dim < 1:
                raise ValueError(f"{path}: line {lineno} must be 'word v1 ... vd'; got {line[:80]!r}")
        if len(parts) < dim + 1:
            raise ValueError(f"{path}: line {lineno} must hold a word and {dim} numbers; "
                             f"got {len(parts) - 1} fields")
        word = " ".join(parts[:-dim])            # a few GloVe words contain blanks
        if keep is not None and word not in keep:
            continue
        try:
            vec = np.asarray(parts[-dim:], dtype=np.float32)
        except ValueError:
            raise ValueError(f"{path}: line {lineno} must hold {dim} numbers after the word "
                             f"{word!r}") from None
        if not np.all(np.isfinite(vec)):
            raise ValueError(f"{path}: line {lineno} holds a NaN or inf value")
        out_words.append(word)
        rows.append(vec)
    if dim is None:
        raise ValueError(f"{path} holds no vectors")
    vectors = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return Embeddings(out_words, vectors)


def embedding_matrix(vocab: Vocab, embeddings: Embeddings, *, oov: str = "random",
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""The frozen embedding matrix of a vocabulary.

    Row ``i`` is the GloVe vector of ``vocab.itos[i]``. Tokens without a vector get
    ``oov="zeros"`` a zero row, or ``oov="random"`` a random row with the per-dimension
    mean and standard deviation of the found vectors (seeded: ``seed``). The rows of
    ``<pad>`` and ``<unk>`` are zero.

    Parameters
    ----------
    vocab : Vocab
    embeddings : Embeddings
    oov : {"random", "zeros"}
    seed : int

    Returns
    -------
    matrix : ndarray of float32, shape (len(vocab), dim)
    found : ndarray of bool, shape (len(vocab),)
        which tokens have a vector in ``embeddings``.
    """
    V.choice("oov", oov, ("random", "zeros"))
    seed = V.integer("seed", seed, lo=0)
    n, d = len(vocab), embeddings.dim
    out = np.zeros((n, d), dtype=np.float32)
    found = np.zeros(n, dtype=bool)
    for i, tok in enumerate(vocab.itos):
        if i in (PAD_ID, UNK_ID):
            continue
        j = embeddings.index.get(tok)
        if j is not None:
            out[i] = embeddings.vectors[j]
            found[i] = True
    missing = np.flatnonzero(~found)
    missing = missing[missing > UNK_ID]
    if oov == "random" and missing.size:
        ref = out[found] if found.any() else np.zeros((1, d), dtype=np.float32)
        mu, sd = ref.mean(0), ref.std(0) if found.sum() > 1 else np.ones(d, dtype=np.float32)
        rng = np.random.default_rng(seed)
        out[missing] = (mu + sd * rng.standard_normal((missing.size, d))).astype(np.float32)
    return out, found


# --------------------------------------------------------------------------- dataset
@dataclass
class Split:
    """One split of a sentiment dataset, as padded token ids.

    Attributes
    ----------
    tokens : ndarray of int64, shape (n, T)
        ids, right-padded with 0.
    lengths : ndarray of int64, shape (n,)
        tokens per sentence (>= 1).
    labels : ndarray of int64, shape (n,)
        0 negative, 1 positive.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.tokens.ndim != 2 or self.tokens.shape[0] != n or self.lengths.shape != (n,):
            raise ValueError(f"tokens (n, T), lengths (n,) and labels (n,) must agree; got "
                             f"{self.tokens.shape}, {self.lengths.shape}, {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Any) -> Split:
        """Rows ``index`` (copies, trimmed to their longest sentence)."""
        idx = np.arange(len(self))[index]
        lengths = self.lengths[idx]
        T = int(lengths.max()) if lengths.size else 1
        return Split(self.tokens[idx, :T].copy(), lengths.copy(), self.labels[idx].copy())


@dataclass
class SentimentData:
    """A binary sentiment dataset ready for :class:`lrbook.nlp.SentimentLSTM`.

    Attributes
    ----------
    name : str
        ``"sst2"`` (read by :func:`load_sentiment`), ``"synthetic"``
        (:func:`lrbook.nlp.make_synthetic`).
    vocab : Vocab
    embeddings : ndarray of float32, shape (len(vocab), dim)
        frozen word vectors, row = token id.
    train, test : Split
    info : dict
        provenance and counts (folder, files, OOV tokens, ...).
    """

    name: str
    vocab: Vocab
    embeddings: np.ndarray
    train: Split
    test: Split
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def summary(self) -> dict:
        """Counts for a printout: sentences per split, positive fraction, lengths, vocabulary."""
        out: dict[str, Any] = {"name": self.name, "vocab": len(self.vocab), "dim": self.dim}
        for nm, sp in (("train", self.train), ("test", self.test)):
            out[nm] = {"sentences": len(sp), "positive": float(sp.labels.mean()) if len(sp) else float("nan"),
                       "mean_length": float(sp.lengths.mean()) if len(sp) else float("nan")}
        return out

    def table(self) -> Table:
        """The splits as a table: sentences, fraction positive, mean length (words).

        The caption names the data, the vocabulary size and the embedding dimension.
        Shown in :doc:`/book/14_sentiment`.

        Returns
        -------
        lrbook.checks.Table
        """
        s = self.summary()
        rows = [[split, s[split]["sentences"], s[split]["positive"], s[split]["mean_length"]]
                for split in ("train", "test")]
        return Table(["split", "sentences", "positive (fraction)", "mean length (words)"], rows,
                     caption=f"{self.name}: {s['vocab']:,} words in the vocabulary, "
                             f"{s['dim']}-dimensional embeddings")


def _ids(vocab: Vocab, tokens: list[str]) -> np.ndarray:
    """Ids of a tokenized sentence; an empty sentence becomes one ``<unk>``."""
    return vocab.encode(tokens) if tokens else np.array([UNK_ID], dtype=np.int64)


def encode(vocab: Vocab, sentences: Iterable[str], labels: Any, max_len: int | None = None) -> Split:
    """Tokenize and encode sentences into a :class:`Split` (unknown tokens -> ``<unk>``)."""
    tokens, lengths = pad([_ids(vocab, tokenize(s)) for s in sentences], max_len)
    return Split(tokens, lengths, np.asarray(labels, dtype=np.int64))


def load_sentiment(folder: str | os.PathLike, *, dim: int = GLOVE_DIM, test_split: str = "dev",
                   max_len: int | None = None, min_freq: int = 1, oov: str = "random",
                   seed: int = 0) -> SentimentData:
    """SST-2 and GloVe from ``folder``, as a :class:`SentimentData`.

    The labelled GLUE ``dev`` split is the test set (GLUE's ``test.tsv`` has no labels).
    The vocabulary holds every token of the train and test sentences (seen at least
    ``min_freq`` times): the embeddings are frozen, so a test-only word with a GloVe
    vector is a word the classifier can use, and no label is involved.

    Parameters
    ----------
    folder : path
        holds ``SST-2/{train,dev}.tsv`` and ``glove.6B.<dim>d.txt`` (see
        :func:`sst2_file`, :func:`glove_file`); :func:`sample_dir` is such a folder.
    dim : int
        embedding dimension (100 in the paper).
    test_split : {"dev", "test"}
    max_len : int, optional
        truncate sentences to this many tokens.
    min_freq : int
    oov : {"random", "zeros"}
        rows of tokens without a GloVe vector (see :func:`embedding_matrix`).
    seed : int
        of the random OOV rows.

    Returns
    -------
    SentimentData
        ``name="sst2"``; ``info`` holds the files read and the OOV count.
    """
    folder = _as_path("folder", folder)
    V.choice("test_split", test_split, ("dev", "test"))
    f_train, f_test = sst2_file(folder, "train"), sst2_file(folder, test_split)
    f_glove = glove_file(folder, dim)
    s_train, y_train = read_sst2(f_train)
    s_test, y_test = read_sst2(f_test)
    if y_train is None or y_test is None:
        raise ValueError(f"test_split={test_split!r} has no labels ({f_test}); use 'dev'")
    tok_train = [tokenize(s) for s in s_train]
    tok_test = [tokenize(s) for s in s_test]
    vocab = Vocab.build(tok_train + tok_test, min_freq=min_freq)
    emb = read_glove(f_glove, words=vocab.itos, dim=dim)
    matrix, found = embedding_matrix(vocab, emb, oov=oov, seed=seed)
    train = Split(*pad([_ids(vocab, t) for t in tok_train], max_len), y_train)
    test = Split(*pad([_ids(vocab, t) for t in tok_test], max_len), y_test)
    n_real = len(vocab) - 2
    info = {"folder": str(folder), "files": [str(f_train), str(f_test), str(f_glove)],
            "oov_tokens": int(n_real - found.sum()), "oov": oov, "seed": seed, "min_freq": min_freq,
            "max_len": max_len}
    return SentimentData("sst2", vocab, matrix, train, test, info)
