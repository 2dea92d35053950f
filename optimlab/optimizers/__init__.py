"""Reference optimizers: each algorithm of the lecture as a pure step function and as a
``torch.optim.Optimizer`` built on it.

=====================  ===================================  ==========================
algorithm              step function(s)                     optimizer
=====================  ===================================  ==========================
momentum (lecture)     :func:`momentum_step_lecture`,       :class:`MomentumLecture`
                       :func:`rescale_velocity`
SGD (PyTorch)          :func:`sgd_momentum_step`,           :class:`SGD`
                       :func:`sgd_momentum_step_batched`
Nesterov (PyTorch)     :func:`nesterov_step`                :class:`SGD` (nesterov)
Nesterov (lecture)     :func:`nesterov_lookahead_step`      :class:`NesterovLookahead`
local gains            :func:`local_gain_step`              :class:`LocalGain`
RMSProp                :func:`rmsprop_step`,                :class:`RMSprop`
                       :func:`rmsprop_update`
Adam, AMSGrad          :func:`adam_step`,                   :class:`Adam`
                       :func:`adam_update`
AdamW                  :func:`adamw_step`                   :class:`AdamW`
=====================  ===================================  ==========================

Step functions are pure (new tensors out, inputs untouched) and trust their
hyperparameters; the optimizers check them once, when a param group enters.
"""

from optimlab.optimizers.adam import Adam, AdamState, AdamW, adam_init, adam_step, adam_update, adamw_step
from optimlab.optimizers.base import ReferenceOptimizer
from optimlab.optimizers.local_gain import LocalGain, local_gain_step
from optimlab.optimizers.momentum import (
    SGD,
    MomentumLecture,
    momentum_step_lecture,
    per_model,
    rescale_velocity,
    sgd_momentum_step,
    sgd_momentum_step_batched,
)
from optimlab.optimizers.nesterov import NesterovLookahead, lookahead_point, nesterov_lookahead_step, nesterov_step
from optimlab.optimizers.rmsprop import RMSprop, RMSpropState, rmsprop_init, rmsprop_step, rmsprop_update

__all__ = [
    "SGD",
    "Adam",
    "AdamState",
    "AdamW",
    "LocalGain",
    "MomentumLecture",
    "NesterovLookahead",
    "RMSprop",
    "RMSpropState",
    "ReferenceOptimizer",
    "adam_init",
    "adam_step",
    "adam_update",
    "adamw_step",
    "local_gain_step",
    "lookahead_point",
    "momentum_step_lecture",
    "nesterov_lookahead_step",
    "nesterov_step",
    "rmsprop_init",
    "rmsprop_step",
    "rmsprop_update",
    "per_model",
    "rescale_velocity",
    "sgd_momentum_step",
    "sgd_momentum_step_batched",
]
