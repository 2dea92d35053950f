"""Minibatches as samples: random and stratified batches, and the exact variance of a minibatch gradient.

These are the reference solutions of exercise ``01_minibatch``; chapter 1 runs them on the digits.

Notation (chapter 1): ``N`` examples with per-example gradients ``g_i``, their mean ``ḡ`` and their
population variance ``σ² = (1/N) Σ_i (g_i − ḡ)²`` (per coordinate); a batch of ``B`` examples
drawn uniformly *without replacement*, and its mean gradient ``ĝ_B``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def minibatch_gradient_variance(per_example_grads: Tensor, batch_size: int) -> Tensor:
    r"""The exact per-coordinate variance of ``ĝ_B``, the mean gradient of a batch drawn without replacement.

    .. math::
        \operatorname{Var}[\hat g_B] = \frac{\sigma^2}{B} \cdot \frac{N - B}{N - 1}

    ``per_example_grads`` is ``N x ...`` (one gradient per row); the result has the shape of one
    gradient and its dtype. ``(N − B)/(N − 1)`` is the finite-population correction: drawing
    without replacement, a batch cannot repeat an example, so its mean is less noisy than the
    ``σ²/B`` of ``B`` independent draws, and exactly ``ḡ`` (variance 0) at ``B = N``.
    """
    n = per_example_grads.shape[0]
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must lie in 1..N = {n}, got {batch_size}")
    sigma2 = per_example_grads.var(dim=0, correction=0)  # the population variance: divide by N
    if n == 1:
        return torch.zeros_like(sigma2)
    return sigma2 / batch_size * (n - batch_size) / (n - 1)


def random_batches(n_examples: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """One epoch of ordinary minibatches: a shuffle of ``range(N)`` cut into batches of ``batch_size``.

    The last batch holds the remainder (as ``DataLoader(shuffle=True)`` does).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return list(torch.randperm(n_examples, generator=generator).split(batch_size))


def stratified_batches(labels: Tensor, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """One epoch of stratified minibatches: each batch's label proportions as close to the data set's as can be.

    A shuffle of ``range(N)`` split into ``ceil(N / batch_size)`` batches whose sizes differ
    by at most one, in which class ``c`` (``n_c`` examples) appears ``floor`` or ``ceil`` of
    ``n_c / n_batches`` times.

    The rule: shuffle each class, lay the classes end to end (in a random order), and deal
    the resulting list to the batches like cards, position ``j`` to batch ``j mod n_batches``.
    A deal gives every batch the same number of cards up to one, and a run of ``n_c``
    consecutive cards (one class) is spread over the batches evenly up to one. Which batch
    receives the spare cards depends on the random class order; the batches are then
    listed in a random order, each internally shuffled. All randomness comes from ``generator``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    labels = torch.as_tensor(labels)
    n = labels.numel()
    n_batches = math.ceil(n / batch_size)
    classes = labels.unique()
    class_order = classes[torch.randperm(len(classes), generator=generator)]
    deck = []
    for label in class_order:
        members = (labels == label).nonzero().flatten()
        deck.append(members[torch.randperm(len(members), generator=generator)])
    deck = torch.cat(deck)
    dealt = [deck[start::n_batches] for start in range(n_batches)]
    dealt = [batch[torch.randperm(len(batch), generator=generator)] for batch in dealt]
    return [dealt[index] for index in torch.randperm(n_batches, generator=generator).tolist()]
