r"""RMSProp: divide the gradient by the root of a moving average of its square.

Two entry points. :func:`rmsprop_step` is the chapter's (and the exercise's) box,
transcribed line by line with its one state tensor ``v`` spelled out.
:func:`rmsprop_update` is the whole of ``torch.optim.RMSprop`` (centered, momentum,
weight decay, maximize) and carries its state as an :class:`RMSpropState`, made by
:func:`rmsprop_init`; the tests hold the two equal.

Notation, in every box here and in the chapter: ``w`` the parameters (PyTorch's docs
write θ), ``g`` the gradient, ``η`` the learning rate (PyTorch's γ), ``α`` the decay
of the moving average (PyTorch's ``alpha``), ``λ`` the weight decay.

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

    v: Tensor
    """Moving average of the squared gradient."""
    g_ave: Tensor | None = None
    """Moving average of the gradient; only when centered."""
    b: Tensor | None = None
    """Momentum buffer; only when ``momentum > 0``."""


def rmsprop_init(w: Tensor, *, momentum: float = 0.0, centered: bool = False) -> RMSpropState:
    """The state before the first step: zeros, with only the parts the options use."""
    return RMSpropState(
        v=torch.zeros_like(w),
        g_ave=torch.zeros_like(w) if centered else None,
        b=torch.zeros_like(w) if momentum > 0 else None,
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
            &\textbf{input}: w_{t-1},\ g_t,\ \eta \text{ (lr)},\ \alpha,\ \epsilon,
                \ \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},
                \ \textit{centered},\ \textit{maximize} \\
            &\textbf{initialize}: v_0 \leftarrow 0,\ g^{ave}_0 \leftarrow 0,\ b_0 \leftarrow 0 \\
            &\textbf{if}\ \textit{maximize}:\ g_t \leftarrow -g_t \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\, w_{t-1} \\
            &v_t \leftarrow \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
            &\tilde v_t \leftarrow v_t \\
            &\textbf{if}\ \textit{centered}: \\
            &\qquad g^{ave}_t \leftarrow \alpha\, g^{ave}_{t-1} + (1 - \alpha)\, g_t \\
            &\qquad \tilde v_t \leftarrow \tilde v_t - (g^{ave}_t)^2 \\
            &\textbf{if}\ \mu > 0: \\
            &\qquad b_t \leftarrow \mu\, b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon) \\
            &\qquad w_t \leftarrow w_{t-1} - \eta\, b_t \\
            &\textbf{else}:\ w_t \leftarrow w_{t-1} - \eta\, g_t / (\sqrt{\tilde v_t} + \epsilon) \\
            &\textbf{return}: w_t,\ (v_t,\ g^{ave}_t,\ b_t)
        \end{aligned}

    ``state`` must hold the parts the options use (make it with :func:`rmsprop_init`);
    the returned state holds the same parts.
    """
    if centered and state.g_ave is None:
        raise ValueError("centered=True needs state.g_ave; make the state with rmsprop_init(w, centered=True)")
    if momentum > 0 and state.b is None:
        raise ValueError(f"momentum={momentum} needs state.b; make the state with rmsprop_init(w, momentum={momentum})")
    if maximize:
        grad = -grad
    # Fused kernels where torch.optim.RMSprop uses them (addcmul, addcdiv): fewer tensors per
    # step than the box's literal products, the same values up to rounding.
    if weight_decay != 0:
        grad = torch.add(grad, w, alpha=weight_decay)
    v = torch.addcmul(alpha * state.v, grad, grad, value=1 - alpha)  # alpha v + (1 - alpha) g^2
    v_tilde = v
    g_ave = None
    if centered:
        g_ave = alpha * state.g_ave + (1 - alpha) * grad
        v_tilde = v_tilde - g_ave**2
    b = None
    if momentum > 0:
        b = momentum * state.b + grad / (v_tilde.sqrt() + eps)
        w = w - lr * b
    else:
        w = torch.addcdiv(w, grad, v_tilde.sqrt() + eps, value=-lr)  # w - lr g / (sqrt(v_tilde) + eps)
    return w, RMSpropState(v, g_ave, b)


def rmsprop_step(
    w: Tensor,
    grad: Tensor,
    v: Tensor,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Tensor, Tensor]:
    r"""One step of plain RMSProp (``torch.optim.RMSprop``, not centered, no momentum): chapter 7's box.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_{t-1},\ g_t,\ v_{t-1}\ (\text{zeros at } t=1),
                \ \eta \text{ (lr)},\ \alpha,\ \epsilon,\ \lambda \text{ (weight decay)} \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\, w_{t-1} \\
            &v_t \leftarrow \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
            &w_t \leftarrow w_{t-1} - \eta\, g_t / (\sqrt{v_t} + \epsilon) \\
            &\textbf{return}: w_t,\ v_t
        \end{aligned}

    The options the box leaves out (centered, momentum, maximize) are
    :func:`rmsprop_update`'s, which is tested equal to this.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * w
    v = alpha * v + (1 - alpha) * grad**2
    w = w - lr * grad / (v.sqrt() + eps)
    return w, v


class RMSprop(ReferenceOptimizer):
    """``torch.optim.RMSprop`` on :func:`rmsprop_update`, same arguments and defaults.

    State per parameter, named as in ``torch.optim.RMSprop`` so that state dicts load
    into either: ``step`` (counted only for that compatibility; RMSProp does not use
    it), ``square_avg`` (``v``), and ``grad_avg`` (``g_ave``) when centered,
    ``momentum_buffer`` (``b``) when ``momentum > 0``.
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
        return {"step": 0, **_torch_named(state)}

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
        return w, {"step": int(state["step"]) + 1, **_torch_named(new_state)}


# torch.optim.RMSprop's names for the parts of the state, so that state dicts interchange.
_TORCH_NAMES = {"v": "square_avg", "g_ave": "grad_avg", "b": "momentum_buffer"}


def _torch_named(state: RMSpropState) -> dict[str, Tensor]:
    """The parts of ``state`` in use, keyed by ``torch.optim.RMSprop``'s names."""
    return {_TORCH_NAMES[name]: value for name, value in state._asdict().items() if value is not None}
