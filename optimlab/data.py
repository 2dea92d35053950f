"""Data sets the chapters train on. All ship with installed packages: nothing is downloaded.

``load_digits`` wraps scikit-learn's bundled 8x8 handwritten digits (1,797 images,
10 classes) as standardized float tensors with a fixed, stratified train/test split.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from optimlab.device import default_device

DIGITS_N_FEATURES = 64
DIGITS_N_CLASSES = 10


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (``N x 64``) and integer labels ``y`` (``N``) of a train or a test set."""

    x: Tensor
    y: Tensor


@dataclass(frozen=True)
class Digits:
    train: Split
    test: Split


@lru_cache(maxsize=4)
def _digits_arrays(test_fraction: float, split_seed: int) -> tuple[np.ndarray, ...]:
    """The split as NumPy arrays, standardized with the training set's statistics only.

    Importing scikit-learn costs over a second, paid by every chapter's kernel; so the split is
    kept in a file in the user's cache folder (keyed by the split and scikit-learn's version)
    and read from there after the first time. Where that folder cannot be written, it is
    simply computed each time.
    """
    cached = _cache_file(test_fraction, split_seed)
    try:
        with np.load(cached) as stored:
            return tuple(stored[name] for name in ("x_train", "y_train", "x_test", "y_test"))
    except (OSError, KeyError, ValueError):
        pass
    arrays = _split_digits(test_fraction, split_seed)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".npz", delete=False) as partial:
            np.savez(partial, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
        os.replace(partial.name, cached)  # atomic: a reader never sees half a file
    except OSError:
        pass
    return arrays


def _cache_file(test_fraction: float, split_seed: int) -> Path:
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "optimlab"
    version = importlib.metadata.version("scikit-learn")
    return folder / f"digits-{test_fraction:g}-{split_seed}-sklearn{version}.npz"


def _split_digits(test_fraction: float, split_seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits as sklearn_load_digits
    from sklearn.model_selection import train_test_split

    x, y = sklearn_load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=split_seed
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    # Border pixels are blank in every training image (std 0): leave them at 0 rather than divide by 0.
    std[std == 0] = 1.0
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def load_digits(
    *,
    test_fraction: float = 0.25,
    split_seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Digits:
    """scikit-learn's digits as standardized tensors, split ``1 - test_fraction`` / ``test_fraction``.

    The split is stratified by class and fixed by ``split_seed``; pixels are standardized
    with the mean and standard deviation of the training images (the test set is not
    looked at). Tensors live on ``device`` (default: :func:`optimlab.device.default_device`).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    device = default_device() if device is None else torch.device(device)
    x_train, y_train, x_test, y_test = _digits_arrays(float(test_fraction), int(split_seed))

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(
            x=torch.as_tensor(x, dtype=dtype, device=device),
            y=torch.as_tensor(y, dtype=torch.long, device=device),
        )

    return Digits(train=split(x_train, y_train), test=split(x_test, y_test))
