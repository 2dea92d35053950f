"""Checkpoints that resume training exactly: what to save, how to write it safely, how to load it.

Resuming is exact (bit-identical to a run that never stopped) only when everything the rest
of the run depends on comes back:

- the model's, the optimizer's and the scheduler's ``state_dict`` (the optimizer's holds its
  moments or momentum buffers *and* the learning rate in force, in ``param_groups``);
- the epoch counter, so the loop picks up where it stopped;
- the random number generators: PyTorch's global CPU generator (dropout, and a data loader's
  shuffling when it has no generator of its own), every CUDA device's, and the data loader's
  own ``torch.Generator`` when it has one.

Everything is stored as tensors, numbers, strings, lists and dicts, so a checkpoint loads with
``torch.load(weights_only=True)``, which refuses to run code from the file. Files are written
atomically (a temporary file in the same folder, then ``os.replace``): a crash mid-save leaves
the previous checkpoint whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import torch
from torch import nn

# The keys of a checkpoint, written once here.
MODEL, OPTIMIZER, SCHEDULER, EPOCH = "model", "optimizer", "scheduler", "epoch"
CPU_RNG, CUDA_RNG, LOADER_RNG = "cpu_rng_state", "cuda_rng_states", "loader_rng_state"
# Rolling checkpoints are named after the epoch they end, zero-padded so names sort as numbers do.
ROLLING_NAME = "epoch-{epoch:06d}.pt"
_ROLLING_PATTERN = re.compile(r"epoch-(\d{6})\.pt")


def checkpoint_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
    *,
    loader_generator: torch.Generator | None = None,
) -> dict:
    """Everything an exact resume needs after epoch ``epoch`` has ended, as plain data."""
    return {
        MODEL: model.state_dict(),
        OPTIMIZER: optimizer.state_dict(),
        SCHEDULER: scheduler.state_dict(),
        EPOCH: epoch,
        CPU_RNG: torch.get_rng_state(),
        # One state per visible CUDA device; an empty list on a machine without one.
        CUDA_RNG: torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        LOADER_RNG: None if loader_generator is None else loader_generator.get_state(),
    }


def atomic_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)``, but a crash at any moment leaves either the old file or the new one, whole.

    The bytes go to a temporary file in the *same folder* (``os.replace`` is atomic only within
    one file system), are flushed to the disk, and only then does the temporary file take the
    final name. A process killed before that leaves the old checkpoint and a stray ``.tmp`` file.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
    *,
    loader_generator: torch.Generator | None = None,
) -> None:
    """Save, atomically, all :func:`load_checkpoint` needs to resume after epoch ``epoch`` exactly."""
    atomic_save(checkpoint_state(model, optimizer, scheduler, epoch, loader_generator=loader_generator), path)


def check_same_architecture(model: nn.Module, saved: dict) -> None:
    """Raise ``ValueError`` naming the first difference if ``saved`` (a model ``state_dict``) is not ``model``'s.

    ``model.load_state_dict`` raises too, but only after copying every tensor whose name and
    shape matched, so a failed load leaves a model half overwritten; checking first leaves it whole.
    """
    own = model.state_dict()
    missing, unexpected = sorted(own.keys() - saved.keys()), sorted(saved.keys() - own.keys())
    if missing or unexpected:
        raise ValueError(
            f"the checkpoint is of another architecture: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name, tensor in own.items():
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise ValueError(
                f"the checkpoint is of another architecture: {name} has shape {tuple(saved[name].shape)} "
                f"in the checkpoint and {tuple(tensor.shape)} in the model"
            )


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    *,
    loader_generator: torch.Generator | None = None,
    restore_rng: bool = True,
    map_location: str | torch.device | None = None,
) -> int:
    """Restore what :func:`save_checkpoint` saved into the given objects; return the epoch to run next.

    The file is read with ``weights_only=True``. ``map_location`` moves its tensors to another
    device as they are read (a checkpoint written on a GPU opens on a machine without one with
    ``map_location="cpu"``). ``optimizer=None`` or ``scheduler=None`` skips that part (to
    evaluate a model, say), and ``restore_rng=False`` leaves the generators alone; either makes
    the resumed run differ from the one that never stopped. The model is checked against the
    checkpoint before anything is overwritten.
    """
    saved = torch.load(path, map_location=map_location, weights_only=True)
    check_same_architecture(model, saved[MODEL])
    model.load_state_dict(saved[MODEL])
    if optimizer is not None:
        optimizer.load_state_dict(saved[OPTIMIZER])
    if scheduler is not None:
        scheduler.load_state_dict(saved[SCHEDULER])
    if restore_rng:
        # Generators take their state as a CPU byte tensor, wherever map_location put it.
        torch.set_rng_state(saved[CPU_RNG].cpu())
        if torch.cuda.is_available() and saved[CUDA_RNG]:
            torch.cuda.set_rng_state_all([state.cpu() for state in saved[CUDA_RNG]])
        if loader_generator is not None and saved[LOADER_RNG] is not None:
            loader_generator.set_state(saved[LOADER_RNG].cpu())
    return saved[EPOCH] + 1


def save_rolling(
    folder: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
    *,
    keep: int,
    loader_generator: torch.Generator | None = None,
) -> Path:
    """Save ``folder/epoch-NNNNNN.pt``, then delete all but the newest ``keep`` such checkpoints.

    The new file is whole before any old one goes, so at every moment at least one good
    checkpoint is on disk. Returns the new file's path.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    path = Path(folder) / ROLLING_NAME.format(epoch=epoch)
    save_checkpoint(path, model, optimizer, scheduler, epoch, loader_generator=loader_generator)
    for old in rolling_checkpoints(folder)[:-keep]:
        old.unlink()
    return path


def rolling_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """The checkpoints :func:`save_rolling` wrote in ``folder``, oldest first (stray ``.tmp`` files are not)."""
    return sorted(path for path in Path(folder).iterdir() if _ROLLING_PATTERN.fullmatch(path.name))


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest checkpoint of ``folder`` to resume from, or ``None`` when there is none yet."""
    paths = rolling_checkpoints(folder)
    return paths[-1] if paths else None
