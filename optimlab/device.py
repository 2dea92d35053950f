"""Where experiments run: the GPU when there is one, the CPU otherwise; on the CPU, one thread."""

import contextlib
from collections.abc import Iterator

import torch


def default_device() -> torch.device:
    """``cuda`` when a CUDA device is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block, then restore the thread count.

    The chapters' experiments are many tiny operations (small networks, stacked sweeps):
    splitting each over threads costs more in synchronization than it saves, and where the
    cores are shared (a build running chapters side by side) waiting threads make such loops
    tens of times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
