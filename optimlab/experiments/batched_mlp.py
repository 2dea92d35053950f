"""A small MLP trained as a *stack* of independent models, one per hyperparameter value.

Every parameter carries a leading model dimension ``M``; a forward pass runs all
models at once with batched matrix products (``torch.baddbmm``), and the summed
loss backpropagates to each model's own parameters (the models share nothing,
so the gradient of the sum with respect to model ``m`` is model ``m``'s gradient).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def init_stacked_mlp(
    sizes: tuple[int, ...], n_models: int, *, seed: int, dtype: torch.dtype, device: torch.device
) -> list[Tensor]:
    """Weights ``(M, fan_in, fan_out)`` and biases ``(M, 1, fan_out)`` for layer ``sizes``.

    Initialized like ``torch.nn.Linear`` (uniform in ``±1/sqrt(fan_in)``), and the *same*
    initial model is copied ``n_models`` times, so that models in a sweep differ only in
    the hyperparameter being swept.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got sizes={sizes}")
    generator = torch.Generator().manual_seed(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=False):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((fan_in, fan_out), (1, fan_out)):
            one = (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
            params.append(one.to(dtype=dtype, device=device).expand(n_models, *shape).clone())
    return params


def stacked_mlp_logits(params: list[Tensor], x: Tensor) -> Tensor:
    """Logits ``(M, N, classes)`` of every model, ReLU between layers.

    ``x`` is ``N x features`` (the same inputs for every model) or ``M x N x features``.
    """
    h = x.expand(params[0].shape[0], *x.shape) if x.dim() == 2 else x
    n_layers = len(params) // 2
    for layer in range(n_layers):
        weight, bias = params[2 * layer], params[2 * layer + 1]
        h = torch.baddbmm(bias, h, weight)
        if layer < n_layers - 1:
            h = torch.relu(h)
    return h


def stacked_cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy of each model: a tensor of shape ``(M,)``; labels ``y`` are ``N`` or ``M x N``."""
    n_models, n, n_classes = logits.shape
    labels = y.repeat(n_models) if y.dim() == 1 else y.reshape(-1)
    per_example = F.cross_entropy(logits.reshape(-1, n_classes), labels, reduction="none")
    return per_example.reshape(n_models, n).mean(dim=1)


def minibatch_order(n_examples: int, batch_size: int | None, steps: int, *, seed: int) -> list[Tensor | None]:
    """The example indices of each of ``steps`` steps, the same for every model of a sweep.

    Every epoch is a fresh seeded permutation of ``range(n_examples)`` cut into batches of
    ``batch_size`` (the last batch of an epoch holds the remainder). ``batch_size=None``
    means full batch: every entry is ``None`` (use all examples, no indexing).
    """
    if batch_size is None:
        return [None] * steps
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive or None (full batch), got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    order: list[Tensor | None] = []
    while len(order) < steps:
        order.extend(torch.randperm(n_examples, generator=generator).split(batch_size))
    return order[:steps]
