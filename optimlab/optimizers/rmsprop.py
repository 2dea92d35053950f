r"""RMSProp: divide the gradient by the root of a moving average of its square.

Two entry points, one formula. :func:`rmsprop_update` is the whole of
``torch.optim.RMSprop`` (centered, momentum, weight decay, maximize) and carries its
state as an :class:`RMSpropState`, made by :func:`rmsprop_init`.
:func:`rmsprop_step` is the chapter's (and the exercise's) plain form, with the one
state tensor spelled out.

PyTorch calls the decay ``alpha`` (default 0.99) and adds ``eps`` *outside* the
square root: ``g / (sqrt(v) + eps)`` (TensorFlow puts it inside).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimlab.optimizers.base import ReferenceOptimizer, check_at_least_zero


class RMSpropState(NamedTuple):
    """What RMSProp remembers about one tensor between steps."""

    square_avg: Tensor
    """``v``: moving average of the squared gradient."""
    grad_avg: Tensor | None = None
    """``g^ave``: moving average of the gradient; only when centered."""
    momentum_buffer: Tensor | None = None
    """``b``: momentum buffer; only when ``momentum > 0``."""


def rmsprop_init(w: Tensor, *, momentum: float = 0.0, centered: bool = False) -> RMSpropState:
    """The state before the first step: zeros, with only the parts the options use."""
    return RMSpropState(
        square_avg=torch.zeros_like(w),
        grad_avg=torch.zeros_like(w) if centered else None,
        momentum_buffer=torch.zeros_like(w) if momentum > 0 else None,
    )


def rmsprop_update(
    w: Tensor,
    grad: Tensor,
    state: RMSpropState,
    lr: float,
    *,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, RMSpropState]:
    r"""One step of ``torch.optim.RMSprop`` on one tensor, every option included.

    .. math::

        \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)},\ \theta_{t-1},\ g_t,\ \alpha,\ \epsilon,
                \ \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},
                \ \textit{centered},\ \textit{maximize} \\
            &\textbf{initialize}: v_0 \leftarrow 0,\ g^{ave}_0 \leftarrow 0,\ b_0 \leftarrow 0 \\
            &\textbf{if}\ \textit{maximize}:\ g_t \leftarrow -g_t \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\,\theta_{t-1} \\
            &v_t \leftarrow \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
            &\tilde v_t \leftarrow v_t \\
            &\textbf{if}\ \textit{centered}: \\
            &\qquad g^{ave}_t \leftarrow \alpha\, g^{ave}_{t-1} + (1 - \alpha)\, g_t \\
            &\qquad \tilde v_t \leftarrow \tilde v_t - (g^{ave}_t)^2 \\
            &\textbf{if}\ \mu > 0: \\
            &\qquad b_t \leftarrow \mu\, b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon) \\
            &\qquad \theta_t \leftarrow \theta_{t-1} - \gamma\, b_t \\
            &\textbf{else}:\ \theta_t \leftarrow \theta_{t-1} - \gamma\, g_t / (\sqrt{\tilde v_t} + \epsilon) \\
            &\textbf{return}: \theta_t,\ (v_t,\ g^{ave}_t,\ b_t)
        \end{aligned}

    ``state`` must hold the parts the options use (make it with :func:`rmsprop_init`);
    the returned state holds the same parts.
    """
    if centered and state.grad_avg is None:
        raise ValueError("centered=True needs state.grad_avg; make the state with rmsprop_init(w, centered=True)")
    if momentum > 0 and state.momentum_buffer is None:
        raise ValueError(
            f"momentum={momentum} needs state.momentum_buffer; make the state with rmsprop_init(w, momentum={momentum})"
        )
    if maximize:
        grad = -grad
    # Fused kernels where torch.optim.RMSprop uses them (addcmul, addcdiv): fewer tensors per
    # step than the box's literal products, the same values up to rounding.
    if weight_decay != 0:
        grad = torch.add(grad, w, alpha=weight_decay)
    square_avg = torch.addcmul(alpha * state.square_avg, grad, grad, value=1 - alpha)  # alpha v + (1 - alpha) g^2
    centered_square_avg = square_avg
    grad_avg = None
    if centered:
        grad_avg = alpha * state.grad_avg + (1 - alpha) * grad
        centered_square_avg = centered_square_avg - grad_avg**2
    momentum_buffer = None
    if momentum > 0:
        momentum_buffer = momentum * state.momentum_buffer + grad / (centered_square_avg.sqrt() + eps)
        w = w - lr * momentum_buffer
    else:
        w = torch.addcdiv(w, grad, centered_square_avg.sqrt() + eps, value=-lr)  # w - lr g / (sqrt(v) + eps)
    return w, RMSpropState(square_avg, grad_avg, momentum_buffer)


def rmsprop_step(
    w: Tensor,
    grad: Tensor,
    square_avg: Tensor,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Tensor, Tensor]:
    r"""One step of plain RMSProp (``torch.optim.RMSprop``, not centered, no momentum).

    .. math::

        \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)},\ \theta_{t-1},\ g_t,\ v_{t-1}\ (\text{zeros at } t=1),
                \ \alpha,\ \epsilon,\ \lambda \text{ (weight decay)} \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\,\theta_{t-1} \\
            &v_t \leftarrow \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
            &\theta_t \leftarrow \theta_{t-1} - \gamma\, g_t / (\sqrt{v_t} + \epsilon) \\
            &\textbf{return}: \theta_t,\ v_t
        \end{aligned}

    The code is :func:`rmsprop_update`'s, with its options off.
    """
    w, state = rmsprop_update(w, grad, RMSpropState(square_avg), lr, alpha=alpha, eps=eps, weight_decay=weight_decay)
    return w, state.square_avg


class RMSprop(ReferenceOptimizer):
    """``torch.optim.RMSprop`` on :func:`rmsprop_update`, same arguments and defaults.

    State per parameter, named as in ``torch.optim.RMSprop`` so that state dicts load
    into either: ``step`` (counted only for that compatibility; RMSProp does not use
    it), ``square_avg``, and ``grad_avg`` when centered, ``momentum_buffer`` when
    ``momentum > 0``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        check_at_least_zero("learning rate", group["lr"])
        check_at_least_zero("epsilon value", group["eps"])
        check_at_least_zero("momentum value", group["momentum"])
        check_at_least_zero("weight_decay value", group["weight_decay"])
        check_at_least_zero("alpha value", group["alpha"])

    def _init_state(self, p, group):
        state = rmsprop_init(p, momentum=group["momentum"], centered=group["centered"])
        return {"step": 0, **_present(state)}

    def _step_tensor(self, p, grad, state, group):
        w, new_state = rmsprop_update(
            p,
            grad,
            RMSpropState(state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer")),
            group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
        )
        # int(): a state dict from torch.optim.RMSprop keeps the count as a tensor.
        return w, {"step": int(state["step"]) + 1, **_present(new_state)}


def _present(state: RMSpropState) -> dict[str, Tensor]:
    """The parts of ``state`` in use, keyed by their (``torch.optim``) names."""
    return {name: value for name, value in state._asdict().items() if value is not None}
