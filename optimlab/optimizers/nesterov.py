r"""Nesterov momentum, in the lecture's look-ahead form and in PyTorch's rewritten form.

The lecture takes the gradient at the look-ahead point ``w - α Δw``, where the old
velocity is about to carry the weights anyway. ``torch.optim.SGD(nesterov=True)``
never evaluates the gradient anywhere but at its own parameters ``θ``; it steps
``θ ← θ - γ (g + μ b)`` instead. The two are the same method in shifted variables:
with a constant learning rate ``η = γ``, ``α = μ``, no weight decay and the same
start ``θ_1 = w_1``, at every step

.. math::

    \theta_t = w_t - \alpha\,\Delta w_{t-1}
    \qquad\text{and}\qquad
    \Delta w_t = \eta\, b_t ,

that is, PyTorch's parameters *are* the lecture's look-ahead points. (Induction:
with ``u_t = w_t - α Δw_{t-1}``, ``u_{t+1} = w_t - (1 + α) Δw_t
= u_t - α² Δw_{t-1} - (1 + α) η ∇L(u_t)``, which is PyTorch's
``θ_{t+1} = θ_t - γ μ² b_{t-1} - γ (1 + μ) ∇L(θ_t)`` once ``Δw = η b``.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from optimlab.optimizers.momentum import MomentumLecture, momentum_step_lecture, sgd_momentum_step


def nesterov_step(
    w: Tensor, grad: Tensor, buf: Tensor | None, lr: float, momentum: float, weight_decay: float = 0.0
) -> tuple[Tensor, Tensor]:
    r"""One step of ``torch.optim.SGD(nesterov=True)`` on one tensor.

    .. math::

        \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)},\ \theta_{t-1},\ g_t,\ b_{t-1}\ (\text{None at } t=1),
                \ \lambda \text{ (weight decay)},\ \mu \text{ (momentum)} \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\,\theta_{t-1} \\
            &\textbf{if}\ t > 1:\ b_t \leftarrow \mu\, b_{t-1} + g_t
                \quad\textbf{else}:\ b_t \leftarrow g_t \\
            &\theta_t \leftarrow \theta_{t-1} - \gamma\,(g_t + \mu\, b_t) \\
            &\textbf{return}: \theta_t,\ b_t
        \end{aligned}

    It is :func:`~optimlab.optimizers.momentum.sgd_momentum_step` with
    ``nesterov=True`` and no dampening (PyTorch refuses dampening with Nesterov).
    """
    return sgd_momentum_step(w, grad, buf, lr, momentum, 0.0, weight_decay, nesterov=True)


def lookahead_point(w: Tensor, delta_w: Tensor, alpha: float) -> Tensor:
    r"""Where the old velocity is about to carry ``w``: :math:`w - \alpha\,\Delta w`."""
    return w - alpha * delta_w


def nesterov_lookahead_step(
    w: Tensor, grad_fn: Callable[[Tensor], Tensor], delta_w: Tensor, lr: float, alpha: float
) -> tuple[Tensor, Tensor]:
    r"""One step of Nesterov momentum as the lecture writes it: the gradient at the look-ahead point.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_t,\ \nabla L,\ \Delta w_{t-1}\ (\text{zeros at } t=1),
                \ \eta \text{ (lr)},\ \alpha \text{ (momentum)} \\
            &\tilde w_t \leftarrow w_t - \alpha\,\Delta w_{t-1} \\
            &\Delta w_t \leftarrow \alpha\,\Delta w_{t-1} + \eta\, \nabla L(\tilde w_t) \\
            &w_{t+1} \leftarrow w_t - \Delta w_t \\
            &\textbf{return}: w_{t+1},\ \Delta w_t
        \end{aligned}

    ``grad_fn`` maps a tensor to the gradient of the loss there. The last two lines
    are :func:`~optimlab.optimizers.momentum.momentum_step_lecture`: only the point
    where the gradient is taken differs from plain momentum.
    """
    grad = grad_fn(lookahead_point(w, delta_w, alpha))
    return momentum_step_lecture(w, grad, delta_w, lr, alpha)


class NesterovLookahead(MomentumLecture):
    """The lecture's Nesterov momentum, on :func:`nesterov_lookahead_step`'s pieces.

    :meth:`step` needs a closure that zeroes the gradients, computes the loss,
    calls ``backward()`` and returns the loss. The optimizer moves every parameter to
    its look-ahead point ``w - α Δw``, evaluates the closure there, puts the
    parameters back and takes a lecture-momentum step with those gradients. The loss
    returned is the one at the look-ahead point.

    Args:
        params: parameters or param groups.
        lr: learning rate ``η``, read from the group on every step.
        alpha: momentum ``α``.
    """

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor:  # type: ignore[override]
        if closure is None:
            raise ValueError(
                "NesterovLookahead.step needs a closure: "
                "the gradient is taken at the look-ahead point w - alpha * delta_w"
            )
        current: dict[Tensor, Tensor] = {}
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    # A parameter without state has Δw = 0: its look-ahead point is itself.
                    if state := self.state.get(p):
                        current[p] = p.clone()
                        p.copy_(lookahead_point(p, state["delta_w"], group["alpha"]))
        with torch.enable_grad():
            loss = closure()
        with torch.no_grad():
            # Restored from a copy, not by adding α Δw back, which would not round-trip exactly.
            for p, value in current.items():
                p.copy_(value)
        self._update_parameters()
        return loss
