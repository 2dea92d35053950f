"""make_optimizer: the method each name stands for, decay on weight matrices only, kwargs forwarded."""

import pytest
import torch
from torch import nn

from optimlab.param_groups import OPTIMIZERS, decay_groups, make_optimizer


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2))


@pytest.mark.parametrize(
    ("name", "optimizer_class", "settings"),
    [
        ("sgd", torch.optim.SGD, {"momentum": 0, "nesterov": False}),
        ("momentum", torch.optim.SGD, {"momentum": 0.9, "nesterov": False}),
        ("nesterov", torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
        ("rmsprop", torch.optim.RMSprop, {"alpha": 0.99}),
        ("adam", torch.optim.Adam, {"betas": (0.9, 0.999)}),
        ("adamw", torch.optim.AdamW, {"betas": (0.9, 0.999)}),
    ],
)
def test_each_name_makes_its_method(name, optimizer_class, settings):
    optimizer = make_optimizer(_net(), name, 0.05, weight_decay=0.1)
    assert type(optimizer) is optimizer_class
    for group in optimizer.param_groups:
        assert group["lr"] == 0.05
        assert {key: group[key] for key in settings} == settings


def test_weight_matrices_decay_biases_and_norms_do_not():
    optimizer = make_optimizer(_net(), "adamw", 1e-3, weight_decay=0.1)
    decay, no_decay = optimizer.param_groups
    assert (decay["param_names"], decay["weight_decay"]) == (["0.weight", "3.weight"], 0.1)
    assert no_decay["param_names"] == ["0.bias", "1.weight", "1.bias", "3.bias", "4.weight", "4.bias"]
    assert no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])


def test_kwargs_override_the_names_settings():
    optimizer = make_optimizer(_net(), "momentum", 0.1, momentum=0.8, dampening=0.1)
    assert all((g["momentum"], g["dampening"]) == (0.8, 0.1) for g in optimizer.param_groups)
    adam = make_optimizer(_net(), "adam", 0.1, betas=(0.8, 0.99), eps=1e-6)
    assert all((g["betas"], g["eps"]) == ((0.8, 0.99), 1e-6) for g in adam.param_groups)


def test_default_weight_decay_is_zero_everywhere():
    assert all(g["weight_decay"] == 0.0 for g in make_optimizer(_net(), "sgd", 0.1).param_groups)


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        make_optimizer(_net(), "lion", 0.1)


def test_frozen_parameters_and_empty_groups_are_left_out():
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2, bias=False))
    assert [g["param_names"] for g in make_optimizer(net, "sgd", 0.1).param_groups] == [["0.weight", "1.weight"]]
    net = _net()
    net[0].requires_grad_(False)
    names = [name for group in decay_groups(net, 0.1) for name, _ in group["params"]]
    assert "0.weight" not in names and "0.bias" not in names


def test_training_steps_match_torch_built_by_hand():
    torch.manual_seed(1)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    mine, theirs = _net(), _net()
    optimizer = make_optimizer(mine, "nesterov", 0.1, weight_decay=0.01)
    by_hand = torch.optim.SGD(
        [
            {"params": [theirs[0].weight, theirs[3].weight], "weight_decay": 0.01},
            {"params": [p for n, p in theirs.named_parameters() if n not in ("0.weight", "3.weight")]},
        ],
        lr=0.1,
        momentum=0.9,
        nesterov=True,
    )
    for model, opt in ((mine, optimizer), (theirs, by_hand)):
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(mine.parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_the_table_names_the_six_methods():
    assert list(OPTIMIZERS) == ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
