"""Chapter 8's experiments: Adam's first steps with and without bias correction, L2 weight decay
against AdamW's decoupled decay, AMSGrad after a drop in the gradient, and Adam's defaults against
tuned SGD with momentum on the digits.

Each experiment is a pure, seeded function ``config -> result``, and each has a closed-form
prediction next to it (``predicted_*``) that the chapter draws and its tests hold against
the measurement. The configs the chapter runs are named at the end (``FIRST_STEPS``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.device import default_device
from optimlab.experiments.batched_mlp import (
    init_stacked_mlp,
    minibatch_order,
    stacked_cross_entropy,
    stacked_mlp_logits,
)
from optimlab.optimizers.adam import adam_init, adam_step, adam_update, adamw_step
from optimlab.optimizers.momentum import per_model, sgd_momentum_step_batched

# --- The first steps: a constant gradient, bias correction on and off ------------------------
#
# With g_t = g for every t, m_t = (1 - beta1^t) g and v_t = (1 - beta2^t) g^2 exactly (both start
# at 0), so the step is known in closed form:
#     corrected:   eta |g| / (|g| + eps)                                  (about eta, from t = 1)
#     uncorrected: eta (1 - beta1^t) |g| / (sqrt(1 - beta2^t) |g| + eps)  (eta (1 - beta1)/sqrt(1 - beta2) at t = 1)


@dataclass(frozen=True)
class StepVariant:
    """One way of running Adam: its ``betas`` and whether it corrects the bias of ``m`` and ``v``."""

    label: str
    betas: tuple[float, float]
    bias_correction: bool


@dataclass(frozen=True)
class FirstStepsConfig:
    """Adam on a constant gradient: one coordinate per entry of ``grads``, each variant from ``w = 0``."""

    variants: tuple[StepVariant, ...] = (
        StepVariant("PyTorch: bias corrected", (0.9, 0.999), True),
        StepVariant("no bias correction", (0.9, 0.999), False),
        StepVariant("no correction, betas swapped", (0.999, 0.9), False),
    )
    grads: tuple[float, ...] = (1e-3, 1.0, 1e3)
    lr: float = 0.01
    eps: float = 1e-8
    steps: int = 2000


@dataclass(frozen=True)
class FirstStepsResult:
    steps: Tensor  # (T,): 1, 2, ..., T
    # (V, T, len(grads)): |w_t - w_{t-1}| / lr, each variant, step and coordinate, float64
    step_over_lr: Tensor


def run_first_steps(config: FirstStepsConfig) -> FirstStepsResult:
    """The size of every step, over the learning rate, for each variant (measured with :func:`adam_update`)."""
    grad = torch.tensor(config.grads, dtype=torch.float64)
    per_variant = []
    for variant in config.variants:
        w, state = torch.zeros_like(grad), adam_init(grad)
        sizes = []
        for t in range(1, config.steps + 1):
            new_w, state = adam_update(
                w,
                grad,
                state,
                t,
                config.lr,
                betas=variant.betas,
                eps=config.eps,
                bias_correction=variant.bias_correction,
            )
            sizes.append((new_w - w).abs() / config.lr)
            w = new_w
        per_variant.append(torch.stack(sizes))
    return FirstStepsResult(
        steps=torch.arange(1, config.steps + 1, dtype=torch.float64), step_over_lr=torch.stack(per_variant)
    )


def predicted_step_over_lr(
    steps: Tensor, betas: tuple[float, float], bias_correction: bool, *, grad: float = 1.0, eps: float = 1e-8
) -> Tensor:
    """The closed form above: Adam's step over ``lr`` at each step ``t`` of ``steps`` under a constant ``grad``."""
    beta1, beta2 = betas
    size = abs(grad)
    if bias_correction:
        return torch.full_like(steps, size / (size + eps))
    return (1 - beta1**steps) * size / ((1 - beta2**steps).sqrt() * size + eps)


# --- Weight decay: Adam's L2 term against AdamW's decoupled decay ----------------------------
#
# Every coordinate's loss gradient is pure noise, sigma * N(0, 1), and only weight decay pulls
# w toward 0. AdamW shrinks w by (1 - eta lambda) per step outside the adaptive scaling, and the
# noise's step has mean zero, so E[w_t] = (1 - eta lambda)^t w_0 whatever sigma. Adam adds lambda w
# to the gradient, and that goes through the scaling: m tracks lambda w, v tracks
# sigma^2 + lambda^2 w^2, so the mean moves by about eta lambda w / sqrt(sigma^2 + lambda^2 w^2)
# per step. Decay then depends on the noise's scale: with sigma = 0 it is eta per step (a sign
# step, whatever lambda), with sigma >> lambda |w| it is a factor (1 - eta lambda / sigma).


@dataclass(frozen=True)
class DecayConfig:
    """Adam (L2 ``weight_decay``) and AdamW, both with ``weight_decay``, on gradients of pure noise.

    ``coordinates`` weights per noise scale start at ``start``; the mean over them is recorded.
    """

    noise_scales: tuple[float, ...] = (0.0, 0.1, 1.0, 10.0)
    weight_decay: float = 0.2
    lr: float = 0.01
    steps: int = 500
    coordinates: int = 1000
    start: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class DecayResult:
    noise_scales: Tensor  # (S,)
    adam: Tensor  # (S, steps + 1): the mean weight under Adam with L2 weight decay
    adamw: Tensor  # (S, steps + 1): the same under AdamW


def run_decay(config: DecayConfig) -> DecayResult:
    """Both optimizers see the same noise, all scales in one batch, in float64."""
    generator = torch.Generator().manual_seed(config.seed)
    sigma = torch.tensor(config.noise_scales, dtype=torch.float64)[:, None]
    shape = (len(config.noise_scales), config.coordinates)
    w = {name: torch.full(shape, config.start, dtype=torch.float64) for name in ("adam", "adamw")}
    m = {name: torch.zeros(shape, dtype=torch.float64) for name in w}
    v = {name: torch.zeros(shape, dtype=torch.float64) for name in w}
    means = {name: [w[name].mean(dim=1)] for name in w}
    steppers = {"adam": adam_step, "adamw": adamw_step}
    for t in range(1, config.steps + 1):
        noise = sigma * torch.randn(shape, generator=generator, dtype=torch.float64)
        for name, step in steppers.items():
            w[name], m[name], v[name] = step(
                w[name], noise, m[name], v[name], t, config.lr, weight_decay=config.weight_decay
            )
            means[name].append(w[name].mean(dim=1))
    return DecayResult(
        noise_scales=sigma[:, 0],
        adam=torch.stack(means["adam"], dim=1),
        adamw=torch.stack(means["adamw"], dim=1),
    )


def predicted_decay(config: DecayConfig) -> tuple[Tensor, Tensor]:
    """The mean weight the argument above predicts, ``(adam, adamw)``, each ``(S, steps + 1)``.

    Adam's is its own recurrence run on the *mean* gradient ``lambda w``, with ``v`` fed the mean
    squared gradient ``sigma^2 + lambda^2 w^2``: exact for ``sigma = 0``, a mean-field approximation
    otherwise (it ignores how ``m`` and ``v`` fluctuate together). AdamW's is exact in expectation.
    """
    lam, lr = config.weight_decay, config.lr
    beta1, beta2 = 0.9, 0.999  # the defaults, which run_decay uses
    sigma = torch.tensor(config.noise_scales, dtype=torch.float64)
    w = torch.full_like(sigma, config.start)
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    adam = [w]
    for t in range(1, config.steps + 1):
        m = beta1 * m + (1 - beta1) * lam * w
        v = beta2 * v + (1 - beta2) * (sigma**2 + (lam * w) ** 2)
        w = w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + 1e-8)
        adam.append(w)
    shrink = (1 - lr * lam) ** torch.arange(config.steps + 1, dtype=torch.float64)
    adamw = config.start * shrink.expand(len(config.noise_scales), -1)
    return torch.stack(adam, dim=1), adamw.clone()


# --- AMSGrad: the gradient drops from ``before`` to ``after`` at step ``drop_at`` -------------
#
# Piecewise constant gradients give m and v in closed form again. v is largest at the drop and
# only decays after it, so AMSGrad's max_v stays at v_{drop_at}: its steps stay small, while
# Adam's v forgets the large gradients (over about 1 / (1 - beta2) steps) and its steps grow back.


@dataclass(frozen=True)
class AmsgradConfig:
    """A one-coordinate gradient ``before`` for the first ``drop_at`` steps, then ``after``."""

    before: float = 1.0
    after: float = 0.1
    drop_at: int = 100
    steps: int = 2000
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass(frozen=True)
class AmsgradResult:
    steps: Tensor  # (T,): 1, ..., T
    adam: Tensor  # (T,): |w_t - w_{t-1}| / lr under Adam
    amsgrad: Tensor  # (T,): the same with amsgrad=True


def amsgrad_gradients(config: AmsgradConfig) -> Tensor:
    """The gradient at steps ``1..steps``, float64."""
    grads = torch.full((config.steps,), config.after, dtype=torch.float64)
    grads[: config.drop_at] = config.before
    return grads


def run_amsgrad(config: AmsgradConfig) -> AmsgradResult:
    """Step sizes of Adam with and without AMSGrad (measured with :func:`adam_update`), same gradients."""
    sizes = {}
    for amsgrad in (False, True):
        w = torch.zeros(1, dtype=torch.float64)
        state = adam_init(w, amsgrad=amsgrad)
        steps = []
        for t, grad in enumerate(amsgrad_gradients(config), start=1):
            new_w, state = adam_update(w, grad.reshape(1), state, t, config.lr, betas=config.betas, amsgrad=amsgrad)
            steps.append((new_w - w).abs()[0] / config.lr)
            w = new_w
        sizes[amsgrad] = torch.stack(steps)
    return AmsgradResult(
        steps=torch.arange(1, config.steps + 1, dtype=torch.float64), adam=sizes[False], amsgrad=sizes[True]
    )


def predicted_amsgrad(config: AmsgradConfig, *, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Closed-form step sizes over ``lr``, ``(adam, amsgrad)``: the moving averages of a piecewise-constant gradient."""
    beta1, beta2 = config.betas
    t = torch.arange(1, config.steps + 1, dtype=torch.float64)
    since = (t - config.drop_at).clamp(min=0)  # steps taken after the drop
    until = t.clamp(max=config.drop_at)  # steps taken before it
    m = beta1**since * (1 - beta1**until) * config.before + (1 - beta1**since) * config.after
    v = beta2**since * (1 - beta2**until) * config.before**2 + (1 - beta2**since) * config.after**2
    max_v = torch.cummax(v, dim=0).values
    m_hat = m / (1 - beta1**t)

    def step(second_moment: Tensor) -> Tensor:
        return m_hat.abs() / ((second_moment / (1 - beta2**t)).sqrt() + eps)

    return step(v), step(max_v)


# --- Adam on chapter 4's ravine: the path the explorers draw ---------------------------------


@dataclass(frozen=True)
class RavineConfig:
    """Adam from ``start`` on ``f(w) = (h_1 w_1² + h_2 w_2²) / 2``, ``(h_1, h_2) = curvatures`` (chapter 4's ravine)."""

    betas: tuple[float, float] = (0.9, 0.999)
    bias_correction: bool = True
    lr: float = 0.1
    steps: int = 80
    curvatures: tuple[float, float] = (2.0, 38.0)
    start: tuple[float, float] = (-4.5, 1.2)


def run_ravine(config: RavineConfig) -> Tensor:
    """The path ``(steps + 1, 2)``: the start, then ``w`` after each step, float64."""
    w = torch.tensor(config.start, dtype=torch.float64)
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64)
    state = adam_init(w)
    path = [w]
    for t in range(1, config.steps + 1):
        w, state = adam_update(
            w, curvatures * w, state, t, config.lr, betas=config.betas, bias_correction=config.bias_correction
        )
        path.append(w)
    return torch.stack(path)


# --- Our step function against torch.optim.Adam, in float64 ------------------------------------


@dataclass(frozen=True)
class AdamTorchMatchConfig:
    """``steps`` steps on the random quadratic ``w^T A w / 2``, L2 weight decay, ``lr`` halved every ``halve_every``."""

    steps: int = 200
    dim: int = 5
    lr: float = 0.01
    halve_every: int = 50
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 1e-2
    seed: int = 0


def run_adam_torch_match(config: AdamTorchMatchConfig) -> float:
    """The largest difference between :func:`adam_step`'s weights and ``torch.optim.Adam``'s over the run."""
    generator = torch.Generator().manual_seed(config.seed)
    a = torch.randn(config.dim, config.dim, generator=generator, dtype=torch.float64)
    a = a @ a.T + torch.eye(config.dim, dtype=torch.float64)
    settings = dict(betas=config.betas, weight_decay=config.weight_decay)
    ours = torch.ones(config.dim, dtype=torch.float64)
    m, v = torch.zeros_like(ours), torch.zeros_like(ours)
    theirs = ours.clone().requires_grad_()
    reference = torch.optim.Adam([theirs], lr=config.lr, **settings)
    largest = 0.0
    for t in range(1, config.steps + 1):
        lr = config.lr * 0.5 ** ((t - 1) // config.halve_every)
        reference.param_groups[0]["lr"] = lr
        ours, m, v = adam_step(ours, a @ ours, m, v, t, lr, **settings)
        theirs.grad = a @ theirs.detach()
        reference.step()
        largest = max(largest, (ours - theirs.detach()).abs().max().item())
    return largest


# --- The digits: Adam at its defaults against SGD with momentum at its best learning rate ----


@dataclass(frozen=True)
class DigitsComparisonConfig:
    """A 64-``hidden``-10 MLP on minibatches: one model per SGD (momentum ``momentum``) and per Adam learning rate.

    Each seed draws its own initial weights and minibatch order; within a seed every model
    starts from the same weights and sees the same minibatches. Adam runs at its defaults
    apart from the learning rate.
    """

    sgd_lrs: tuple[float, ...] = (0.01, 0.03, 0.1)
    adam_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2)
    momentum: float = 0.9
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 400
    batch_size: int = 32
    hidden: int = 32
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class DigitsComparisonResult:
    sgd_lrs: Tensor  # (A,)
    adam_lrs: Tensor  # (B,)
    # (S, A, steps + 1) and (S, B, steps + 1): the loss on each step's batch before the step,
    # then the whole training set's loss after the last step
    sgd_train_loss: Tensor
    adam_train_loss: Tensor
    sgd_test_accuracy: Tensor  # (S, A)
    adam_test_accuracy: Tensor  # (S, B)


def run_digits_comparison(config: DigitsComparisonConfig) -> DigitsComparisonResult:
    """Train ``len(seeds) x (A + B)`` MLPs as one stack (seed-major); each takes its own optimizer's steps.

    Both updates are computed for the whole stack and each model keeps its own optimizer's
    (``torch.where``): cheaper than splitting the stack, and a model's step depends only on
    its own parameters and gradients.
    """
    if not config.sgd_lrs or not config.adam_lrs or not config.seeds:
        raise ValueError("need at least one SGD learning rate, one Adam learning rate and one seed")
    device = default_device()
    digits = load_digits(dtype=config.dtype, device=device)
    n_seeds, n_sgd = len(config.seeds), len(config.sgd_lrs)
    n_models = n_sgd + len(config.adam_lrs)
    sizes = (DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES)
    per_seed = [
        init_stacked_mlp(sizes, n_models, seed=seed, dtype=config.dtype, device=device) for seed in config.seeds
    ]
    params = [torch.cat(stacks) for stacks in zip(*per_seed)]
    lrs = (config.sgd_lrs + config.adam_lrs) * n_seeds
    is_adam = ((False,) * n_sgd + (True,) * len(config.adam_lrs)) * n_seeds
    step_lrs = [per_model(lrs, p) for p in params]
    adam_models = [per_model(is_adam, p).bool() for p in params]
    bufs: list[Tensor | None] = [None] * len(params)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    n_train = len(digits.train.y)
    orders = [minibatch_order(n_train, config.batch_size, config.steps, seed=seed) for seed in config.seeds]
    train_loss = []
    for t, batches in enumerate(zip(*orders), start=1):
        index = torch.stack(batches).to(device).repeat_interleave(n_models, dim=0)
        params = [p.detach().requires_grad_() for p in params]
        losses = stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x[index]), digits.train.y[index])
        grads = torch.autograd.grad(losses.sum(), params)
        train_loss.append(losses.detach())
        with torch.no_grad():
            for i, (p, g, lr, adam_model) in enumerate(zip(params, grads, step_lrs, adam_models, strict=True)):
                sgd_p, bufs[i] = sgd_momentum_step_batched(p, g, bufs[i], lr, config.momentum)
                adam_p, *moments[i] = adam_step(p, g, *moments[i], t, lr)
                params[i] = torch.where(adam_model, adam_p, sgd_p)
    with torch.no_grad():
        train_loss.append(stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x), digits.train.y))
        test_logits = stacked_mlp_logits(params, digits.test.x)
        test_accuracy = (test_logits.argmax(dim=-1) == digits.test.y).to(config.dtype).mean(dim=1)
    train_loss = torch.stack(train_loss, dim=1).cpu().reshape(n_seeds, n_models, -1)
    test_accuracy = test_accuracy.cpu().reshape(n_seeds, n_models)
    return DigitsComparisonResult(
        sgd_lrs=torch.tensor(config.sgd_lrs),
        adam_lrs=torch.tensor(config.adam_lrs),
        sgd_train_loss=train_loss[:, :n_sgd],
        adam_train_loss=train_loss[:, n_sgd:],
        sgd_test_accuracy=test_accuracy[:, :n_sgd],
        adam_test_accuracy=test_accuracy[:, n_sgd:],
    )


# --- The runs chapter 8 shows: its tests check the chapter's claims on these --------------------

FIRST_STEPS = FirstStepsConfig()
DECAY = DecayConfig()
AMSGRAD = AmsgradConfig()
RAVINE = RavineConfig()
ADAM_TORCH_MATCH = AdamTorchMatchConfig()
DIGITS_COMPARISON = DigitsComparisonConfig()
