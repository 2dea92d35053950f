"""Exercise 08_adam's runner: train a small network with the graded optimizer class and record its parameters.

`AdamFromScratch` is a class, so a case is a training run rather than calls of a step function.
The case's state describes the run: a seeded float64 MLP (Linear, Tanh, Linear), trained full
batch on seeded data with cross-entropy, its two layers in two param groups with their own
hyperparameters (`groups`), the class constructed as `subject(param_groups, **defaults)`. After
`round_trip_at` steps (when given) the optimizer's `state_dict()` goes through `torch.save` and
`torch.load(weights_only=True)`, as a checkpoint would, and training goes on with a fresh copy
of the model and a fresh optimizer that loaded it. Each of the case's steps names a point of the
run (`after_steps`); the record's step there holds every parameter of the model, in order.

Like `records`, this module imports only the standard library, torch and `records`.
"""

from __future__ import annotations

import io

import torch
from torch import nn

from ..records import Signature, decode, describe_exception, encode, runner, watch_for_delegation

FEATURES, HIDDEN, CLASSES, EXAMPLES = 5, 7, 3, 24


def _model(seed: int) -> nn.Sequential:
    """Linear, Tanh, Linear in float64, every parameter drawn from `seed` (so a copy is the same model)."""
    model = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, CLASSES)).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.7 * torch.randn(p.shape, generator=generator, dtype=torch.float64))
    return model


def _param_groups(model: nn.Sequential, groups: list[dict]) -> list[dict]:
    """One group per Linear layer, each with its own hyperparameters from `groups`."""
    layers = (model[0], model[2])
    return [{"params": list(layer.parameters()), **group} for layer, group in zip(layers, groups, strict=True)]


def _hyperparameters(values: dict) -> dict:
    """Decoded hyperparameters as a constructor takes them (betas as a tuple)."""
    return {name: tuple(value) if name == "betas" else value for name, value in values.items()}


def _through_a_checkpoint(state_dict: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@runner("adam_class_training")
def run_adam_class_training(subject, signature: Signature, case: dict) -> dict:
    """Train as the module docstring says; one record step per case step, or an error where the class failed."""
    config = {name: decode(value) for name, value in case["state"].items()}
    record_at = [int(decode(step["after_steps"])) for step in case["steps"]]
    seed, round_trip_at = int(config["seed"]), config["round_trip_at"]
    defaults = _hyperparameters(config["defaults"])
    groups = [_hyperparameters(group) for group in config["groups"]]
    generator = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(EXAMPLES, FEATURES, generator=generator, dtype=torch.float64)
    y = torch.randint(CLASSES, (EXAMPLES,), generator=generator)
    steps, delegated = [], set()
    model = _model(seed)
    doing = f"constructing {signature.name}(param_groups, **defaults)"
    try:
        with watch_for_delegation(delegated, inside=subject, exempt=signature.exempt):
            optimizer = subject(_param_groups(model, groups), **defaults)
            for step in range(1, max(record_at) + 1):
                doing = f"training step {step}"
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                if step == round_trip_at:
                    doing = f"the state_dict round trip after step {step}"
                    saved = _through_a_checkpoint(optimizer.state_dict())
                    fresh = _model(seed)
                    fresh.load_state_dict(model.state_dict())
                    model = fresh
                    optimizer = subject(_param_groups(model, groups), **defaults)
                    optimizer.load_state_dict(saved)
                if step in record_at:
                    steps.append({"out": [encode([p.detach().clone() for p in model.parameters()])], "modified": []})
    except (Exception, SystemExit) as error:  # any student bug: recorded in words, never re-raised
        steps.append({"error": f"{doing} raised {describe_exception(error)}"})
    return {"steps": steps, "delegated": sorted(delegated)}
