"""Exercise 09_pytorch_api's runner: build an optimizer with the graded `make_optimizer`, inspect it, train with it.

A case's one step names the call: a small seeded model (`made("pytorch_api_model", seed=..., norm=...)`:
Linear, LayerNorm or BatchNorm, ReLU, Linear, in float64), the optimizer's name, `lr`,
`weight_decay` (None: left out of the call, so the default applies) and the keyword arguments
to forward. The record's one step holds three outputs:

- `optimizer`: the class name of what came back, or "raised <ExceptionType>" when the call raised;
- `param_groups`: per group (sorted, so their order does not matter), the sorted names of its
  parameters and its hyperparameters as plain numbers;
- `trained_parameters`: every parameter (in the model's order) after a few training steps with
  the returned optimizer, so that a wrong hyperparameter shows even where it hides from the groups.

Like `records`, this module imports only the standard library, torch and `records`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..records import Signature, decode, describe_exception, encode, maker, runner, watch_for_delegation

FEATURES, HIDDEN, CLASSES, EXAMPLES = 4, 6, 3, 10
TRAINING_STEPS = 3
# The group entries a record keeps (those an optimizer has); the rest (foreach, fused, ...) say how, not what.
HYPERPARAMETERS = (
    "lr",
    "weight_decay",
    "momentum",
    "dampening",
    "nesterov",
    "betas",
    "eps",
    "alpha",
    "centered",
    "amsgrad",
    "maximize",
    "decoupled_weight_decay",
)
NORMS = {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


@maker("pytorch_api_model")
def pytorch_api_model(seed: int, norm: str) -> nn.Module:
    """Linear, a norm layer (`norm`: "layer" or "batch"), ReLU, Linear; float64, initialized from `seed`."""
    torch.manual_seed(int(seed))
    model = nn.Sequential(nn.Linear(FEATURES, HIDDEN), NORMS[norm](HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    with torch.no_grad():  # norm layers start at gain 1 and shift 0; other values make a decay on them show
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    return model.double()


def _plain(value):
    """A hyperparameter as plain data: numbers as floats (a tensor lr too), booleans as they are, tuples as lists."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, torch.Tensor):
        return float(value.item())
    return float(value) if isinstance(value, (int, float)) else str(value)


def _groups(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> list[dict]:
    groups = []
    for group in optimizer.param_groups:
        # The names first, so that feedback, which shows a group's first few entries, says which tensors it holds.
        described = {"params": sorted(names.get(id(p), "(a tensor not in the model)") for p in group["params"])}
        described.update({key: _plain(group[key]) for key in HYPERPARAMETERS if key in group})
        groups.append(described)
    return sorted(groups, key=lambda described: described["params"])


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(100 + int(seed))
    x = torch.randn(EXAMPLES, FEATURES, generator=generator, dtype=torch.float64)
    y = torch.randint(CLASSES, (EXAMPLES,), generator=generator)
    model.train()
    for _ in range(TRAINING_STEPS):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


@runner("optimizer_setup")
def run_optimizer_setup(subject, signature: Signature, case: dict) -> dict:
    """One call of `subject`, as described in the module docstring, on one CPU thread (the model is tiny, and
    threads only contend on a busy grading machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _setup_record(subject, signature, case)
    finally:
        torch.set_num_threads(threads)


def _setup_record(subject, signature: Signature, case: dict) -> dict:
    step = case["steps"][0]
    model, name, lr = decode(step["model"]), decode(step["name"]), decode(step["lr"])
    weight_decay, kwargs = decode(step["weight_decay"]), decode(step["kwargs"])
    args = (model, name, lr) if weight_decay is None else (model, name, lr, weight_decay)
    delegated: set[str] = set()
    try:
        with watch_for_delegation(delegated, inside=subject, exempt=signature.exempt):
            optimizer = subject(*args, **kwargs)
    except (Exception, SystemExit) as error:  # a raise is an outcome here: an unknown name must raise ValueError
        out = [f"raised {type(error).__name__}", [], []]
        return {"steps": [{"out": encode(out), "modified": []}], "delegated": sorted(delegated)}
    if not isinstance(optimizer, torch.optim.Optimizer):
        got = "None" if optimizer is None else type(optimizer).__name__
        error = f"{signature.name} returned {got}; it must return a torch.optim.Optimizer"
        return {"steps": [{"error": error}], "delegated": sorted(delegated)}
    names = {id(p): parameter_name for parameter_name, p in model.named_parameters()}
    try:
        groups = _groups(optimizer, names)
        trained = _train(model, optimizer, step["model"]["args"]["seed"])
    except (Exception, SystemExit) as error:
        error_text = f"training with the optimizer your {signature.name} returned raised {describe_exception(error)}"
        return {"steps": [{"error": error_text}], "delegated": sorted(delegated)}
    out = [type(optimizer).__name__, groups, trained]
    return {"steps": [{"out": encode(out), "modified": []}], "delegated": sorted(delegated)}
