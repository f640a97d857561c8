"""One way to set torch's intra-op threads for a block of code and put them back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads, then restore the number found.

    ``torch.set_num_threads`` is process-wide state (and, under OpenMP, the default of
    threads started later): this puts back the number found on entry when the block
    ends, also after an exception, undoing any ``torch.set_num_threads`` made inside
    the block (by worker threads too). Torch is imported only when the block is
    entered.

    Parameters
    ----------
    n : int or None
        threads for the block, >= 1 (not validated here); None keeps the current
        number for the block (and still restores it at the end).

    Yields
    ------
    int
        the number of threads in effect inside the block.
    """
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)
