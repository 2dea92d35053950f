"""Hidden checks for exercise 09_pytorch_api: `make_optimizer`, built on PyTorch's own optimizers.

The runner (`runners/pytorch_api.py`) calls the graded function on a small seeded model and
records the optimizer's class, its param groups (which parameters, which hyperparameters) and
the parameters after a few training steps; the records are compared with those of the
reference, `optimlab.param_groups.make_optimizer`. This exercise is about PyTorch's API, so
calling `torch.optim` is allowed.
"""

from __future__ import annotations

import torch

from optimlab.param_groups import make_optimizer

from .cases import case
from .grading import Check, Mistake, Question
from .records import EXEMPT_ALL, Signature, made

OPTIMIZERS_ALLOWED = True

NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
# A rate that trains without blowing up, per kind of method.
LRS = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 0.01, "adam": 0.01, "adamw": 0.01}


def _call(name: str, *, seed: int = 0, norm: str = "layer", weight_decay: float | None = 0.05, **kwargs) -> dict:
    """A case: one call `make_optimizer(model, name, lr, weight_decay, **kwargs)` (weight_decay None: left out)."""
    one = case({}, [{"name": name, "lr": LRS.get(name, 0.1), "weight_decay": weight_decay, "kwargs": kwargs}])
    # Added after `case()`, which would encode the `made(...)` description as a plain mapping.
    one["steps"][0]["model"] = made("pytorch_api_model", seed=seed, norm=norm)
    return one


def _each_name() -> list[dict]:
    return [_call(name, seed=index) for index, name in enumerate(NAMES)]


def _decay_groups() -> list[dict]:
    return [
        _call("adamw", seed=10, norm="batch", weight_decay=0.1),
        _call("sgd", seed=11, norm="layer", weight_decay=0.2),
        _call("momentum", seed=12, norm="batch", weight_decay=0.3),
    ]


def _kwargs_forwarded() -> list[dict]:
    return [
        _call("momentum", seed=20, momentum=0.8),
        _call("sgd", seed=21, momentum=0.5, dampening=0.1),
        _call("nesterov", seed=22, momentum=0.7),
        _call("adam", seed=23, betas=(0.8, 0.99), eps=1e-6),
        _call("rmsprop", seed=24, alpha=0.9),
    ]


def _default_weight_decay() -> list[dict]:
    return [_call("adamw", seed=30, weight_decay=None), _call("momentum", seed=31, norm="batch", weight_decay=None)]


def _unknown_names() -> list[dict]:
    return [_call("lion", seed=40), _call("adagrad", seed=41)]


# ---------------------------------------------------------------- the catalog of mistakes
#
# Each mistake is a whole make_optimizer, as a student would write it (only `torch` from outside), so that it
# can also be pasted into a notebook as an answer.


def _mistakes() -> tuple[Mistake, ...]:
    def biases_decayed(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        # The second group sets no weight_decay, so it takes the constructor's.
        groups = [{"params": decay}, {"params": no_decay}]
        return cls(groups, lr=lr, weight_decay=weight_decay, **{**settings, **kwargs})

    def norm_weights_decayed(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for n, p in model.named_parameters() if not n.endswith("bias")]
        no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    def one_group_only(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        return cls(model.parameters(), lr=lr, weight_decay=weight_decay, **{**settings, **kwargs})

    def momentum_for_sgd(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {"momentum": 0.9}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    def nesterov_missing(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    def adam_instead_of_adamw(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.Adam, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    def unknown_name_falls_back_to_sgd(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        cls, settings = methods.get(name, methods["sgd"])
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    def unknown_name_raises_key_error(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    def kwargs_dropped(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **settings)

    def settings_override_kwargs(model, name, lr, weight_decay=0.0, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**kwargs, **settings})

    def default_weight_decay_not_zero(model, name, lr, weight_decay=0.01, **kwargs):
        methods = {
            "sgd": (torch.optim.SGD, {}),
            "momentum": (torch.optim.SGD, {"momentum": 0.9}),
            "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
            "rmsprop": (torch.optim.RMSprop, {}),
            "adam": (torch.optim.Adam, {}),
            "adamw": (torch.optim.AdamW, {}),
        }
        if name not in methods:
            raise ValueError(f"unknown optimizer {name!r}")
        cls, settings = methods[name]
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return cls(groups, lr=lr, **{**settings, **kwargs})

    return (
        Mistake(
            "biases_decayed",
            "your group of biases and norm parameters has weight decay: a param group that does not set "
            "'weight_decay' takes the value given to the constructor, so set 'weight_decay': 0.0 in that group.",
            biases_decayed,
        ),
        Mistake(
            "norm_weights_decayed",
            "the gains of the norm layers (LayerNorm.weight, BatchNorm1d.weight) are decayed: they are 1-d like "
            "the biases, so split by p.dim() >= 2, not by whether the name ends in 'bias'.",
            norm_weights_decayed,
        ),
        Mistake(
            "one_group_only",
            "your optimizer has one param group, so every parameter is decayed: make two groups, the tensors "
            "with p.dim() >= 2 with weight_decay, all the others with weight_decay 0.0.",
            one_group_only,
        ),
        Mistake(
            "momentum_for_sgd",
            "'sgd' is plain SGD, without momentum: only 'momentum' and 'nesterov' set momentum=0.9.",
            momentum_for_sgd,
        ),
        Mistake(
            "nesterov_missing",
            "'nesterov' needs nesterov=True as well as momentum=0.9; yours is plain momentum.",
            nesterov_missing,
        ),
        Mistake(
            "adam_instead_of_adamw",
            "'adamw' must build torch.optim.AdamW (decoupled weight decay); Adam's weight_decay is an L2 "
            "penalty added to the gradient, which is another method.",
            adam_instead_of_adamw,
            label="sec-pytorch-api-param-groups",
        ),
        Mistake(
            "unknown_name_falls_back_to_sgd",
            "an unknown name must raise ValueError, not quietly build SGD: a typo would otherwise train with "
            "the wrong method.",
            unknown_name_falls_back_to_sgd,
        ),
        Mistake(
            "unknown_name_raises_key_error",
            "an unknown name raises KeyError from your table lookup; check the name first and raise "
            "ValueError naming it (and the known names).",
            unknown_name_raises_key_error,
        ),
        Mistake(
            "kwargs_dropped",
            "the keyword arguments are ignored: pass **kwargs on to the optimizer's constructor "
            "(make_optimizer(model, 'momentum', 0.1, momentum=0.8) must use momentum 0.8).",
            kwargs_dropped,
        ),
        Mistake(
            "settings_override_kwargs",
            "your fixed settings override the caller's: with make_optimizer(model, 'momentum', 0.1, momentum=0.8) "
            "the momentum must be 0.8; merge them as {**settings, **kwargs}, the caller's last.",
            settings_override_kwargs,
        ),
        Mistake(
            "default_weight_decay_not_zero",
            "without a weight_decay argument there must be no decay at all: its default is 0.0.",
            default_weight_decay_not_zero,
        ),
    )


QUESTIONS = {
    "make_optimizer": Question(
        signature=Signature(
            "make_optimizer",
            ("model", "name", "lr", "weight_decay", "kwargs"),
            ("optimizer", "param_groups", "trained_parameters"),
            kinds=("any", "any", "any"),
            exempt=EXEMPT_ALL,
        ),
        reference=make_optimizer,
        checks={
            "each_name_makes_its_method": Check(_each_name),
            "decay_only_on_weight_matrices": Check(_decay_groups),
            "kwargs_forwarded": Check(_kwargs_forwarded),
            "default_weight_decay_is_zero": Check(_default_weight_decay),
            "unknown_name_raises_value_error": Check(_unknown_names),
        },
        mistakes=_mistakes(),
        label="sec-pytorch-api-param-groups",
        runner="optimizer_setup",
    ),
}
