"""The plumbing every reference optimizer shares: param groups, lazy state, the step loop.

A reference optimizer is a pure step function plus bookkeeping. The bookkeeping
lives here once; a subclass says only

- which hyperparameters are valid (:meth:`ReferenceOptimizer._check_hyperparameters`),
- what a parameter's state is before its first step (:meth:`ReferenceOptimizer._init_state`),
- how one step maps ``(p, grad, state)`` to ``(new p, new state)``, by calling its
  pure step function (:meth:`ReferenceOptimizer._step_tensor`).

Everything else (param groups, ``state_dict()``/``load_state_dict()``, learning-rate
schedulers, hooks) is :class:`torch.optim.Optimizer`'s own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

State = dict[str, Any]


def check_at_least_zero(label: str, value: float) -> None:
    """Raise ``ValueError("Invalid {label}: {value}")`` unless ``0 <= value`` (NaN fails too)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {label}: {value}")


def check_below_one(label: str, value: float) -> None:
    """Raise ``ValueError("Invalid {label}: {value}")`` unless ``0 <= value < 1``.

    For decay rates: at 1 a moving average never forgets, beyond it it grows.
    """
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {label}: {value}")


class ReferenceOptimizer(torch.optim.Optimizer):
    """A :class:`torch.optim.Optimizer` whose step is a pure function per tensor.

    On each :meth:`step`, for every parameter ``p`` of every group whose ``p.grad`` is
    not ``None`` (parameters without a gradient are skipped, as ``torch.optim`` does):
    its state is created on first use by ``_init_state``, ``_step_tensor`` returns the
    new value and the new state, and ``p`` is overwritten in place with ``p.copy_``
    so that the model, hooks and other references to ``p`` see the update.

    The hyperparameters of each group, the defaults filled in, are checked when the
    group enters (in ``__init__`` and in :meth:`add_param_group`), not on every step.
    """

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self._check_hyperparameters({**self.defaults, **param_group})
        super().add_param_group(param_group)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # A state dict saved by the torch.optim twin lacks the options only we have
        # (Adam's bias_correction): they take their defaults, as torch.optim does for its own.
        for group in self.param_groups:
            for name, default in self.defaults.items():
                group.setdefault(name, default)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming the first invalid hyperparameter of ``group``."""
        raise NotImplementedError

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """The state of ``p`` before its first step."""
        raise NotImplementedError

    def _step_tensor(self, p: Tensor, grad: Tensor, state: State, group: dict[str, Any]) -> tuple[Tensor, State]:
        """One step for one tensor: ``(new value of p, complete new state)``; must not modify its inputs."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Take one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._update_parameters()
        return loss

    @torch.no_grad()
    def _update_parameters(self) -> None:
        """Step every parameter that has a gradient (the body of :meth:`step`).

        Apart from :meth:`step` so that a subclass's own ``step`` can call it: calling
        ``super().step()`` instead would run torch's step hooks a second time.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                # .get, not [], so that a parameter whose state stays empty (plain SGD)
                # gets no entry, exactly as in torch.optim's state_dict.
                state = self.state.get(p) or self._init_state(p, group)
                new_p, new_state = self._step_tensor(p, p.grad, state, group)
                p.copy_(new_p)
                if new_state:
                    self.state[p] = new_state
