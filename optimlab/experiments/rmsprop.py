"""Chapter 7's experiments: RMSProp against ``torch.optim.RMSprop``, its per-coordinate step sizes on a badly
scaled quadratic (with their theory), and RMSProp against SGD on a network whose layers have gradients of
different scales.

Each experiment is a pure, seeded function ``config -> result``. RMSProp acts element-wise, so a sweep (over
``α``, learning rates or seeds) is one stacked tensor stepped by one call of
:func:`optimlab.optimizers.rmsprop.rmsprop_step` with per-model hyperparameters broadcast against it. The
configs the chapter runs are named at the bottom, so that its tests check the chapter's claims on those runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor

from optimlab.data import Digits, Split
from optimlab.device import default_device, one_thread
from optimlab.experiments.batched_mlp import (
    init_stacked_mlp,
    minibatch_order,
    stacked_cross_entropy,
    stacked_mlp_logits,
)
from optimlab.optimizers.base import check_at_least_zero
from optimlab.optimizers.rmsprop import rmsprop_init, rmsprop_step, rmsprop_update

# --- Our RMSProp against torch.optim.RMSprop, in float64 -------------------------------------

# Every option of torch.optim.RMSprop the chapter teaches, alone and together.
TORCH_OPTIONS: dict[str, dict] = {
    "defaults": {},
    "weight decay": {"weight_decay": 0.05},
    "centered": {"centered": True},
    "momentum": {"momentum": 0.9},
    "all of them": {"weight_decay": 0.05, "centered": True, "momentum": 0.9, "alpha": 0.9, "eps": 1e-3},
}


@dataclass(frozen=True)
class TorchMatchConfig:
    """``steps`` steps on the random quadratic ``w^T A w / 2`` (``A`` positive definite, ``dim x dim``); the
    learning rate halves every ``halve_every`` steps, set in the optimizer's param group as a scheduler would."""

    options: dict = field(default_factory=dict, hash=False)
    steps: int = 200
    dim: int = 5
    lr: float = 0.01
    halve_every: int = 50
    seed: int = 0


def run_torch_match(config: TorchMatchConfig, *, plain_step: bool = False) -> float:
    """The largest difference, over all steps and coordinates, between ``torch.optim.RMSprop`` and
    :func:`~optimlab.optimizers.rmsprop.rmsprop_update` (or, with ``plain_step``, the chapter's box
    :func:`~optimlab.optimizers.rmsprop.rmsprop_step`, which knows only ``alpha``, ``eps``, ``weight_decay``)."""
    generator = torch.Generator().manual_seed(config.seed)
    a = torch.randn(config.dim, config.dim, generator=generator, dtype=torch.float64)
    a = a @ a.T + torch.eye(config.dim, dtype=torch.float64)
    ours = torch.ones(config.dim, dtype=torch.float64)
    theirs = ours.clone().requires_grad_()
    reference = torch.optim.RMSprop([theirs], lr=config.lr, **config.options)
    state = rmsprop_init(
        ours, momentum=config.options.get("momentum", 0.0), centered=config.options.get("centered", False)
    )
    largest = 0.0
    for t in range(config.steps):
        lr = config.lr * 0.5 ** (t // config.halve_every)
        reference.param_groups[0]["lr"] = lr
        if plain_step:
            ours, v = rmsprop_step(ours, a @ ours, state.v, lr, **config.options)
            state = state._replace(v=v)
        else:
            ours, state = rmsprop_update(ours, a @ ours, state, lr, **config.options)
        theirs.grad = a @ theirs.detach()
        reference.step()
        largest = max(largest, (ours - theirs.detach()).abs().max().item())
    return largest


# --- Per-coordinate step sizes on a badly scaled quadratic -----------------------------------


@dataclass(frozen=True)
class ScaledQuadraticConfig:
    """RMSProp (one run per ``α`` of ``alphas``) and plain gradient descent on ``f(w) = Σ h_i w_i² / 2``.

    The curvatures span twelve orders of magnitude, so the gradients ``h_i w_i`` do too. Gradient descent runs
    at ``sgd_lr = 1 / max h``, the largest rate that does not overshoot the steepest coordinate.
    """

    alphas: tuple[float, ...] = (0.99,)
    lr: float = 1e-4
    eps: float = 1e-8
    steps: int = 50
    curvatures: tuple[float, ...] = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0, 1e2)
    start: float | tuple[float, ...] = 1.0  # every coordinate's, or one per coordinate


@dataclass(frozen=True)
class ScaledQuadraticResult:
    alphas: Tensor  # (A,)
    curvatures: Tensor  # (d,)
    trajectories: Tensor  # (A, steps + 1, d): w_0, then w after each step
    grads: Tensor  # (A, steps, d): the gradient at each step
    steps: Tensor  # (A, steps, d): |w_{t+1} - w_t|, RMSProp's step on each coordinate
    effective_lrs: Tensor  # (A, steps, d): eta / (sqrt(v_t) + eps), the step per unit of gradient
    sgd_steps: Tensor  # (steps, d): |w_{t+1} - w_t| under gradient descent at sgd_lr
    sgd_lr: float


def run_scaled_quadratic(config: ScaledQuadraticConfig) -> ScaledQuadraticResult:
    """Every ``α`` from the same start in one batch (float64), and gradient descent beside them."""
    if len(config.alphas) == 0:
        raise ValueError("alphas must name at least one alpha value")
    for alpha in config.alphas:
        check_at_least_zero("alpha value", alpha)
    check_at_least_zero("learning rate", config.lr)
    device = default_device()
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64, device=device)
    alphas = torch.tensor(config.alphas, dtype=torch.float64, device=device).unsqueeze(1)
    start = torch.as_tensor(config.start, dtype=torch.float64, device=device)
    w = start.expand(len(config.alphas), len(curvatures)).clone()
    v = torch.zeros_like(w)
    sgd_lr = 1.0 / curvatures.max().item()
    w_sgd = w[0]
    trajectory, grads, steps, effective_lrs, sgd_steps = [w], [], [], [], []
    for _ in range(config.steps):
        grad = curvatures * w
        w_next, v = rmsprop_step(w, grad, v, config.lr, alpha=alphas, eps=config.eps)
        grads.append(grad)
        steps.append((w_next - w).abs())
        effective_lrs.append(config.lr / (v.sqrt() + config.eps))
        w = w_next
        trajectory.append(w)
        w_sgd_next = w_sgd - sgd_lr * curvatures * w_sgd
        sgd_steps.append((w_sgd_next - w_sgd).abs())
        w_sgd = w_sgd_next
    return ScaledQuadraticResult(
        alphas=alphas.squeeze(1).cpu(),
        curvatures=curvatures.cpu(),
        trajectories=torch.stack(trajectory, dim=1).cpu(),
        grads=torch.stack(grads, dim=1).cpu(),
        steps=torch.stack(steps, dim=1).cpu(),
        effective_lrs=torch.stack(effective_lrs, dim=1).cpu(),
        sgd_steps=torch.stack(sgd_steps).cpu(),
        sgd_lr=sgd_lr,
    )


def constant_gradient_steps(lr: float, alpha: float, eps: float, grad: Tensor, steps: int) -> Tensor:
    r"""RMSProp's step ``η |g| / (sqrt(v_t) + ε)`` at ``t = 1 .. steps`` for a gradient ``g`` that never changes.

    From ``v_0 = 0``, ``v_t = (1 − α) Σ_{k<t} α^k g² = (1 − α^t) g²``, so the step is
    ``η / (sqrt(1 − α^t) + ε / |g|)``: ``η / sqrt(1 − α)`` at first (ten times ``η`` for ``α = 0.99``), tending
    to ``η``, the same for every coordinate whose ``|g|`` is well above ``ε``, and ``η |g| / ε`` for those far
    below it. Shape ``(steps, *grad.shape)``.
    """
    t = torch.arange(1, steps + 1, dtype=torch.float64).reshape(-1, *[1] * grad.dim())
    size = grad.abs()
    return lr * size / ((1 - alpha**t).sqrt() * size + eps)


# --- RMSProp against SGD on an MLP whose layers see gradients of different scales --------------


def teacher_classes(
    *, n_train: int, n_test: int, features: int, classes: int, hidden: int, seed: int, device: torch.device
) -> Digits:
    """A synthetic classification task: Gaussian inputs labelled by the argmax of a random ReLU network.

    Generated in milliseconds (nothing to load); the labels are an exact function of the inputs, which a
    student network of the teacher's size can learn. Returned in the digits' containers (train and test
    :class:`~optimlab.data.Split`).
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_train + n_test, features, generator=generator)
    w_1 = torch.randn(features, hidden, generator=generator) / features**0.5
    w_2 = torch.randn(hidden, classes, generator=generator) / hidden**0.5
    y = (torch.relu(x @ w_1) @ w_2).argmax(dim=1)
    x, y = x.to(device), y.to(device)
    return Digits(train=Split(x[:n_train], y[:n_train]), test=Split(x[n_train:], y[n_train:]))


@dataclass(frozen=True)
class LayerScalesConfig:
    """SGD and RMSProp (``torch.optim.RMSprop`` defaults) on a ``features``-``hidden``-``classes`` MLP, trained on
    :func:`teacher_classes` data (``data_seed``), whose first layer's weights enter the network multiplied by
    ``c = layer_scale``: ``W_1 = c U_1``, with ``U_1`` trained.

    ``U_1`` starts at ``W_1 / c``, so the network computes the same function as an ordinary one at the start;
    but the gradient of ``U_1`` is ``c`` times that of ``W_1``, and its curvature ``c²`` times. Every learning
    rate of ``sgd_lrs`` and ``rmsprop_lrs`` runs, for every seed, in one stack.
    """

    layer_scale: float = 0.1
    sgd_lrs: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    rmsprop_lrs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    steps: int = 200
    batch_size: int = 32
    hidden: int = 32
    features: int = 20
    classes: int = 5
    n_train: int = 1024
    n_test: int = 1024
    data_seed: int = 0


@dataclass(frozen=True)
class LayerScalesResult:
    seeds: tuple[int, ...]
    sgd_lrs: Tensor  # (K_sgd,)
    rmsprop_lrs: Tensor  # (K_rms,)
    # (S, K_sgd + K_rms, steps + 1): each step's batch loss, then the whole training set's after the last step;
    # SGD's learning rates first, then RMSProp's
    train_loss: Tensor
    test_accuracy: Tensor  # (S, K_sgd + K_rms)
    gradient_rms: Tensor  # (S, 4): root mean square of the first batch's gradient of U_1, b_1, W_2, b_2


@one_thread()
def run_layer_scales(config: LayerScalesConfig, seeds: tuple[int, ...]) -> LayerScalesResult:
    """Train every (seed, method, learning rate) as one stack; a seed's models share its initial weights and
    minibatches."""
    for lr in config.sgd_lrs + config.rmsprop_lrs:
        check_at_least_zero("learning rate", lr)
    if config.layer_scale <= 0:
        raise ValueError(f"layer_scale must be positive, got {config.layer_scale}")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    device = default_device()
    data = teacher_classes(
        n_train=config.n_train,
        n_test=config.n_test,
        features=config.features,
        classes=config.classes,
        hidden=config.hidden,
        seed=config.data_seed,
        device=device,
    )
    n_sgd, n_models = len(config.sgd_lrs), len(config.sgd_lrs) + len(config.rmsprop_lrs)
    sizes = (config.features, config.hidden, config.classes)
    per_seed = [init_stacked_mlp(sizes, n_models, seed=seed, dtype=torch.float32, device=device) for seed in seeds]
    params = [torch.cat(stacks) for stacks in zip(*per_seed)]
    params[0] = params[0] / config.layer_scale  # U_1 = W_1 / c: the same network at the start

    def split(p: Tensor) -> tuple[Tensor, Tensor]:  # (S * K, ...) -> SGD's models, RMSProp's models
        by_seed = p.reshape(len(seeds), n_models, *p.shape[1:])
        return by_seed[:, :n_sgd], by_seed[:, n_sgd:]

    def per_model_lr(lrs: tuple[float, ...], like: Tensor) -> Tensor:
        return torch.tensor(lrs, device=device).reshape(1, -1, *[1] * (like.dim() - 2))

    square_avgs = [split(torch.zeros_like(p))[1] for p in params]
    orders = [minibatch_order(len(data.train.y), config.batch_size, config.steps, seed=seed) for seed in seeds]
    train_loss, gradient_rms = [], None
    for batches in zip(*orders):
        index = torch.stack(batches).to(device).repeat_interleave(n_models, dim=0)
        params = [p.detach().requires_grad_() for p in params]
        network = [config.layer_scale * params[0], *params[1:]]
        losses = stacked_cross_entropy(stacked_mlp_logits(network, data.train.x[index]), data.train.y[index])
        grads = torch.autograd.grad(losses.sum(), params)
        if gradient_rms is None:
            first = [g.reshape(len(seeds), n_models, -1)[:, 0] for g in grads]  # any model: all start equal
            gradient_rms = torch.stack([g.pow(2).mean(dim=-1).sqrt() for g in first], dim=1)
        train_loss.append(losses.detach())
        with torch.no_grad():
            stepped = []
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                (p_sgd, p_rms), (g_sgd, g_rms) = split(p), split(g)
                p_sgd = p_sgd - per_model_lr(config.sgd_lrs, p_sgd) * g_sgd
                p_rms, square_avgs[i] = rmsprop_step(
                    p_rms, g_rms, square_avgs[i], per_model_lr(config.rmsprop_lrs, p_rms)
                )
                stepped.append(torch.cat([p_sgd, p_rms], dim=1).reshape(p.shape))
            params = stepped
    with torch.no_grad():
        network = [config.layer_scale * params[0], *params[1:]]
        train_loss.append(stacked_cross_entropy(stacked_mlp_logits(network, data.train.x), data.train.y))
        correct = stacked_mlp_logits(network, data.test.x).argmax(dim=-1) == data.test.y
    return LayerScalesResult(
        seeds=tuple(seeds),
        sgd_lrs=torch.tensor(config.sgd_lrs),
        rmsprop_lrs=torch.tensor(config.rmsprop_lrs),
        train_loss=torch.stack(train_loss, dim=1).reshape(len(seeds), n_models, -1).cpu(),
        test_accuracy=correct.float().mean(dim=1).reshape(len(seeds), n_models).cpu(),
        gradient_rms=gradient_rms.cpu(),
    )


def tuned_indices(result: LayerScalesResult) -> tuple[int, int]:
    """Per method, the learning rate (an index into its own grid) whose final training loss has the smallest
    mean log over seeds; a run that diverged counts as infinitely bad."""
    final = result.train_loss[..., -1].log()
    final = torch.where(final.isfinite(), final, torch.inf).mean(dim=0)
    n_sgd = len(result.sgd_lrs)
    return int(final[:n_sgd].argmin()), int(final[n_sgd:].argmin())


# --- The runs chapter 7 shows: its tests check the chapter's claims on these ----------------------

SCALED_QUADRATIC = ScaledQuadraticConfig()
# Chapter 4's ravine, for RMSProp's path in the explorers.
RAVINE = ScaledQuadraticConfig(lr=0.1, steps=80, curvatures=(2.0, 38.0), start=(-4.5, 1.2))
LAYER_SCALES = LayerScalesConfig()
# The same network without the scale on its first layer: the reference.
LAYER_SCALES_PLAIN = dataclasses.replace(LAYER_SCALES, layer_scale=1.0)
LAYER_SCALES_SEEDS = (0, 1, 2)
