"""Chapter 1's experiments: the noise of a minibatch gradient, batch size in training, stratified batches.

Each experiment is a pure, seeded function ``config -> result``; the configs the chapter runs
are named at the bottom so that its tests check the chapter's claims on exactly those runs.
The network is the 64-``hidden``-10 MLP of :mod:`optimlab.experiments.batched_mlp` on the
digits' training set (``N = 1347``). Per-example gradients come from a stack of ``N`` copies
of the network, one example each (the tests check them against ``torch.func.vmap(grad)``);
training sweeps reuse chapter 4's stacked trainer with momentum 0, which is plain SGD.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from optimlab.batching import random_batches, stratified_batches
from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.device import default_device, one_thread
from optimlab.experiments.batched_mlp import init_stacked_mlp, stacked_cross_entropy, stacked_mlp_logits
from optimlab.experiments.momentum import DigitsSweepConfig, run_digits_seeds

# --- Per-example gradients and the variance of a batch-mean gradient ---------------------------


def per_example_gradients(x: Tensor, y: Tensor, *, hidden: int, seed: int) -> Tensor:
    """``N x P``: the gradient of each example's cross-entropy at the seeded initial MLP, flattened.

    The MLP is copied ``N`` times and copy ``i`` sees example ``i`` only; the copies share
    nothing, so the gradient of the summed losses with respect to copy ``i`` is example ``i``'s.
    Coordinates are laid out as ``init_stacked_mlp``'s parameters, one after the other.
    """
    n = len(y)
    sizes = (DIGITS_N_FEATURES, hidden, DIGITS_N_CLASSES)
    params = [p.requires_grad_() for p in init_stacked_mlp(sizes, n, seed=seed, dtype=x.dtype, device=x.device)]
    losses = stacked_cross_entropy(stacked_mlp_logits(params, x[:, None, :]), y[:, None])
    grads = torch.autograd.grad(losses.sum(), params)
    return torch.cat([g.reshape(n, -1) for g in grads], dim=1)


def digits_per_example_gradients(*, hidden: int = 32, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The per-example gradients (float64, ``N x P``) of the digits' training set and its labels."""
    digits = load_digits(dtype=torch.float64, device=default_device())
    return per_example_gradients(digits.train.x, digits.train.y, hidden=hidden, seed=seed), digits.train.y


def batch_mean_deviations(centred_grads: Tensor, batches: list[Tensor]) -> Tensor:
    """``‖ĝ_b − ḡ‖²`` for each batch ``b``: the squared distance of its mean gradient from the full mean.

    ``centred_grads`` are the per-example gradients minus their mean ``ḡ`` (``N x P``), so a
    batch's mean of them is its deviation outright. The average of ``‖ĝ_b − ḡ‖²`` over batches
    drawn at random estimates the total variance (the trace: the sum over coordinates) of the
    batch-mean gradient; ``ḡ`` is known exactly, so the estimate is unbiased.
    """
    n = centred_grads.shape[0]
    # Each batch's mean as a row of a weight matrix: one matrix product serves all batches.
    sizes = torch.tensor([len(batch) for batch in batches])
    rows = torch.arange(len(batches)).repeat_interleave(sizes)
    weights = torch.zeros(len(batches), n, dtype=centred_grads.dtype)
    weights[rows, torch.cat(batches).cpu()] = (1.0 / sizes.to(centred_grads.dtype)).repeat_interleave(sizes)
    return ((weights.to(centred_grads.device) @ centred_grads).double() ** 2).sum(dim=1).cpu()


def epoch_batches(n_examples: int, batch_size: int, draws: int, generator: torch.Generator) -> list[Tensor]:
    """At least ``draws`` batches of ``batch_size``: the full batches of fresh shuffles of ``range(N)``.

    Each batch is a uniform draw without replacement, as in training. Drawing whole epochs
    rather than independent batches puts every example into the estimate equally often,
    which matters here: a few digits have gradients far larger than the rest, and
    independent draws that happen to miss them underestimate the variance.
    """
    per_epoch = n_examples // batch_size
    batches: list[Tensor] = []
    for _ in range(math.ceil(draws / per_epoch)):
        batches.extend(torch.randperm(n_examples, generator=generator)[: per_epoch * batch_size].split(batch_size))
    return batches


def stratified_draws(labels: Tensor, batch_size: int, draws: int, generator: torch.Generator) -> list[Tensor]:
    """At least ``draws`` batches from fresh stratified epochs (:func:`optimlab.batching.stratified_batches`)."""
    batches: list[Tensor] = []
    while len(batches) < draws:
        batches.extend(stratified_batches(labels, batch_size, generator))
    return batches


def within_class_variance(per_example_grads: Tensor, labels: Tensor) -> Tensor:
    """``Σ_c (n_c / N) σ_c²`` per coordinate, ``σ_c²`` the population variance of class ``c``'s gradients.

    The part of ``σ²`` that is left once each class's mean gradient is removed: what a
    perfectly stratified batch still samples.
    """
    total = torch.zeros_like(per_example_grads[0])
    for label in labels.unique():
        members = per_example_grads[labels == label]
        total += len(members) / len(labels) * members.var(dim=0, correction=0)
    return total


@dataclass(frozen=True)
class GradientNoiseConfig:
    """Monte-Carlo variance of the batch-mean gradient against the formula, at the seeded initial MLP."""

    batch_sizes: tuple[int, ...] = (1, 4, 16, 64, 256, 1024)
    stratified_batch_sizes: tuple[int, ...] = (10, 64, 256)
    draws: int = 400
    hidden: int = 32
    seed: int = 0


@dataclass(frozen=True)
class GradientNoiseResult:
    n_examples: int
    n_parameters: int  # P: the coordinates of one gradient
    batch_sizes: Tensor  # (K,)
    sigma2_total: float  # Σ over coordinates of the population variance σ²
    within_class_total: float  # Σ over coordinates of the within-class variance
    measured: Tensor  # (K,): mean of ‖ĝ_B − ḡ‖² over the draws
    # (K,): its Monte-Carlo standard error, computed as if the draws were independent (batches of one
    # epoch never share an example, which makes the estimate a little more precise than this says)
    standard_error: Tensor
    # (J,): the mean size of a stratified epoch's batches, N / ceil(N / B), for each B asked for
    stratified_batch_sizes: Tensor
    stratified_measured: Tensor  # (J,): the same as `measured`, for batches of stratified epochs
    stratified_standard_error: Tensor  # (J,)


def run_gradient_noise(config: GradientNoiseConfig) -> GradientNoiseResult:
    """Per-example gradients of the digits' training set, then many random batches of each size.

    Gradients in float64; the batch means of the centred gradients in float32 (a matrix
    product, the one costly step), which is exact enough even where the variance is smallest.
    """
    with one_thread():
        return _gradient_noise(config)


def _gradient_noise(config: GradientNoiseConfig) -> GradientNoiseResult:
    grads, y = digits_per_example_gradients(hidden=config.hidden, seed=config.seed)
    n = len(y)
    if max(config.batch_sizes + config.stratified_batch_sizes) > n or config.draws < 2:
        raise ValueError(f"batch sizes must lie in 1..{n} and draws >= 2, got {config}")
    centred = grads - grads.mean(dim=0)
    centred32 = centred.float()
    generator = torch.Generator().manual_seed(config.seed)

    def estimate(batches: list[Tensor]) -> tuple[float, float]:
        deviations = batch_mean_deviations(centred32, batches)
        return deviations.mean().item(), (deviations.std() / math.sqrt(len(deviations))).item()

    random_estimates = [estimate(epoch_batches(n, b, config.draws, generator)) for b in config.batch_sizes]
    labels = y.cpu()
    stratified_estimates = [
        estimate(stratified_draws(labels, b, config.draws, generator)) for b in config.stratified_batch_sizes
    ]
    return GradientNoiseResult(
        n_examples=n,
        n_parameters=grads.shape[1],
        batch_sizes=torch.tensor(config.batch_sizes),
        sigma2_total=(centred**2).mean(dim=0).sum().item(),
        within_class_total=within_class_variance(grads, y).sum().item(),
        measured=torch.tensor([m for m, _ in random_estimates], dtype=torch.float64),
        standard_error=torch.tensor([s for _, s in random_estimates], dtype=torch.float64),
        stratified_batch_sizes=torch.tensor([n / math.ceil(n / b) for b in config.stratified_batch_sizes]),
        stratified_measured=torch.tensor([m for m, _ in stratified_estimates], dtype=torch.float64),
        stratified_standard_error=torch.tensor([s for _, s in stratified_estimates], dtype=torch.float64),
    )


def predicted_total_variance(sigma2_total: float, n: int, batch_sizes: Tensor, *, replacement: bool = False) -> Tensor:
    """``Σσ²/B · (N − B)/(N − 1)`` at each batch size (without replacement), or ``Σσ²/B`` (with replacement).

    For curves: :func:`optimlab.batching.minibatch_gradient_variance` summed over coordinates,
    from the total ``Σσ²`` alone. With stratified batches, pass the within-class total instead.
    """
    b = batch_sizes.to(torch.float64)
    correction = torch.ones_like(b) if replacement else (n - b) / (n - 1)
    return sigma2_total / b * correction


# --- Class proportions in random and stratified batches ----------------------------------------


def class_counts(batches: list[Tensor], labels: Tensor, n_classes: int) -> Tensor:
    """``n_batches x n_classes``: how many examples of each class every batch holds."""
    return torch.stack([torch.bincount(labels[batch], minlength=n_classes) for batch in batches])


@dataclass(frozen=True)
class ClassProportionsResult:
    batch_size: int
    data_proportions: Tensor  # (C,): n_c / N
    random_counts: Tensor  # (n_batches, C): one epoch of random batches
    stratified_counts: Tensor  # (n_batches', C): one epoch of stratified batches


def run_class_proportions(batch_size: int = 10, seed: int = 0) -> ClassProportionsResult:
    """One epoch of each kind of batch over the digits' training labels."""
    labels = load_digits(device="cpu").train.y
    generator = torch.Generator().manual_seed(seed)
    return ClassProportionsResult(
        batch_size=batch_size,
        data_proportions=torch.bincount(labels, minlength=DIGITS_N_CLASSES) / len(labels),
        random_counts=class_counts(random_batches(len(labels), batch_size, generator), labels, DIGITS_N_CLASSES),
        stratified_counts=class_counts(stratified_batches(labels, batch_size, generator), labels, DIGITS_N_CLASSES),
    )


# --- Batch size in training: equal epochs, equal updates, each batch size at its tuned rate ------


@dataclass(frozen=True)
class BatchSizeSweepConfig:
    """Plain SGD (momentum 0) on the digits MLP, for every batch size, learning rate and seed.

    ``epochs`` set: every batch size trains that many epochs (``ceil(N/B)`` updates each);
    otherwise every batch size makes ``updates`` updates. Each batch size's rate is tuned on
    ``lrs``: the one with the lowest final training loss, averaged over seeds.
    """

    batch_sizes: tuple[int, ...] = (8, 32, 128, 1024)
    lrs: tuple[float, ...] = (0.1, 0.3, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int | None = 4
    updates: int = 80
    hidden: int = 32


@dataclass(frozen=True)
class BatchSizeRun:
    """One batch size at its tuned learning rate, over the seeds."""

    batch_size: int
    lr: float
    train_loss: Tensor  # (S, steps + 1): each step's batch loss, then the full training loss after the last step
    test_accuracy: Tensor  # (S,)
    final_loss_by_lr: Tensor  # (L,): mean over seeds of the final training loss at each rate of the grid


@dataclass(frozen=True)
class BatchSizeSweepResult:
    config: BatchSizeSweepConfig
    runs: tuple[BatchSizeRun, ...]  # one per batch size, in config order


def steps_for(config: BatchSizeSweepConfig, batch_size: int, n_examples: int) -> int:
    """The number of updates a batch size makes: ``epochs · ceil(N/B)``, or ``updates``."""
    return config.updates if config.epochs is None else config.epochs * math.ceil(n_examples / batch_size)


def run_batch_size_sweep(config: BatchSizeSweepConfig) -> BatchSizeSweepResult:
    """For each batch size, all rates and seeds train as one stack; the tuned rate's runs are kept."""
    n = len(load_digits(device="cpu").train.y)
    runs = []
    for batch_size in config.batch_sizes:
        sweep = DigitsSweepConfig(
            momentums=(0.0,) * len(config.lrs),
            lr=config.lrs,
            steps=steps_for(config, batch_size, n),
            batch_size=batch_size,
            hidden=config.hidden,
        )
        with one_thread():
            result = run_digits_seeds(sweep, config.seeds)
        final = result.train_loss[:, :, -1].mean(dim=0)
        best = int(torch.nan_to_num(final, nan=math.inf).argmin())  # a diverged rate is never the best
        runs.append(
            BatchSizeRun(
                batch_size=batch_size,
                lr=config.lrs[best],
                train_loss=result.train_loss[:, best],
                test_accuracy=result.test_accuracy[:, best],
                final_loss_by_lr=final,
            )
        )
    return BatchSizeSweepResult(config=config, runs=tuple(runs))


def oscillation(train_loss: Tensor) -> Tensor:
    """How much the batch loss jumps from step to step: the mean ``|Δ log loss|`` over the second half.

    ``train_loss`` is ``... x (steps + 1)`` as the sweeps record it; the last entry (the full
    training loss) is left out. Logs, so that a curve at a lower loss is not called calmer
    just for being lower.
    """
    batch_loss = train_loss[..., :-1]
    second_half = batch_loss[..., batch_loss.shape[-1] // 2 :].log()
    return second_half.diff(dim=-1).abs().mean(dim=-1)


# --- Memory and time per step, against batch size ---------------------------------------------


def activation_bytes_estimate(batch_size: int, sizes: tuple[int, ...], dtype: torch.dtype = torch.float32) -> int:
    """What autograd keeps for the backward pass of one MLP forward pass, from the layer sizes.

    Each layer keeps its input: the batch itself, then each hidden layer's ReLU output (which
    the ReLU keeps too, the same tensor); the loss keeps the log-probabilities (``B x classes``)
    and the labels (int64). All of it grows linearly in ``B``; the parameters and their
    gradients come on top and do not.
    """
    element = torch.empty((), dtype=dtype).element_size()
    return batch_size * (sum(sizes) * element + torch.empty((), dtype=torch.long).element_size())


def parameter_bytes(sizes: tuple[int, ...], dtype: torch.dtype = torch.float32) -> int:
    """The bytes of the MLP's weights and biases (the same again for their gradients)."""
    element = torch.empty((), dtype=dtype).element_size()
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=False)) * element


def _one_step(params: list[Tensor], x: Tensor, y: Tensor, lr: float) -> list[Tensor]:
    """One plain SGD step of the stacked MLP (``w ← w − η g``) on the batch ``(x, y)``."""
    params = [p.detach().requires_grad_() for p in params]
    loss = stacked_cross_entropy(stacked_mlp_logits(params, x), y)
    grads = torch.autograd.grad(loss.sum(), params)
    with torch.no_grad():
        return [p - lr * g for p, g in zip(params, grads, strict=True)]


def saved_activation_bytes(batch_size: int, sizes: tuple[int, ...], dtype: torch.dtype = torch.float32) -> int:
    """The bytes autograd actually saves for the backward pass of one MLP forward pass, counted.

    Every tensor autograd stores is seen by a ``saved_tensors_hooks`` pack hook; parameters
    (which exist anyway) and tensors counted before (the same storage) are left out.
    """
    params = [p.requires_grad_() for p in init_stacked_mlp(sizes, 1, seed=0, dtype=dtype, device=torch.device("cpu"))]
    x = torch.randn(batch_size, sizes[0], dtype=dtype)
    y = torch.zeros(batch_size, dtype=torch.long)
    seen = {p.untyped_storage().data_ptr() for p in params}
    total = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        stacked_cross_entropy(stacked_mlp_logits(params, x), y)
    return total


def cuda_step_bytes(batch_size: int, sizes: tuple[int, ...], dtype: torch.dtype = torch.float32) -> int:
    """Peak memory of one training step on ``cuda`` (parameters, batch, activations, gradients), from
    ``torch.cuda.max_memory_allocated``, less what was allocated before it (other work's tensors)."""
    device = torch.device("cuda")
    # One step first: the first matrix product allocates cuBLAS's workspace, which is no batch's cost.
    _one_step(init_stacked_mlp(sizes, 1, seed=0, dtype=dtype, device=device), *_cuda_batch(1, sizes[0], dtype), lr=0.1)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated(device)
    params = init_stacked_mlp(sizes, 1, seed=0, dtype=dtype, device=device)
    x, y = _cuda_batch(batch_size, sizes[0], dtype)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(device)
    _one_step(params, x, y, lr=0.1)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated(device) - before


def _cuda_batch(batch_size: int, features: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    return (
        torch.randn(batch_size, features, dtype=dtype, device="cuda"),
        torch.zeros(batch_size, dtype=torch.long, device="cuda"),
    )


def _time_one_epoch(params: list[Tensor], x: Tensor, y: Tensor, batch_size: int, generator: torch.Generator) -> float:
    """Seconds for one epoch of plain SGD steps on shuffled batches (data already on the device)."""
    batches = [batch.to(x.device) for batch in random_batches(len(y), batch_size, generator)]
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for batch in batches:
        params = _one_step(params, x[batch], y[batch], lr=0.1)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


@dataclass(frozen=True)
class CostConfig:
    batch_sizes: tuple[int, ...] = (8, 32, 128, 1024)
    hidden: int = 32
    repeats: int = 2  # time per epoch: the fastest of this many epochs (others on the machine slow some down)


@dataclass(frozen=True)
class CostResult:
    device: str
    batch_sizes: Tensor  # (K,)
    estimated_bytes: Tensor  # (K,): activations (estimate) + parameters + gradients
    measured_bytes: Tensor  # (K,): cuda's peak allocation, or on CPU the saved activations counted + the same
    seconds_per_epoch: Tensor  # (K,)


def run_costs(config: CostConfig) -> CostResult:
    """Memory of one step and wall-clock time of one epoch, for each batch size, on the default device.

    On a CPU the epochs run on one thread (:func:`one_thread`), as the chapter's training does.
    """
    device = default_device()
    sizes = (DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES)
    digits = load_digits(device=device)
    x, y = digits.train.x, digits.train.y
    fixed = 2 * parameter_bytes(sizes)
    estimated, measured, seconds = [], [], []
    for batch_size in config.batch_sizes:
        estimated.append(activation_bytes_estimate(batch_size, sizes) + fixed)
        if device.type == "cuda":
            measured.append(cuda_step_bytes(batch_size, sizes))
        else:
            measured.append(saved_activation_bytes(batch_size, sizes) + fixed)
        params = init_stacked_mlp(sizes, 1, seed=0, dtype=x.dtype, device=device)
        generator = torch.Generator().manual_seed(0)
        fastest = math.inf
        with one_thread():
            for _ in range(config.repeats):
                fastest = min(fastest, _time_one_epoch(params, x, y, batch_size, generator))
        seconds.append(fastest)
    return CostResult(
        device=device.type,
        batch_sizes=torch.tensor(config.batch_sizes),
        estimated_bytes=torch.tensor(estimated, dtype=torch.float64),
        measured_bytes=torch.tensor(measured, dtype=torch.float64),
        seconds_per_epoch=torch.tensor(seconds, dtype=torch.float64),
    )


# --- Does noise help escape a local minimum? A double well you can see ------------------------


@dataclass(frozen=True)
class DoubleWellConfig:
    """SGD on ``f(w) = (w² − 1)²/4 + tilt · w`` with per-example losses ``f(w) + a_i w``.

    The offsets ``a_i`` (``n_examples`` of them, mean 0, population standard deviation
    ``spread``) cancel in the full gradient, so a batch gradient is ``f′(w)`` plus the mean of
    its batch's offsets: exactly minibatch noise, with the variance of this chapter's formula.
    ``tilt > 0`` makes ``w = +1`` the shallow (local) minimum, ``w = −1`` the deep one. Every
    chain reshuffles the examples each epoch and takes consecutive batches, as training does.
    """

    batch_sizes: tuple[int, ...] = (1, 4, 16, 64)
    n_examples: int = 64
    spread: float = 2.0
    tilt: float = 0.15
    lr: float = 0.1
    steps: int = 300
    chains: int = 100
    seed: int = 0


@dataclass(frozen=True)
class DoubleWellResult:
    batch_sizes: Tensor  # (K,)
    barrier: float  # the top of the hill between the basins
    shallow_start_to_deep: Tensor  # (K,): fraction of chains started in the shallow minimum that end in the deep basin
    deep_start_to_shallow: Tensor  # (K,): fraction of chains started in the deep minimum that end in the shallow one


def double_well_minima(tilt: float) -> tuple[float, float, float]:
    """The deep minimum, the barrier and the shallow minimum: the three real roots of ``f′(w) = w³ − w + tilt``."""
    companion = torch.tensor([[0.0, 1.0, -tilt], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    deep, barrier, shallow = sorted(torch.linalg.eigvals(companion).real.tolist())
    return deep, barrier, shallow


def run_double_well(config: DoubleWellConfig) -> DoubleWellResult:
    """``chains`` chains from each minimum, for every batch size, all stepped together."""
    n = config.n_examples
    if any(n % b for b in config.batch_sizes):
        raise ValueError(f"every batch size must divide n_examples = {n}, got {config.batch_sizes}")
    generator = torch.Generator().manual_seed(config.seed)
    offsets = torch.randn(n, generator=generator, dtype=torch.float64)
    offsets = (offsets - offsets.mean()) / offsets.std(correction=0) * config.spread
    deep, barrier, shallow = double_well_minima(config.tilt)
    k = len(config.batch_sizes)
    noise = torch.empty(k, 2, config.chains, config.steps, dtype=torch.float64)
    for index, batch_size in enumerate(config.batch_sizes):
        # Every epoch, each chain shuffles the examples; its noise at a step is the mean offset of that step's batch.
        if batch_size == n:
            noise[index] = 0.0  # the full batch: its offsets cancel exactly, nothing to sample
            continue
        steps_per_epoch = n // batch_size
        epochs = math.ceil(config.steps / steps_per_epoch)
        order = torch.rand(2, config.chains, epochs, n, generator=generator).argsort(dim=-1)
        batch_means = offsets[order].reshape(2, config.chains, epochs * steps_per_epoch, batch_size).mean(dim=-1)
        noise[index] = batch_means[..., : config.steps]
    w = torch.tensor([shallow, deep], dtype=torch.float64)[None, :, None].expand(k, 2, config.chains).clone()
    for step in range(config.steps):
        w = w - config.lr * (w**3 - w + config.tilt + noise[..., step])
    return DoubleWellResult(
        batch_sizes=torch.tensor(config.batch_sizes),
        barrier=barrier,
        shallow_start_to_deep=(w[:, 0] < barrier).double().mean(dim=-1),
        deep_start_to_shallow=(w[:, 1] > barrier).double().mean(dim=-1),
    )


# --- The runs chapter 1 shows: its tests check the chapter's claims on these -------------------

GRADIENT_NOISE = GradientNoiseConfig()
EQUAL_EPOCHS = BatchSizeSweepConfig(epochs=4)
EQUAL_UPDATES = BatchSizeSweepConfig(epochs=None, updates=80)
COSTS = CostConfig()
DOUBLE_WELL = DoubleWellConfig()
