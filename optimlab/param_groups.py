"""Building a ``torch.optim`` optimizer by name, with weight decay only where it belongs.

The rule, stated once: every weight matrix (any parameter with ``dim() >= 2``: linear and
convolution weights, embeddings) decays; biases and normalization parameters (1-d) do not.
Decay pulls a weight towards 0, which regularizes a matrix; a bias or a LayerNorm gain
only shifts or scales activations, so pulling it towards 0 is no regularization of the
weights, and common practice leaves these out.

This is the reference of exercise ``09_pytorch_api`` (``make_optimizer``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# name -> (class, settings that make it this method); keyword arguments of make_optimizer override them.
OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
}


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Param groups of ``model``'s trainable parameters: ``dim() >= 2`` with ``weight_decay``, the rest with 0.

    The parameters go in as ``(name, tensor)`` pairs, so that the optimizer records their
    names in each group's ``param_names``. An empty group is left out (``torch.optim`` wants
    names in every group or in none, and an empty group has none).
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append((name, p))
    return [
        {"params": named, "weight_decay": value} for named, value in ((decay, weight_decay), (no_decay, 0.0)) if named
    ]


def build_optimizer(name: str, params, lr: float, **kwargs: Any) -> torch.optim.Optimizer:
    """The optimizer called ``name`` (a key of :data:`OPTIMIZERS`) over ``params`` (tensors or param groups)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    optimizer_class, settings = OPTIMIZERS[name]
    return optimizer_class(params, lr=lr, **{**settings, **kwargs})


def make_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float = 0.0, **kwargs: Any
) -> torch.optim.Optimizer:
    """``name``'s optimizer over ``model``, weight matrices decayed by ``weight_decay``, biases and norms not.

    ``name`` is one of sgd, momentum (``momentum=0.9``), nesterov (``momentum=0.9,
    nesterov=True``), rmsprop, adam, adamw; ``kwargs`` go to the optimizer's constructor
    and override those settings (``make_optimizer(model, "momentum", 0.1, momentum=0.8)``).
    An unknown name raises ``ValueError``.

    >>> model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    >>> optimizer = make_optimizer(model, "adamw", 1e-3, weight_decay=0.1)
    >>> [(group["param_names"], group["weight_decay"]) for group in optimizer.param_groups]
    [(['0.weight', '2.weight'], 0.1), (['0.bias', '1.weight', '1.bias', '2.bias'], 0.0)]
    """
    return build_optimizer(name, decay_groups(model, weight_decay), lr, **kwargs)
