r"""Adam (momentum + RMSProp, bias corrected), its AMSGrad variant, and AdamW.

Three entry points. :func:`adam_step` and :func:`adamw_step` are the chapter's (and the
exercise's) boxes, transcribed line by line with ``m`` and ``v`` spelled out.
:func:`adam_update` is the whole of ``torch.optim.Adam``/``AdamW`` (AMSGrad, L2 or
decoupled weight decay, bias correction on or off, maximize) with its state as an
:class:`AdamState`, made by :func:`adam_init`; the tests hold the three equal.

Notation, in every box here and in the chapter: ``w`` the parameters (PyTorch's
docs write θ), ``g`` the gradient, ``η`` the learning rate (PyTorch's γ), ``λ``
the weight decay.

Where the lecture notes and PyTorch differ:

- the notes have no bias correction (``bias_correction=False`` gives their form);
  without it ``m`` and ``v`` start near zero and the first steps are off (``m̂ = m / (1
  - β₁ᵗ)``, ``v̂ = v / (1 - β₂ᵗ)`` undo that);
- in ``betas=(0.9, 0.999)``, 0.9 is the first-moment (momentum) decay and 0.999 the
  squared-gradient (RMSProp) decay, not the other way round;
- Adam's ``weight_decay`` adds ``λ w`` to the gradient (an L2 penalty, which then
  goes through the adaptive scaling); AdamW's shrinks ``w`` directly, outside it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimlab.optimizers.base import ReferenceOptimizer, check_at_least_zero, check_below_one


class AdamState(NamedTuple):
    """What Adam remembers about one tensor between steps (the step count ``t`` aside)."""

    m: Tensor
    """First moment: moving average of the gradient."""
    v: Tensor
    """Second moment: moving average of the squared gradient."""
    max_v: Tensor | None = None
    """AMSGrad only: the largest ``v`` seen so far, element-wise."""


def adam_init(w: Tensor, *, amsgrad: bool = False) -> AdamState:
    """The state before the first step: zeros, with ``max_v`` only for AMSGrad."""
    return AdamState(m=torch.zeros_like(w), v=torch.zeros_like(w), max_v=torch.zeros_like(w) if amsgrad else None)


def adam_update(
    w: Tensor,
    grad: Tensor,
    state: AdamState,
    t: int,
    lr: float,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    bias_correction: bool = True,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> tuple[Tensor, AdamState]:
    r"""Step ``t`` (counted from 1) of ``torch.optim.Adam``/``AdamW`` on one tensor, every option included.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_{t-1},\ g_t,\ \eta \text{ (lr)},\ t \ge 1,
                \ \beta_1, \beta_2 \text{ (betas)},\ \epsilon,\ \lambda \text{ (weight decay)},
                \ \textit{amsgrad},\ \textit{maximize} \\
            &\textbf{initialize}: m_0 \leftarrow 0,\ v_0 \leftarrow 0,\ v^{max}_0 \leftarrow 0 \\
            &\textbf{if}\ \textit{maximize}:\ g_t \leftarrow -g_t \\
            &\textbf{if}\ \lambda \neq 0: \\
            &\qquad \textbf{if}\ \textit{decoupled}:\ w_{t-1} \leftarrow w_{t-1} - \eta\lambda\, w_{t-1}
                \quad \text{(AdamW)} \\
            &\qquad \textbf{else}:\ g_t \leftarrow g_t + \lambda\, w_{t-1} \quad \text{(Adam: L2)} \\
            &m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
            &v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
            &\textbf{if}\ \textit{amsgrad}:\ v^{max}_t \leftarrow \max(v^{max}_{t-1}, v_t),
                \ \tilde v_t \leftarrow v^{max}_t
                \quad \textbf{else}:\ \tilde v_t \leftarrow v_t \\
            &\textbf{if}\ \textit{bias correction}:
                \ \widehat{m}_t \leftarrow m_t / (1 - \beta_1^t),
                \ \widehat{v}_t \leftarrow \tilde v_t / (1 - \beta_2^t) \\
            &\textbf{else (lecture notes)}:\ \widehat{m}_t \leftarrow m_t,\ \widehat{v}_t \leftarrow \tilde v_t \\
            &w_t \leftarrow w_{t-1} - \eta\, \widehat{m}_t / (\sqrt{\widehat{v}_t} + \epsilon) \\
            &\textbf{return}: w_t,\ (m_t,\ v_t,\ v^{max}_t)
        \end{aligned}

    ``state`` must hold ``max_v`` when ``amsgrad`` (make it with :func:`adam_init`);
    the returned state holds the same parts.
    """
    if amsgrad and state.max_v is None:
        raise ValueError("amsgrad=True needs state.max_v; make the state with adam_init(w, amsgrad=True)")
    beta1, beta2 = betas
    if maximize:
        grad = -grad
    # Fused kernels where torch.optim.Adam uses them (lerp, addcmul, addcdiv): fewer tensors
    # per step than the box's literal products, the same values up to rounding.
    if weight_decay != 0:
        if decoupled_weight_decay:
            w = w * (1 - lr * weight_decay)
        else:
            grad = torch.add(grad, w, alpha=weight_decay)
    m = torch.lerp(state.m, grad, 1 - beta1)  # beta1 m + (1 - beta1) g
    v = torch.addcmul(beta2 * state.v, grad, grad, value=1 - beta2)  # beta2 v + (1 - beta2) g^2
    max_v = None
    if amsgrad:
        max_v = torch.maximum(state.max_v, v)
        v_tilde = max_v
    else:
        v_tilde = v
    if bias_correction:
        m_hat = m / (1 - beta1**t)
        v_hat = v_tilde / (1 - beta2**t)
    else:
        m_hat = m
        v_hat = v_tilde
    w = torch.addcdiv(w, m_hat, v_hat.sqrt() + eps, value=-lr)  # w - lr m_hat / (sqrt(v_hat) + eps)
    return w, AdamState(m, v, max_v)


def adam_step(
    w: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Step ``t`` (counted from 1) of ``torch.optim.Adam`` on one tensor: chapter 8's box, line by line.

    .. math::

        \begin{aligned}
            &\textbf{input}: w_{t-1},\ g_t,\ m_{t-1}, v_{t-1}\ (\text{zeros at } t=1),
                \ \eta \text{ (lr)},\ \beta_1, \beta_2,\ \epsilon,\ \lambda \text{ (weight decay)} \\
            &\textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\, w_{t-1} \\
            &m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
            &v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
            &\widehat{m}_t \leftarrow m_t / (1 - \beta_1^t) \\
            &\widehat{v}_t \leftarrow v_t / (1 - \beta_2^t) \\
            &w_t \leftarrow w_{t-1} - \eta\, \widehat{m}_t / (\sqrt{\widehat{v}_t} + \epsilon) \\
            &\textbf{return}: w_t,\ m_t,\ v_t
        \end{aligned}

    The options the box leaves out (AMSGrad, no bias correction as in the lecture notes,
    decoupled decay, maximize) are :func:`adam_update`'s, which is tested equal to this.
    """
    beta1, beta2 = betas
    if weight_decay != 0:
        grad = grad + weight_decay * w
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    w = w - lr * m_hat / (v_hat.sqrt() + eps)
    return w, m, v


def adamw_step(
    w: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Step ``t`` (counted from 1) of ``torch.optim.AdamW`` on one tensor: shrink ``w``, then Adam's step.

    .. math::

        \begin{aligned}
            &w_{t-1} \leftarrow w_{t-1} - \eta\lambda\, w_{t-1} \\
            &\text{then :func:`adam_step`'s box from } m_t \text{ on, with } g_t \text{ left as it is}
        \end{aligned}

    The shrinking happens outside the adaptive scaling, so every weight decays at
    the same rate ``ηλ`` however large its gradients (with Adam's L2 ``weight_decay``,
    weights with large gradients decay less). Default ``weight_decay`` is AdamW's, 0.01.
    """
    w = w - lr * weight_decay * w
    return adam_step(w, grad, m, v, t, lr, betas, eps)


class Adam(ReferenceOptimizer):
    """``torch.optim.Adam`` on :func:`adam_update`, same arguments and defaults.

    ``bias_correction=False`` gives the lecture notes' form (no PyTorch twin).

    State per parameter, named as in ``torch.optim.Adam`` so that state dicts load into
    either: ``step`` (``t`` of the last step taken), ``exp_avg`` (``m``), ``exp_avg_sq``
    (``v``) and, with ``amsgrad``, ``max_exp_avg_sq`` (``max_v``).
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        bias_correction: bool = True,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "bias_correction": bias_correction,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        check_at_least_zero("learning rate", group["lr"])
        check_at_least_zero("epsilon value", group["eps"])
        check_below_one("beta parameter at index 0", group["betas"][0])
        check_below_one("beta parameter at index 1", group["betas"][1])
        check_at_least_zero("weight_decay value", group["weight_decay"])

    def _init_state(self, p, group):
        return {"step": 0, **_torch_named(adam_init(p, amsgrad=group["amsgrad"]))}

    def _step_tensor(self, p, grad, state, group):
        # int(): a state dict from torch.optim.Adam keeps the count as a tensor.
        t = int(state["step"]) + 1
        w, new_state = adam_update(
            p,
            grad,
            AdamState(state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq")),
            t,
            group["lr"],
            betas=group["betas"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=group["amsgrad"],
            bias_correction=group["bias_correction"],
            decoupled_weight_decay=self._decoupled_weight_decay,
            maximize=group["maximize"],
        )
        return w, {"step": t, **_torch_named(new_state)}


class AdamW(Adam):
    """``torch.optim.AdamW``: :class:`Adam` with decoupled weight decay, default 0.01."""

    _decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        bias_correction: bool = True,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, bias_correction=bias_correction
        )


# torch.optim.Adam's names for the parts of the state, so that state dicts interchange.
_TORCH_NAMES = {"m": "exp_avg", "v": "exp_avg_sq", "max_v": "max_exp_avg_sq"}


def _torch_named(state: AdamState) -> dict[str, Tensor]:
    """The parts of ``state`` in use, keyed by ``torch.optim.Adam``'s names."""
    return {_TORCH_NAMES[name]: value for name, value in state._asdict().items() if value is not None}
