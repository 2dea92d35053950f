"""Chapter 9: the PyTorch behaviour its prose and snippets describe, its experiments against plain torch.optim
training, and the claims it makes about its own runs."""

import dataclasses
import inspect
import math

import numpy as np
import pytest
import torch
from torch import nn

from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.experiments.batched_mlp import init_stacked_mlp, minibatch_order
from optimlab.experiments.pytorch_api import (
    IMPLEMENTATIONS_RUN,
    LBFGS_RUN,
    RACE,
    RaceConfig,
    adam_decoupled_matches_adamw,
    late_loss,
    readable_signature,
    run_implementations,
    run_lbfgs,
    run_race,
    tuned_index,
)
from optimlab.optimizers.local_gain import LocalGain
from optimlab.plots.common import batch_loss_running_mean
from optimlab.plots.pytorch_api import WINDOW, SearchPanel, plot_race
from optimlab.widgets.pytorch_api import RaceExplorer, race_explorable, single_run

# Erratum 3, as ERRATA.md states the real signature.
SGD_SIGNATURE = (
    "SGD(params, lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False, "
    "foreach=None, differentiable=False, fused=None)"
)


@pytest.fixture(scope="module")
def race():
    """The chapter's own run."""
    return run_race(RACE)


# --- PyTorch as the chapter describes it ------------------------------------------------------


def test_sgd_signature_is_the_one_the_errata_state():
    assert readable_signature(torch.optim.SGD) == SGD_SIGNATURE


def test_adam_default_lr_is_not_the_lectures_choice():
    assert inspect.signature(torch.optim.Adam).parameters["lr"].default == 0.001


def test_first_beta_decays_the_gradient_second_the_squared_gradient():
    w = nn.Parameter(torch.zeros(3))
    adam = torch.optim.Adam([w], lr=0.001, betas=(0.9, 0.999))
    w.grad = torch.ones(3)
    adam.step()
    torch.testing.assert_close(adam.state[w]["exp_avg"], torch.full((3,), 0.1))
    torch.testing.assert_close(adam.state[w]["exp_avg_sq"], torch.full((3,), 0.001))
    # Bias correction: the first step is lr * g / (|g| + eps), not lr * 0.1 / sqrt(0.001).
    torch.testing.assert_close(w.detach(), torch.full((3,), -0.001 / (1 + 1e-8)))


def test_group_edits_leave_the_defaults_alone():
    optimizer = torch.optim.SGD(nn.Linear(4, 2).parameters(), lr=0.1, momentum=0.9)
    optimizer.param_groups[0]["lr"] *= 0.5
    assert (optimizer.param_groups[0]["lr"], optimizer.defaults["lr"]) == (0.05, 0.1)


def test_state_is_created_on_the_first_step_and_saved_by_position():
    w = nn.Parameter(torch.ones(2))
    adam = torch.optim.Adam([w], lr=0.1)
    assert len(adam.state) == 0
    w.grad = torch.tensor([1.0, -2.0])
    adam.step()
    assert sorted(adam.state[w]) == ["exp_avg", "exp_avg_sq", "step"]
    assert list(adam.state_dict()["state"]) == [0]


def test_the_state_each_optimizer_keeps():
    def state_after_one_step(make):
        w = nn.Parameter(torch.zeros(2))
        optimizer = make([w])
        w.grad = torch.ones(2)
        optimizer.step()
        return sorted(optimizer.state[w])

    assert state_after_one_step(lambda p: torch.optim.SGD(p, lr=0.1)) == []
    assert state_after_one_step(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)) == ["momentum_buffer"]
    assert state_after_one_step(lambda p: torch.optim.RMSprop(p)) == ["square_avg", "step"]
    assert state_after_one_step(lambda p: torch.optim.Adam(p)) == ["exp_avg", "exp_avg_sq", "step"]
    assert inspect.signature(torch.optim.RMSprop).parameters["alpha"].default == 0.99


def test_backward_accumulates_and_zero_grad_sets_none_by_default():
    assert inspect.signature(torch.optim.Optimizer.zero_grad).parameters["set_to_none"].default is True
    w = nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([w], lr=0.1)
    for _ in range(2):
        (3 * w).sum().backward()
    assert w.grad.item() == 6.0
    optimizer.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize(("set_to_none", "expected"), [(True, 0.9), (False, 0.81)])
def test_a_none_gradient_skips_the_step_a_zero_gradient_does_not(set_to_none, expected):
    w = nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = torch.ones(1)
    optimizer.step()
    optimizer.zero_grad(set_to_none=set_to_none)
    optimizer.step()
    assert w.item() == pytest.approx(expected)


def test_groups_inherit_what_they_do_not_set():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.SGD(
        [{"params": net[0].parameters(), "lr": 0.001}, {"params": net[2].parameters()}], lr=0.01, momentum=0.9
    )
    assert [(g["lr"], g["momentum"]) for g in optimizer.param_groups] == [(0.001, 0.9), (0.01, 0.9)]


def test_add_param_group_inherits_defaults_and_refuses_a_parameter_twice():
    body, head = nn.Linear(64, 32), nn.Linear(32, 10)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    optimizer.add_param_group({"params": body.parameters(), "lr": 0.01})
    assert [(g["lr"], g["momentum"]) for g in optimizer.param_groups] == [(0.1, 0.9), (0.01, 0.9)]
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": head.parameters()})


def test_adam_with_decoupled_decay_is_adamw():
    assert adam_decoupled_matches_adamw() == 0.0


def test_only_sgd_adam_adamw_and_adagrad_have_a_fused_implementation():
    fused = {
        name
        for name in ("SGD", "Adam", "AdamW", "Adagrad", "Adamax", "NAdam", "RAdam", "RMSprop", "Rprop", "ASGD")
        if "fused" in inspect.signature(getattr(torch.optim, name)).parameters
    }
    assert fused == {"SGD", "Adam", "AdamW", "Adagrad"}


def test_default_implementation_on_cpu_is_the_for_loop():
    from torch.optim.optimizer import _default_to_fused_or_foreach

    assert _default_to_fused_or_foreach([torch.zeros(2)], differentiable=False) == (False, False)


# --- The closure and the implementations ------------------------------------------------------


@pytest.mark.parametrize("optimizer_class", [torch.optim.SGD, torch.optim.Adam])
def test_sgd_and_adam_call_a_closure_once(optimizer_class):
    w = nn.Parameter(torch.ones(2))
    optimizer, calls = optimizer_class([w], lr=0.1), []

    def closure():
        calls.append(1)
        optimizer.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert len(calls) == 1


def test_lbfgs_requires_a_closure():
    closure_parameter = inspect.signature(torch.optim.LBFGS.step).parameters["closure"]
    assert closure_parameter.default is inspect.Parameter.empty


def test_lbfgs_reaches_rosenbrocks_minimum_with_many_closure_calls_per_step():
    result = run_lbfgs(LBFGS_RUN)
    assert result.losses[-1] < 1e-8 < result.losses[0]
    assert 1 < result.closure_calls[0] <= int(1.25 * LBFGS_RUN.max_iter)


def test_implementations_agree_and_each_is_timed():
    # Which is faster is measured, not asserted (timings are noisy): the chapter says what its build measured.
    result = run_implementations(IMPLEMENTATIONS_RUN)
    assert result.implementations == ("for-loop", "foreach", "fused")
    assert max(result.largest_difference) < 1e-6
    assert all(milliseconds > 0 for milliseconds in result.milliseconds_per_step)


# --- The race equals plain training, one model at a time ---------------------------------------


def _train_alone(name: str, lr: float, weight_decay: float, seed: int, config: RaceConfig) -> list[float]:
    """One MLP (as nn.Linear layers) trained with the ordinary loop: its batch losses."""
    digits = load_digits(dtype=config.dtype, device="cpu")
    weights = init_stacked_mlp((DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES), 1, seed=seed, **_cpu(config))
    first = nn.Linear(DIGITS_N_FEATURES, config.hidden, dtype=config.dtype)
    second = nn.Linear(config.hidden, DIGITS_N_CLASSES, dtype=config.dtype)
    with torch.no_grad():
        for layer, (weight, bias) in zip((first, second), (weights[0:2], weights[2:4])):
            layer.weight.copy_(weight[0].T)
            layer.bias.copy_(bias[0, 0])
    model = nn.Sequential(first, nn.ReLU(), second)
    groups = [
        {"params": [first.weight, second.weight], "weight_decay": weight_decay},
        {"params": [first.bias, second.bias], "weight_decay": 0.0},
    ]
    options = {
        "momentum": dict(momentum=0.9),
        "nesterov": dict(momentum=0.9, nesterov=True),
    }.get(name, {})
    optimizer = (
        LocalGain(groups, lr=lr)
        if name == "local_gain"
        else getattr(torch.optim, _CLASSES[name])(groups, lr=lr, **options)
    )
    losses = []
    for batch in minibatch_order(len(digits.train.y), config.batch_size, config.steps, seed=seed):
        loss = nn.functional.cross_entropy(model(digits.train.x[batch]), digits.train.y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


_CLASSES = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


def _cpu(config: RaceConfig) -> dict:
    return {"dtype": config.dtype, "device": torch.device("cpu")}


def test_the_stacked_race_trains_each_model_as_it_would_train_alone():
    config = RaceConfig(
        optimizers=("nesterov", "adamw", "local_gain"),
        lrs=((0.03, 0.1), (1e-2, 3e-3), (0.3, 0.1)),
        weight_decays=(0.0, 0.1, 0.0),
        seeds=(0, 4),
        steps=8,
        dtype=torch.float64,
    )
    result = run_race(config)
    assert result.train_loss.shape == (3, 2, 2, 9)
    for k, name in enumerate(config.optimizers):
        for i, lr in enumerate(config.lrs[k]):
            for s, seed in enumerate(config.seeds):
                alone = _train_alone(name, lr, config.weight_decays[k], seed, config)
                np.testing.assert_allclose(result.train_loss[k, i, s, :-1].numpy(), alone, rtol=1e-9, atol=1e-12)


def test_tuned_index_takes_the_lowest_late_loss_and_counts_divergence_as_worst():
    losses = torch.tensor([[[1.0] * 9], [[0.5] * 9], [[math.nan] * 9]]).expand(3, 2, 9)
    assert tuned_index(losses) == 1
    assert late_loss(torch.arange(9.0)).item() == pytest.approx(6.5)  # the batch losses of steps 6 and 7 of 8


# --- The chapter's claims about its own race ------------------------------------------------------


def test_every_tuned_rate_is_inside_its_grid(race):
    late = late_loss(race.train_loss).mean(dim=2).nan_to_num(nan=math.inf)
    for k in range(len(race.optimizers)):
        assert race.best[k] == 1
        assert late[k, 0] > late[k, 1] and late[k, 2] > late[k, 1]


def test_adaptive_methods_end_below_sgd_momentum_and_local_gain(race):
    late = race.tuned_late_loss()
    adaptive = [race.optimizers.index(name) for name in ("rmsprop", "adam", "adamw")]
    plain = [race.optimizers.index(name) for name in ("sgd", "momentum", "local_gain")]
    assert late[adaptive].max() < late[plain].min()


def test_nesterovs_seeds_overlap_the_adaptive_methods(race):
    late = race.tuned_late_loss()
    adaptive = late[[race.optimizers.index(name) for name in ("rmsprop", "adam", "adamw")]]
    nesterov = late[race.optimizers.index("nesterov")]
    assert nesterov.min() < adaptive.max() and nesterov.max() > adaptive.min()


def test_adamw_differs_from_adam_less_than_adams_seeds(race):
    late = race.tuned_late_loss()
    adam, adamw = late[race.optimizers.index("adam")], late[race.optimizers.index("adamw")]
    assert abs(adamw.median() - adam.median()) < adam.max() - adam.min()


def test_test_accuracies_differ_less_between_methods_than_between_seeds(race):
    accuracy = race.tuned_test_accuracy()
    medians = accuracy.median(dim=1).values
    assert medians.max() - medians.min() < (accuracy.max(dim=1).values - accuracy.min(dim=1).values).max()


def test_the_step_is_a_sizeable_part_of_the_time(race):
    share = race.shared_seconds.mean() / len(race.optimizers)
    assert (race.step_seconds.mean(dim=1) > 0.1 * share).all()
    wall = race.wall_seconds()
    assert wall.shape == (len(race.optimizers), RACE.steps + 1)
    assert (wall[:, 0] == 0).all() and (wall.diff(dim=1) > 0).all()


# --- Figures and the explorable draw the race -----------------------------------------------------


def test_figures_and_explorable_draw_the_race(race):
    fig = plot_race(race)
    assert len(fig.axes[0].lines) == len(race.optimizers)
    panel = SearchPanel(race)
    k = race.optimizers.index("adam")
    panel.show(k)
    np.testing.assert_allclose(panel.search_line.get_xdata(), race.lrs[k].numpy())
    assert panel.tuned_marker.get_xdata()[0] == race.lrs[k, race.best[k]].item()
    html = race_explorable(dataclasses.replace(race)).data
    assert '<div class="explorable">' in html and 'type="range"' in html


def test_the_live_explorer_shows_the_races_runs_and_trains_other_settings(race):
    k = race.optimizers.index("sgd")
    explorer = RaceExplorer(race, optimizer="sgd", lr=race.lrs[k, race.best[k]].item())
    expected = batch_loss_running_mean(race.train_loss[k, race.best[k]], WINDOW).median(dim=0).values
    np.testing.assert_array_equal(explorer.line.get_ydata(), expected.numpy())  # from the race, at once
    explorer.lr.value = 0.2
    explorer.wait(120)
    alone = run_race(single_run("sgd", 0.2))
    expected = batch_loss_running_mean(alone.train_loss[0, 0], WINDOW).median(dim=0).values
    np.testing.assert_allclose(explorer.line.get_ydata(), expected.numpy(), rtol=1e-6)
    assert explorer.output.outputs, "the explorer shows its figure"
