"""Chapter 10's experiments: train, stop, resume from a checkpoint, and compare with the run that never stopped.

A small MLP with dropout trains on the digits with Adam and a ``LambdaLR`` decay, its
minibatches drawn by a shuffling ``DataLoader`` with its own ``torch.Generator``. Each run
starts the way a fresh training script does (seed, build, then load a checkpoint if
resuming), so a resume sees exactly what a restarted process would see. The resumes differ
in what they restore (:data:`RESUMES`); everything is measured against the uninterrupted run.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from optimlab.checkpoint import checkpoint_state, load_checkpoint, save_checkpoint
from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.device import default_device, one_thread

# What each resume restores from the checkpoint (the model's weights always).
RESUMES = {
    "exact": dict(optimizer=True, scheduler=True, rng=True),
    "forgot the optimizer": dict(optimizer=False, scheduler=True, rng=True),
    "forgot the scheduler": dict(optimizer=True, scheduler=False, rng=True),
    "forgot the RNG states": dict(optimizer=True, scheduler=True, rng=False),
}


@dataclass(frozen=True)
class ResumeConfig:
    """Adam on a 64-``hidden``-10 MLP with dropout, ``epochs`` epochs, stopped after ``stop_after`` and resumed.

    The learning rate is ``lr · lr_decay^e`` in epoch ``e`` (``LambdaLR``, stepped once per epoch).
    """

    epochs: int = 6
    stop_after: int = 3
    batch_size: int = 128
    hidden: int = 64
    dropout: float = 0.2
    lr: float = 0.01
    lr_decay: float = 0.5
    seed: int = 0


@dataclass
class Training:
    """What a training script builds before its first epoch: all of it is state a checkpoint must carry."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    loader: DataLoader
    loader_generator: torch.Generator


def start_training(config: ResumeConfig) -> Training:
    """Seed and build everything, as a fresh process does (whether it will then resume or not)."""
    torch.manual_seed(config.seed)  # initial weights and dropout masks come from the global generator
    device = default_device()
    model = nn.Sequential(
        nn.Linear(DIGITS_N_FEATURES, config.hidden),
        nn.ReLU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden, DIGITS_N_CLASSES),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    decay = config.lr_decay
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: decay**epoch)
    digits = load_digits(device="cpu")
    loader_generator = torch.Generator().manual_seed(config.seed)  # the shuffling's own generator
    loader = DataLoader(
        TensorDataset(digits.train.x, digits.train.y),
        batch_size=config.batch_size,
        shuffle=True,
        generator=loader_generator,
    )
    return Training(model, optimizer, scheduler, loader, loader_generator)


def flat_parameters(model: nn.Module) -> Tensor:
    """All of the model's parameters as one CPU vector."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).cpu()


@dataclass
class Trace:
    """One run from its first epoch on: per step, the batch loss and the weights after the step; per epoch, the lr."""

    losses: list[float]
    weights: list[Tensor]
    lrs: list[float]


def train_epochs(training: Training, first: int, end: int, *, checkpoint: Path | None = None) -> Trace:
    """Train epochs ``first`` to ``end - 1``; with ``checkpoint``, save it after every epoch (atomically)."""
    model, optimizer, scheduler = training.model, training.optimizer, training.scheduler
    device = next(model.parameters()).device
    trace = Trace([], [], [])
    for epoch in range(first, end):
        model.train()
        trace.lrs.append(optimizer.param_groups[0]["lr"])
        for x, y in training.loader:
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            trace.losses.append(loss.item())
            trace.weights.append(flat_parameters(model))
        scheduler.step()
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, scheduler, epoch, loader_generator=training.loader_generator)
    return trace


def resume_training(config: ResumeConfig, checkpoint: Path, *, optimizer: bool, scheduler: bool, rng: bool) -> Trace:
    """A fresh process that loads ``checkpoint`` (restoring only what is asked) and trains to the end."""
    training = start_training(config)
    first = load_checkpoint(
        checkpoint,
        training.model,
        training.optimizer if optimizer else None,
        training.scheduler if scheduler else None,
        loader_generator=training.loader_generator if rng else None,
        restore_rng=rng,
    )
    return train_epochs(training, first, config.epochs)


@dataclass(frozen=True)
class ResumeResult:
    steps_per_epoch: int
    stop_step: int  # steps taken before the stop
    uninterrupted_loss: Tensor  # (steps,): the batch loss at every step of the run that never stopped
    uninterrupted_lrs: Tensor  # (epochs,): the learning rate in force during each epoch
    resumed_loss: dict[str, Tensor]  # per resume, (steps - stop_step,): its batch losses after the stop
    resumed_lrs: dict[str, Tensor]  # per resume, (epochs - stop_after,)
    # per resume, (steps - stop_step,): the distance of its weights from the uninterrupted run's after each step
    weight_distance: dict[str, Tensor]
    # per resume: the largest difference, over all steps after the stop, of any weight and of the batch loss
    max_weight_difference: dict[str, float]
    max_loss_difference: dict[str, float]
    # per resume, (parameters,): how far each weight moved in the first step after the stop
    first_step_change: dict[str, Tensor]


def run_resumes(config: ResumeConfig, folder: str | os.PathLike | None = None) -> ResumeResult:
    """The uninterrupted run (saving a checkpoint each epoch) and every resume of :data:`RESUMES` from its stop.

    Checkpoints go to ``folder`` (a fresh temporary folder, removed afterwards, when ``None``).
    """
    if not 0 < config.stop_after < config.epochs:
        raise ValueError(f"need 0 < stop_after < epochs, got stop_after={config.stop_after}, epochs={config.epochs}")
    with contextlib.ExitStack() as stack:
        stack.enter_context(one_thread())
        if folder is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
        checkpoint = Path(folder) / "checkpoint.pt"
        training = start_training(config)
        before = train_epochs(training, 0, config.stop_after, checkpoint=checkpoint)
        after = train_epochs(training, config.stop_after, config.epochs)  # the run goes on, never stopping
        resumed = {name: resume_training(config, checkpoint, **parts) for name, parts in RESUMES.items()}
    reference_loss, reference_weights = torch.tensor(after.losses), torch.stack(after.weights)
    resumed_loss = {name: torch.tensor(trace.losses) for name, trace in resumed.items()}
    at_stop = before.weights[-1]
    weight_gap = {name: (torch.stack(trace.weights) - reference_weights).abs() for name, trace in resumed.items()}
    return ResumeResult(
        steps_per_epoch=len(before.losses) // config.stop_after,
        stop_step=len(before.losses),
        uninterrupted_loss=torch.tensor(before.losses + after.losses),
        uninterrupted_lrs=torch.tensor(before.lrs + after.lrs),
        resumed_loss=resumed_loss,
        resumed_lrs={name: torch.tensor(trace.lrs) for name, trace in resumed.items()},
        weight_distance={name: gap.norm(dim=1) for name, gap in weight_gap.items()},
        max_weight_difference={name: gap.max().item() for name, gap in weight_gap.items()},
        max_loss_difference={name: (loss - reference_loss).abs().max().item() for name, loss in resumed_loss.items()},
        first_step_change={name: (trace.weights[0] - at_stop).abs() for name, trace in resumed.items()},
    )


# --- A crash in the middle of writing a checkpoint ---------------------------------------------


class SimulatedCrash(Exception):
    """Raised where a real process would have died in the middle of writing a file."""


@contextlib.contextmanager
def crash_mid_write(after_bytes: int, *, kill: bool = False) -> Iterator[None]:
    """Within the block, ``torch.save`` writes its first ``after_bytes`` bytes and dies.

    It serializes the whole object in memory, writes the first ``after_bytes`` bytes to the
    real destination, flushes them to the disk, then raises :class:`SimulatedCrash` or, with
    ``kill=True``, sends this process ``SIGKILL`` (nothing runs after that: no ``except``, no
    ``finally``, no clean-up).
    """
    real_save = torch.save

    def dying_save(obj, destination, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        with contextlib.ExitStack() as stack:
            file = destination
            if isinstance(destination, (str, os.PathLike)):
                file = stack.enter_context(open(destination, "wb"))
            file.write(buffer.getvalue()[:after_bytes])
            file.flush()
            os.fsync(file.fileno())
            if kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise SimulatedCrash(f"died after writing {after_bytes} of {len(buffer.getvalue())} bytes")

    torch.save = dying_save
    try:
        yield
    finally:
        torch.save = real_save


@dataclass(frozen=True)
class CrashResult:
    naive_error: str  # what torch.load says of the file that plain torch.save was writing when the process died
    atomic_next_epoch: int  # the epoch load_checkpoint resumes at from the file atomic_save was writing
    files: list[str]  # what the folder holds after both crashes


def crash_during_save(config: ResumeConfig, folder: str | os.PathLike, *, after_bytes: int) -> CrashResult:
    """Save after epoch 0 in two files, plainly and atomically; train epoch 1; die while saving it to each."""
    folder = Path(folder)
    naive, atomic = folder / "naive.pt", folder / "atomic.pt"
    with one_thread():
        training = start_training(config)
        parts = (training.model, training.optimizer, training.scheduler)
        for epoch in (0, 1):
            train_epochs(training, epoch, epoch + 1)
            state = checkpoint_state(*parts, epoch, loader_generator=training.loader_generator)
            with crash_mid_write(after_bytes) if epoch == 1 else contextlib.nullcontext():
                with contextlib.suppress(SimulatedCrash):
                    torch.save(state, naive)
                with contextlib.suppress(SimulatedCrash):
                    save_checkpoint(atomic, *parts, epoch, loader_generator=training.loader_generator)
    try:
        torch.load(naive, weights_only=True)
        naive_error = ""
    except Exception as error:  # whatever the truncated file makes torch.load raise is what the chapter shows
        naive_error = f"{type(error).__name__}: {error}"
    fresh = start_training(config)
    next_epoch = load_checkpoint(atomic, fresh.model, fresh.optimizer, fresh.scheduler)
    return CrashResult(naive_error, next_epoch, sorted(path.name for path in folder.iterdir()))


# --- The runs chapter 10 shows: its tests check the chapter's claims on these --------------------

RESUME = ResumeConfig()
RESUME_SEEDS = (0, 1, 2)  # the first is the chapter's figure
# A cut early in the file (a checkpoint here is about 74 kB): the zip's directory, at its end, is never written.
CRASH_AFTER_BYTES = 2_000
