r"""Nesterov momentum, in the lecture's look-ahead form and in PyTorch's rewritten form.

The lecture takes the gradient at the look-ahead point ``w - α Δw``, where the old
velocity is about to carry the weights anyway. ``torch.optim.SGD(nesterov=True)``
never evaluates the gradient anywhere but at its own parameters, written ``u`` here
to tell them from the lecture's ``w``; it steps ``u ← u - η (g + μ b)`` instead. The
two are the same method in shifted variables: with the same constant learning rate
``η``, ``α = μ``, no weight decay and the same start ``u_1 = w_1``, at every step

.. math::

    u_t = w_t - \alpha\,\Delta w_{t-1}
    \qquad\text{and}\qquad
    \Delta w_t = \eta\, b_t ,

that is, PyTorch's parameters *are* the lecture's look-ahead points. (Induction:
``u_{t+1} = w_t - (1 + α) Δw_t = u_t - α² Δw_{t-1} - (1 + α) η ∇L(u_t)``, which is
PyTorch's ``u_{t+1} = u_t - η μ² b_{t-1} - η (1 + μ) ∇L(u_t)`` once ``Δw = η b``.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from optimlab.optimizers.momentum import MomentumLecture, momentum_step_lecture


def nesterov_step(
    w: Tensor, grad: Tensor, buf: Tensor | None, lr: float, momentum: float, weight_decay: float = 0.0
) -> tuple[Tensor, Tensor]:
    r"""One step of ``torch.optim.SGD(nesterov=True)`` on one tensor.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_{t-1},\ g_t,\ b_{t-1}\ (\text{None at } t=1),
                \ \eta \text{ (lr)},\ \mu \text{ (momentum)},\ \lambda \text{ (weight decay)} \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\, w_{t-1} \\
            &\textbf{if}\ t > 1:\ b_t \leftarrow \mu\, b_{t-1} + g_t \\
            &\textbf{else}:\ b_t \leftarrow g_t \\
            &w_t \leftarrow w_{t-1} - \eta\,(g_t + \mu\, b_t) \\
            &\textbf{return}: w_t,\ b_t
        \end{aligned}

    PyTorch refuses dampening with Nesterov, so there is none. With ``momentum == 0``
    it is plain gradient descent, and ``torch.optim.SGD`` keeps no buffer: ``None``
    comes back. The whole of ``torch.optim.SGD`` is
    :func:`~optimlab.optimizers.momentum.sgd_momentum_step`, tested equal to this
    with ``nesterov=True``.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * w
    if momentum == 0:
        return w - lr * grad, None
    if buf is not None:
        buf = momentum * buf + grad
    else:
        buf = grad.clone()
    w = w - lr * (grad + momentum * buf)
    return w, buf


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
