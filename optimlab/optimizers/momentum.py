r"""Momentum, in the lecture's form and in PyTorch's.

The two differ in where the learning rate sits. The lecture keeps it *inside* the
velocity, PyTorch keeps it *outside* the buffer:

.. math::

    \text{lecture:}\quad \Delta w_t = \alpha\,\Delta w_{t-1} + \eta_t\, g_t,
        \qquad w_{t+1} = w_t - \Delta w_t

    \text{PyTorch:}\quad b_t = \mu\, b_{t-1} + (1-\tau)\, g_t,
        \qquad w_{t+1} = w_t - \eta_t\, b_t

Notation, in every box here and in the chapter: ``w`` the parameters (PyTorch's docs
write θ), ``g`` the gradient, ``η`` the learning rate (PyTorch's γ), ``α`` the
lecture's momentum and ``Δw`` its velocity, ``μ`` PyTorch's momentum, ``b`` its
buffer, ``τ`` its dampening, ``λ`` its weight decay.

With ``α = μ``, no dampening, the same weight decay and a constant learning rate,
``Δw_t = η b_t`` at every step and the two take the same steps. When a scheduler
changes ``η``, the lecture's velocity still carries the old rates, while PyTorch's
buffer (which holds no rate) is left as it is and the new rate multiplies all of it
at the next step: the trajectories part, unless the velocity is rescaled by the
ratio of the new rate to the old.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optimlab.optimizers.base import ReferenceOptimizer, check_at_least_zero


def momentum_step_lecture(w: Tensor, grad: Tensor, delta_w: Tensor, lr: float, alpha: float) -> tuple[Tensor, Tensor]:
    r"""One step of momentum as the lecture writes it (learning rate inside the velocity).

    .. math::

        \begin{aligned}
            &\textbf{input}: w_t,\ g_t = \nabla_w L(w_t),\ \Delta w_{t-1}\ (\text{zeros at } t=1),
                \ \eta \text{ (lr)},\ \alpha \text{ (momentum)} \\
            &\Delta w_t \leftarrow \alpha\,\Delta w_{t-1} + \eta\, g_t \\
            &w_{t+1} \leftarrow w_t - \Delta w_t \\
            &\textbf{return}: w_{t+1},\ \Delta w_t
        \end{aligned}

    Pure: returns new tensors and leaves its inputs as they were.
    """
    delta_w = alpha * delta_w + lr * grad
    w = w - delta_w
    return w, delta_w


def rescale_velocity(delta_w: Tensor, old_lr: float, new_lr: float) -> Tensor:
    r"""The lecture's velocity to carry into the next step when the learning rate changes from ``old_lr`` to ``new_lr``.

    .. math::

        \Delta w \leftarrow \frac{\eta'}{\eta}\,\Delta w

    With a constant rate ``Δw_t = η b_t``; multiplying the velocity by ``η'/η`` keeps that
    identity at the new rate, so the lecture form goes on taking PyTorch's steps. Pure:
    returns a new tensor of ``delta_w``'s dtype and leaves ``delta_w`` as it was.
    """
    return delta_w * (new_lr / old_lr)


def sgd_momentum_step(
    w: Tensor,
    grad: Tensor,
    buf: Tensor | None,
    lr: float,
    momentum: float,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    *,
    nesterov: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, Tensor | None]:
    r"""One step of ``torch.optim.SGD`` on one tensor, with PyTorch's semantics.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_{t-1},\ g_t,\ b_{t-1}\ (\text{None at } t=1),\ \eta \text{ (lr)},
                \ \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},\ \tau \text{ (dampening)},
                \ \textit{nesterov},\ \textit{maximize} \\
            &\textbf{if}\ \textit{maximize}:\ g_t \leftarrow -g_t \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\, w_{t-1} \\
            &\textbf{if}\ \mu \neq 0: \\
            &\qquad \textbf{if}\ t > 1:\ b_t \leftarrow \mu\, b_{t-1} + (1-\tau)\, g_t \\
            &\qquad \textbf{else}:\ b_t \leftarrow g_t \\
            &\qquad \textbf{if}\ \textit{nesterov}:\ g_t \leftarrow g_t + \mu\, b_t \\
            &\qquad \textbf{else}:\ g_t \leftarrow b_t \\
            &w_t \leftarrow w_{t-1} - \eta\, g_t \\
            &\textbf{return}: w_t,\ b_t
        \end{aligned}

    ``buf is None`` marks the first step: the buffer then starts as the raw
    (decayed) gradient, and dampening does not apply to it. With ``momentum == 0``
    there is no buffer and ``None`` is returned in its place.
    """
    # torch.add(a, b, alpha=c) is a + c b in one kernel, as torch.optim.SGD computes it: fewer
    # tensors per step, and the same rounding as PyTorch's own update.
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = torch.add(grad, w, alpha=weight_decay)
    if momentum != 0:
        if buf is not None:
            buf = torch.add(momentum * buf, grad, alpha=1 - dampening)
        else:
            buf = grad.clone()
        if nesterov:
            grad = torch.add(grad, buf, alpha=momentum)
        else:
            grad = buf
    w = torch.add(w, grad, alpha=-lr)
    return w, buf


def sgd_momentum_step_batched(
    w: Tensor,
    grad: Tensor,
    buf: Tensor | None,
    lr: float | Tensor,
    momentum: float | Tensor,
    dampening: float | Tensor = 0.0,
    weight_decay: float | Tensor = 0.0,
) -> tuple[Tensor, Tensor]:
    r""":func:`sgd_momentum_step` for a stack of models whose hyperparameters differ.

    ``w`` and ``grad`` hold ``M`` models along their first dimension; each hyperparameter
    is a float (shared) or a tensor broadcastable against ``w``, typically of shape
    ``(M, 1, ..., 1)`` for one value per model (:func:`per_model`). Model ``m`` takes
    exactly the step ``sgd_momentum_step`` takes with model ``m``'s values (no nesterov,
    no maximize).

    The plain function branches on ``momentum != 0``: ``torch.optim.SGD`` keeps no buffer
    at zero momentum, so dampening never touches such a model's step. One tensor of
    momenta cannot branch, so here every model carries a buffer and a model whose
    momentum is 0 steps along its raw (decayed) gradient instead, never reading it. The
    buffer is therefore always returned, never ``None``.
    """
    momentum = torch.as_tensor(momentum, dtype=w.dtype, device=w.device)
    grad = grad + weight_decay * w
    if buf is not None:
        buf = momentum * buf + (1 - dampening) * grad
    else:
        buf = grad.clone()
    direction = torch.where(momentum != 0, buf, grad)
    w = w - lr * direction
    return w, buf


def per_model(values: tuple[float, ...], like: Tensor) -> Tensor:
    """One hyperparameter value per model of the stack ``like`` (``M x ...``), shaped to broadcast against it."""
    if len(values) != like.shape[0]:
        raise ValueError(f"need one value per model: {len(values)} values for {like.shape[0]} models")
    return torch.tensor(values, dtype=like.dtype, device=like.device).reshape(-1, *([1] * (like.dim() - 1)))


class MomentumLecture(ReferenceOptimizer):
    """Momentum in the lecture's form, on :func:`momentum_step_lecture`.

    Args:
        params: parameters or param groups, as for any ``torch.optim.Optimizer``.
        lr: learning rate ``η``, read from the group on every step (schedulers work).
        alpha: momentum ``α``.

    State per parameter: ``delta_w``, the velocity ``Δw`` (zeros before the first step).
    """

    def __init__(self, params, lr: float = 1e-3, alpha: float = 0.9) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha})

    def _check_hyperparameters(self, group):
        check_at_least_zero("learning rate", group["lr"])
        check_at_least_zero("alpha value", group["alpha"])

    def _init_state(self, p, group):
        return {"delta_w": torch.zeros_like(p)}

    def _step_tensor(self, p, grad, state, group):
        w, delta_w = momentum_step_lecture(p, grad, state["delta_w"], group["lr"], group["alpha"])
        return w, {"delta_w": delta_w}


class SGD(ReferenceOptimizer):
    """``torch.optim.SGD`` on :func:`sgd_momentum_step`, same arguments and defaults.

    State per parameter, named as in ``torch.optim.SGD`` so that state dicts load into
    either: ``momentum_buffer``, absent until the first step, and never there when
    ``momentum == 0``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        check_at_least_zero("learning rate", group["lr"])
        check_at_least_zero("momentum value", group["momentum"])
        check_at_least_zero("weight_decay value", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening, "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _init_state(self, p, group):
        return {}

    def _step_tensor(self, p, grad, state, group):
        w, buf = sgd_momentum_step(
            p,
            grad,
            state.get("momentum_buffer"),
            group["lr"],
            group["momentum"],
            group["dampening"],
            group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        return w, ({} if buf is None else {"momentum_buffer": buf})
