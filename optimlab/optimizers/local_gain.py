r"""Local gains: one adaptive learning-rate multiplier per weight (delta-bar-delta family).

Each weight keeps a gain ``γ`` (1 at the start). While its gradient keeps its sign
from one step to the next the gain grows by ``β`` (additive increase); when the sign
flips, the weight is oscillating and the gain shrinks by the factor ``1 - β``
(multiplicative decrease). For ``0 <= β < 1`` the gain therefore stays positive.
The lecture notes garble the rule as ``(t-1) + β``; this is the rule as in Jacobs'
delta-bar-delta and Hinton's lectures. PyTorch has no such optimizer: the tests pin
this one to a hand-worked example and to these properties.

Notation, in the box here and in the chapter: ``w`` the parameters, ``g`` the gradient
(as in every other box), ``γ`` the gain (the lecture notes call it ``g``), ``η`` the
learning rate, ``β`` the gain increment.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optimlab.optimizers.base import ReferenceOptimizer, check_at_least_zero, check_below_one


def local_gain_step(
    w: Tensor, grad: Tensor, prev_grad: Tensor, gain: Tensor, lr: float, beta: float
) -> tuple[Tensor, Tensor]:
    r"""One step of gradient descent with local gains.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_t,\ g_t,\ g_{t-1}\ (\text{zeros at } t=1),
                \ \gamma_{t-1}\ (\text{ones at } t=1),\ \eta \text{ (lr)},\ \beta \\
            &\textbf{if}\ g_t\, g_{t-1} > 0:\ \gamma_t \leftarrow \gamma_{t-1} + \beta \\
            &\textbf{else if}\ g_t\, g_{t-1} < 0:\ \gamma_t \leftarrow \gamma_{t-1}\,(1 - \beta) \\
            &\textbf{else}:\ \gamma_t \leftarrow \gamma_{t-1} \\
            &w_{t+1} \leftarrow w_t - \eta\, \gamma_t\, g_t \\
            &\textbf{return}: w_{t+1},\ \gamma_t
        \end{aligned}

    Element-wise; a zero product (the first step, or a zero gradient) leaves the gain alone.
    """
    agreement = grad * prev_grad
    gain = torch.where(agreement > 0, gain + beta, gain)
    gain = torch.where(agreement < 0, gain * (1 - beta), gain)  # a zero product leaves it as it was
    w = w - lr * gain * grad
    return w, gain


class LocalGain(ReferenceOptimizer):
    """Gradient descent with local gains, on :func:`local_gain_step`.

    Args:
        params: parameters or param groups.
        lr: learning rate ``η``, read from the group on every step.
        beta: gain increment ``β``, with ``0 <= β < 1`` so that gains stay positive.

    State per parameter: ``gain`` (ones before the first step) and ``prev_grad``, the
    gradient of the previous step (zeros before the first).
    """

    def __init__(self, params, lr: float = 1e-3, beta: float = 0.05) -> None:
        super().__init__(params, {"lr": lr, "beta": beta})

    def _check_hyperparameters(self, group):
        check_at_least_zero("learning rate", group["lr"])
        check_below_one("beta value", group["beta"])

    def _init_state(self, p, group):
        return {"gain": torch.ones_like(p), "prev_grad": torch.zeros_like(p)}

    def _step_tensor(self, p, grad, state, group):
        w, gain = local_gain_step(p, grad, state["prev_grad"], state["gain"], group["lr"], group["beta"])
        # A copy: p.grad is the caller's buffer, which backward() may accumulate into.
        return w, {"gain": gain, "prev_grad": grad.clone()}
