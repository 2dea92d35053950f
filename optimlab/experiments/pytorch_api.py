"""Chapter 9's experiments: every optimizer of the course through PyTorch's API, and its implementations.

- :func:`run_race`: each optimizer trains the digits MLP at a few learning rates and seeds,
  all of them at once (one stack of models, param groups per learning rate), with the
  ordinary loop ``zero_grad`` / ``backward`` / ``step``; its tuned rate is the one that
  trains best on average over the seeds (:func:`tuned_index`).
- :func:`run_lbfgs`: a step that needs a closure (L-BFGS), on Rosenbrock's function;
- :func:`run_implementations`: the for-loop, ``foreach`` and ``fused`` implementations of
  one ``torch.optim`` optimizer on the same gradients: their results and their time per step.

Pure, seeded ``config -> result`` functions; wall-clock times are measurements and vary
from machine to machine and run to run.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.device import default_device, one_thread
from optimlab.experiments.batched_mlp import (
    init_stacked_mlp,
    minibatch_order,
    stacked_cross_entropy,
    stacked_mlp_logits,
)
from optimlab.optimizers.local_gain import LocalGain
from optimlab.param_groups import OPTIMIZERS, build_optimizer

# The optimizers of the course, in the lecture's order; the last one has no PyTorch twin.
RACE_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "local_gain")


def race_optimizer(name: str, groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """``name``'s optimizer over ``groups``: a :data:`optimlab.param_groups.OPTIMIZERS` name, or local gain.

    PyTorch's optimizers run their ``foreach`` implementation, which PyTorch picks by
    default on a GPU and which is faster on a CPU too (:func:`run_implementations`).
    """
    if name == "local_gain":
        return LocalGain(groups, lr=lr)
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(RACE_OPTIMIZERS)}")
    return build_optimizer(name, groups, lr, foreach=True)


@dataclass(frozen=True)
class RaceConfig:
    """Optimizers (PyTorch's defaults but for ``lr``) on a 64-``hidden``-10 MLP, minibatches of ``batch_size``.

    Optimizer ``k`` trains one model per rate of ``lrs[k]`` (every grid has the same length)
    and per seed; a seed fixes the initial weights and the order of the minibatches, the
    same for every optimizer and rate. ``weight_decays[k]`` applies to the weight matrices
    only (a param group for them, one for the biases, per rate).
    """

    optimizers: tuple[str, ...]
    lrs: tuple[tuple[float, ...], ...]
    weight_decays: tuple[float, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 200
    batch_size: int = 32
    hidden: int = 32
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class RaceResult:
    optimizers: tuple[str, ...]
    lrs: Tensor  # (K, L)
    # (K, L, S, steps + 1): each step's batch loss, before the step, then the whole training set's after the last
    train_loss: Tensor
    test_accuracy: Tensor  # (K, L, S): after training
    step_seconds: Tensor  # (K, steps): wall-clock time of each optimizer's step()
    shared_seconds: Tensor  # (steps,): the forward and backward pass of all models together
    best: tuple[int, ...]  # per optimizer, the index in its lrs of its tuned rate (see tuned_index)

    def tuned(self, k: int) -> tuple[float, Tensor]:
        """Optimizer ``k``'s tuned rate and its runs' training losses (``S x (steps + 1)``)."""
        return float(self.lrs[k, self.best[k]]), self.train_loss[k, self.best[k]]

    def single(self, k: int, i: int) -> RaceResult:
        """Optimizer ``k`` at its ``i``-th rate alone, as a race of one (its step times are those of all its rates)."""
        return RaceResult(
            optimizers=(self.optimizers[k],),
            lrs=self.lrs[k : k + 1, i : i + 1],
            train_loss=self.train_loss[k : k + 1, i : i + 1],
            test_accuracy=self.test_accuracy[k : k + 1, i : i + 1],
            step_seconds=self.step_seconds[k : k + 1],
            shared_seconds=self.shared_seconds,
            best=(0,),
        )

    def tuned_late_loss(self) -> Tensor:
        """``(K, S)``: each run's :func:`late_loss` at its optimizer's tuned rate."""
        return torch.stack([late_loss(self.train_loss[k, best]) for k, best in enumerate(self.best)])

    def tuned_test_accuracy(self) -> Tensor:
        """``(K, S)``: each run's test accuracy at its optimizer's tuned rate."""
        return torch.stack([self.test_accuracy[k, best] for k, best in enumerate(self.best)])

    def wall_seconds(self) -> Tensor:
        """``(K, steps + 1)``: each optimizer's time after 0, 1, ... steps, counting its own step() calls
        and an equal share of the forward and backward passes, which all optimizers share."""
        per_step = self.step_seconds + self.shared_seconds / len(self.optimizers)
        return torch.nn.functional.pad(per_step.cumsum(dim=1), (1, 0))


def _synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock reading includes it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def late_loss(train_loss: Tensor) -> Tensor:
    """The mean batch loss over the last quarter of the steps, for each run of ``train_loss`` (``... x (steps + 1)``).

    Where training has got, read from many batches: at a large rate the weights still jump
    from batch to batch, and the loss after the last step alone would make comparisons a draw.
    """
    steps = train_loss.shape[-1] - 1
    return train_loss[..., steps - steps // 4 : steps].double().mean(dim=-1)


def tuned_index(train_loss: Tensor) -> int:
    """The rate (row of ``train_loss``, ``L x S x (steps + 1)``) with the lowest :func:`late_loss`, averaged over
    the seeds; a run that diverged (NaN or infinite) counts as worst."""
    mean = late_loss(train_loss).mean(dim=1)
    return int(torch.nan_to_num(mean, nan=math.inf, posinf=math.inf).argmin())


def _check_race(config: RaceConfig) -> None:
    n = len(config.optimizers)
    if n == 0 or len(config.lrs) != n or len(config.weight_decays) != n:
        raise ValueError(f"need one learning-rate grid and one weight decay per optimizer, got {config}")
    if len({len(grid) for grid in config.lrs}) != 1 or not config.lrs[0]:
        raise ValueError(f"every optimizer needs a non-empty grid of the same length, got {config.lrs}")
    if config.steps < 1 or not config.seeds:
        raise ValueError(f"need steps >= 1 and at least one seed, got steps={config.steps}, seeds={config.seeds}")


def run_race(config: RaceConfig, *, on_step: Callable[[int], None] | None = None) -> RaceResult:
    """:func:`train_race` on one CPU thread (see :func:`one_cpu_thread`)."""
    with one_thread():
        return train_race(config, on_step)


def train_race(config: RaceConfig, on_step: Callable[[int], None] | None = None) -> RaceResult:
    """Train every (optimizer, rate, seed) model as one stack, each optimizer stepping its own param groups.

    One forward and backward pass serves all models (their losses are summed; the models share
    nothing, so each gets its own gradient); then each optimizer takes its step, timed alone.
    ``on_step(k)``, if given, is called after step ``k`` (1-based), to report progress or to
    abandon the run by raising; the result depends on ``config`` alone.
    """
    _check_race(config)
    device = default_device()
    digits = load_digits(dtype=config.dtype, device=device)
    sizes = (DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES)
    n_optimizers, n_lrs, n_seeds = len(config.optimizers), len(config.lrs[0]), len(config.seeds)
    per_seed = [init_stacked_mlp(sizes, 1, seed=seed, dtype=config.dtype, device=device) for seed in config.seeds]
    start = [torch.cat(stacks) for stacks in zip(*per_seed)]  # weights and biases, each (S, ...)
    models, optimizers = [], []
    for name, grid, weight_decay in zip(config.optimizers, config.lrs, config.weight_decays, strict=True):
        groups = []
        for lr in grid:  # one copy of the seeds' models per rate, each its own leaf tensors
            params = [p.clone().requires_grad_() for p in start]
            models.append(params)
            if weight_decay:  # weights (even positions) decay, biases do not
                groups.append({"params": params[0::2], "lr": lr, "weight_decay": weight_decay})
                groups.append({"params": params[1::2], "lr": lr, "weight_decay": 0.0})
            else:
                groups.append({"params": params, "lr": lr})
        optimizers.append(race_optimizer(name, groups, grid[0]))
    orders = [minibatch_order(len(digits.train.y), config.batch_size, config.steps, seed=s) for s in config.seeds]

    def stacked() -> list[Tensor]:  # model m = (k * L + l) * S + s
        return [torch.cat(layer) for layer in zip(*models)]

    train_loss, step_seconds, shared_seconds = [], [], []
    for batches in zip(*orders):
        _synchronize(device)
        began = time.perf_counter()
        index = torch.stack(batches).to(device).repeat(n_optimizers * n_lrs, 1)
        losses = stacked_cross_entropy(stacked_mlp_logits(stacked(), digits.train.x[index]), digits.train.y[index])
        for optimizer in optimizers:
            optimizer.zero_grad()
        losses.sum().backward()
        _synchronize(device)
        shared_seconds.append(time.perf_counter() - began)
        times = []
        for optimizer in optimizers:
            began = time.perf_counter()
            optimizer.step()
            _synchronize(device)
            times.append(time.perf_counter() - began)
        step_seconds.append(times)
        train_loss.append(losses.detach())
        if on_step is not None:
            on_step(len(train_loss))
    with torch.no_grad():
        params = stacked()
        train_loss.append(stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x), digits.train.y))
        logits = stacked_mlp_logits(params, digits.test.x)
        test_accuracy = (logits.argmax(dim=-1) == digits.test.y).to(config.dtype).mean(dim=1)
    train_loss = torch.stack(train_loss, dim=1).cpu().reshape(n_optimizers, n_lrs, n_seeds, -1)
    return RaceResult(
        optimizers=config.optimizers,
        lrs=torch.tensor(config.lrs, dtype=torch.float64),
        train_loss=train_loss,
        test_accuracy=test_accuracy.cpu().reshape(n_optimizers, n_lrs, n_seeds),
        step_seconds=torch.tensor(step_seconds, dtype=torch.float64).T,
        shared_seconds=torch.tensor(shared_seconds, dtype=torch.float64),
        best=tuple(tuned_index(runs) for runs in train_loss),
    )


# --- Signatures as the installed PyTorch has them ---------------------------------------------


def readable_signature(obj) -> str:
    """``obj``'s name and signature as the installed library defines them, without type annotations."""
    signature = inspect.signature(obj)
    bare = signature.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    return f"{obj.__name__}{bare}"


def adam_decoupled_matches_adamw(steps: int = 20, weight_decay: float = 0.1, seed: int = 0) -> float:
    """Largest difference between ``Adam(decoupled_weight_decay=True)`` and ``AdamW`` over ``steps`` steps.

    Both minimize the same random quadratic in float64 from the same start.
    """
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(5, 5, generator=generator, dtype=torch.float64)
    a = a @ a.T
    start = torch.randn(5, generator=generator, dtype=torch.float64)
    paths = []
    for optimizer_class, options in ((torch.optim.Adam, {"decoupled_weight_decay": True}), (torch.optim.AdamW, {})):
        w = start.clone().requires_grad_()
        optimizer = optimizer_class([w], lr=0.01, weight_decay=weight_decay, **options)
        path = []
        for _ in range(steps):
            w.grad = a @ w.detach()
            optimizer.step()
            path.append(w.detach().clone())
        paths.append(torch.stack(path))
    return (paths[0] - paths[1]).abs().max().item()


# --- A closure: L-BFGS on Rosenbrock's function --------------------------------------------------


def rosenbrock(w: Tensor) -> Tensor:
    """``(1 - x)² + 100 (y - x²)²``: a curved valley with its minimum 0 at ``(1, 1)``."""
    x, y = w[0], w[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


@dataclass(frozen=True)
class LbfgsConfig:
    """``steps`` calls of ``LBFGS.step(closure)`` on :func:`rosenbrock` from ``start``, in float64."""

    steps: int = 4
    max_iter: int = 20
    line_search_fn: str | None = "strong_wolfe"
    start: tuple[float, float] = (-1.5, 2.0)


@dataclass(frozen=True)
class LbfgsResult:
    losses: tuple[float, ...]  # f at the start, then after each step
    closure_calls: tuple[int, ...]  # how many times each step evaluated the closure


def run_lbfgs(config: LbfgsConfig) -> LbfgsResult:
    """Minimize Rosenbrock's function with L-BFGS; count the closure's calls in each step."""
    w = torch.tensor(config.start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], max_iter=config.max_iter, line_search_fn=config.line_search_fn)
    calls = 0

    def closure() -> Tensor:
        nonlocal calls
        calls += 1
        optimizer.zero_grad()
        loss = rosenbrock(w)
        loss.backward()
        return loss

    losses, closure_calls = [rosenbrock(w).item()], []
    for _ in range(config.steps):
        calls = 0
        optimizer.step(closure)
        closure_calls.append(calls)
        losses.append(rosenbrock(w).item())
    return LbfgsResult(losses=tuple(losses), closure_calls=tuple(closure_calls))


# --- The implementations of one torch.optim optimizer: for-loop, foreach, fused -----------------


@dataclass(frozen=True)
class ImplementationsConfig:
    """``steps`` steps of ``optimizer`` on ``n_tensors`` tensors of ``size`` elements, with seeded fixed gradients."""

    optimizer: str = "adam"
    n_tensors: int = 40
    size: int = 1000
    steps: int = 30
    lr: float = 1e-3
    seed: int = 0


@dataclass(frozen=True)
class ImplementationsResult:
    device: str
    implementations: tuple[str, ...]  # "for-loop", "foreach", "fused"
    milliseconds_per_step: tuple[float, ...]  # median over the steps
    largest_difference: tuple[float, ...]  # from the for-loop's parameters after the last step


IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def run_implementations(config: ImplementationsConfig) -> ImplementationsResult:
    """The same steps under each implementation; their median time per step and their results."""
    with one_thread():
        return _time_implementations(config)


def _time_implementations(config: ImplementationsConfig) -> ImplementationsResult:
    device = default_device()
    generator = torch.Generator().manual_seed(config.seed)
    start = [torch.randn(config.size, generator=generator) for _ in range(config.n_tensors)]
    grads = [torch.randn(config.size, generator=generator).to(device) for _ in range(config.n_tensors)]
    finals, times = [], []
    for options in IMPLEMENTATIONS.values():
        params = [w.to(device, copy=True).requires_grad_() for w in start]
        optimizer = build_optimizer(config.optimizer, params, config.lr, **options)
        step_times = []
        for _ in range(config.steps):
            for p, g in zip(params, grads):
                p.grad = g
            _synchronize(device)
            began = time.perf_counter()
            optimizer.step()
            _synchronize(device)
            step_times.append(time.perf_counter() - began)
        finals.append(torch.cat([p.detach().cpu() for p in params]))
        times.append(1000 * sorted(step_times)[len(step_times) // 2])
    return ImplementationsResult(
        device=device.type,
        implementations=tuple(IMPLEMENTATIONS),
        milliseconds_per_step=tuple(times),
        largest_difference=tuple((final - finals[0]).abs().max().item() for final in finals),
    )


# --- The runs chapter 9 shows: its tests check the chapter's claims on these --------------------

# A few rates per method, about a factor of 3 apart, around where each works on this network.
RACE_LRS = {
    "sgd": (0.1, 0.3, 1.0),
    "momentum": (0.01, 0.03, 0.1),
    "nesterov": (0.03, 0.1, 0.3),
    "rmsprop": (3e-3, 1e-2, 3e-2),
    "adam": (3e-3, 1e-2, 3e-2),
    "adamw": (3e-3, 1e-2, 3e-2),
    "local_gain": (0.1, 0.3, 1.0),
}
# AdamW with PyTorch's default decoupled weight decay (0.01), on the weight matrices only.
RACE = RaceConfig(
    optimizers=RACE_OPTIMIZERS,
    lrs=tuple(RACE_LRS[name] for name in RACE_OPTIMIZERS),
    weight_decays=tuple(0.01 if name == "adamw" else 0.0 for name in RACE_OPTIMIZERS),
)
IMPLEMENTATIONS_RUN = ImplementationsConfig()
LBFGS_RUN = LbfgsConfig()
