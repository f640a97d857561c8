r"""Training the LSTM sentiment classifier (Adam, cross-entropy), with accuracy curves.

The recurrent weights of every layer are snapshot before and after training, split
by gate with :func:`lrbook.analysis.recurrent_weights`, for the analysis of
:mod:`lrbook.nlp.analysis`. Explained in the chapter :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .. import _validate as V
from .._threads import torch_threads
from ..analysis import recurrent_weights
from ..seeding import STREAM_SHUFFLE, rng_for
from .data import SentimentData, Split
from .lstm import SentimentLSTM

#: Training sentences scored (in eval mode) for the training-accuracy curve.
TRAIN_EVAL = 2000


class SentimentDivergedError(RuntimeError):
    """Raised when the training loss becomes NaN or inf."""

    def __init__(self, epoch: int, step: int):
        self.epoch, self.step = epoch, step
        super().__init__(f"training diverged at epoch {epoch} (step {step}): the loss is not finite")


@dataclass
class ClassifierResult:
    """A trained classifier and its learning curves.

    Attributes
    ----------
    model : SentimentLSTM
        the trained network (eval mode).
    epochs : ndarray of int, shape (E + 1,)
        0 (before training) .. E.
    train_loss, train_acc : ndarray, shape (E + 1,)
        cross-entropy and accuracy on (up to) 2000 fixed training sentences, eval mode,
        after each epoch (index 0: before training).
    test_loss, test_acc : ndarray, shape (E + 1,)
        the same on the whole test split.
    step_loss : ndarray, shape (steps,)
        training loss of every batch (train mode, with dropout).
    W_hh0, W_hh : dict of str to ndarray (H, H)
        recurrent blocks before and after training, keys ``"l{layer}.{gate}"``,
        gate in ``i, f, g, o`` (see :func:`lrbook.analysis.recurrent_weights`).
    diverged_epoch : int
        -1 unless training stopped on a non-finite loss (``on_divergence="stop"``).
    seconds : float
    config : dict
    """

    model: SentimentLSTM
    epochs: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    step_loss: np.ndarray
    W_hh0: dict[str, np.ndarray]
    W_hh: dict[str, np.ndarray]
    diverged_epoch: int
    seconds: float
    config: dict = field(default_factory=dict)

    @property
    def dW(self) -> dict[str, np.ndarray]:
        """``W_hh - W_hh0`` per block."""
        return {k: self.W_hh[k] - self.W_hh0[k] for k in self.W_hh}


def batches(split: Split, batch_size: int, rng: np.random.Generator | None = None):
    """Yield ``(tokens, lengths, labels)`` tensors, each batch trimmed to its longest sentence.

    Shuffled with ``rng`` if given, else in order.
    """
    n = len(split)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for lo in range(0, n, batch_size):
        idx = order[lo:lo + batch_size]
        lengths = split.lengths[idx]
        T = int(lengths.max())
        yield (torch.from_numpy(split.tokens[idx, :T]), torch.from_numpy(lengths),
               torch.from_numpy(split.labels[idx]))


@torch.no_grad()
def split_loss_and_accuracy(model: torch.nn.Module, split: Split, batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``split`` (eval mode; mode restored).

    Returns
    -------
    loss, accuracy : float
    """
    batch_size = V.integer("batch_size", batch_size, lo=1)
    was_training = model.training
    model.eval()
    tot_loss, correct, n = 0.0, 0, 0
    try:
        for tok, ln, y in batches(split, batch_size):
            logits = model(tok, ln)
            tot_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += len(y)
    finally:
        model.train(was_training)
    return tot_loss / max(n, 1), correct / max(n, 1)


def train_classifier(data: SentimentData, *, epochs: int = 10, hidden: int = 256, layers: int = 2,
                     dropout: float = 0.5, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                     on_divergence: str = "raise", progress: bool = False,
                     threads: int | None = 1) -> ClassifierResult:
    """Train a :class:`SentimentLSTM` on ``data`` with Adam and report accuracy curves.

    Parameters
    ----------
    data : SentimentData
    epochs : int
        passes over the training split, >= 1.
    hidden, layers, dropout : see :class:`SentimentLSTM`
        the paper: 256, 2, 0.5.
    batch_size : int
        >= 1 (64 in the paper).
    lr : float
        Adam learning rate, > 0.
    seed : int
        initial weights (``SentimentLSTM(seed=seed)``), batch order
        (``rng_for(seed, STREAM_SHUFFLE)``) and dropout masks (a torch generator seeded
        from the same stream).
    on_divergence : {"raise", "stop"}
        on a non-finite loss, raise :class:`SentimentDivergedError` (naming the epoch) or
        stop and return what was trained (``diverged_epoch`` set).
    progress : bool
        tqdm bar over epochs.
    threads : int or None
        torch intra-op threads for this call (default 1: robust when the machine is
        shared, where several threads wait on each other at every time step); None
        keeps torch's setting.

    Returns
    -------
    ClassifierResult
    """
    if not isinstance(data, SentimentData):
        raise TypeError(f"data must be a SentimentData; got {type(data).__name__}")
    epochs = V.integer("epochs", epochs, lo=1)
    batch_size = V.integer("batch_size", batch_size, lo=1)
    lr = V.real("lr", lr, lo=0.0, lo_open=True)
    seed = V.integer("seed", seed, lo=0)
    V.choice("on_divergence", on_divergence, ("raise", "stop"))
    n_threads = None if threads is None else V.integer("threads", threads, lo=1)
    with torch_threads(n_threads):
        model = SentimentLSTM(data.embeddings, hidden=hidden, layers=layers, dropout=dropout, seed=seed)
        W_hh0 = recurrent_weights(model.lstm)
        rng = rng_for(seed, STREAM_SHUFFLE)
        train_eval = data.train.subset(slice(0, min(TRAIN_EVAL, len(data.train))))
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        curves: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}

        def record() -> None:
            for name, sp in (("train", train_eval), ("test", data.test)):
                loss, acc = split_loss_and_accuracy(model, sp)
                curves[f"{name}_loss"].append(loss)
                curves[f"{name}_acc"].append(acc)

        record()
        steps: list[float] = []
        diverged = -1
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs, desc=f"LSTM {data.name}", unit="epoch", leave=False)
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2 ** 62)))          # dropout masks
            for ep in range(1, epochs + 1):
                model.train()
                for tok, ln, y in batches(data.train, batch_size, rng):
                    loss = F.cross_entropy(model(tok, ln), y)
                    if not torch.isfinite(loss):
                        if on_divergence == "raise":
                            raise SentimentDivergedError(ep, len(steps))
                        diverged = ep
                        break
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    steps.append(float(loss.detach()))
                if diverged >= 0:
                    break
                record()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(test_acc=f"{curves['test_acc'][-1]:.3f}")
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        model.eval()
    config: dict[str, Any] = {"data": data.name, "epochs": epochs, "hidden": hidden, "layers": layers,
                              "dropout": dropout, "batch_size": batch_size, "lr": lr, "seed": seed,
                              "optimizer": "adam", "n_train": len(data.train), "n_test": len(data.test)}
    n_rec = len(curves["test_acc"])
    return ClassifierResult(model=model, epochs=np.arange(n_rec), step_loss=np.asarray(steps),
                            W_hh0=W_hh0, W_hh=recurrent_weights(model.lstm), diverged_epoch=diverged,
                            seconds=seconds, config=config,
                            **{k: np.asarray(v) for k, v in curves.items()})
