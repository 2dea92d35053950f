"""Chapter 3's experiments: the catalog read from real schedulers matches the closed forms the chapter
states, the step-order pitfall and its warning, and what a state_dict keeps."""

import inspect
import math

import pytest
import torch
from torch.optim import lr_scheduler as schedulers

from optimlab.experiments.schedulers import (
    CATALOG_EPOCHS,
    CATALOG_K,
    CATALOG_LR0,
    CATALOG_WARMUP,
    HalvingFactor,
    catalog_lrs,
    dummy_optimizer,
    lambda_vs_multiplicative,
    own_function_lrs,
    resume_matches,
    run_step_order,
    scheduler_lrs,
    stepped_scheduler,
)
from optimlab.schedules import (
    cosine_annealing,
    exponential_decay,
    linear_warmup,
    lr_trajectory,
    multistep_decay,
    one_cycle,
    step_decay,
    warmup_then_exponential,
)

EPOCHS = range(CATALOG_EPOCHS)


@pytest.fixture(scope="module")
def catalog():
    return catalog_lrs()


def _close(ours, theirs):
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-9, atol=1e-12)


def test_catalog_matches_the_closed_forms(catalog):
    lr0 = CATALOG_LR0
    expected = {
        "LambdaLR (warmup, then exp)": lr_trajectory(
            lr0, warmup_then_exponential(CATALOG_WARMUP, CATALOG_K), CATALOG_EPOCHS
        ),
        "StepLR(10, 0.5)": [step_decay(lr0, 0.5, 10, e) for e in EPOCHS],
        "MultiStepLR([15, 30], 0.1)": [multistep_decay(lr0, 0.1, (15, 30), e) for e in EPOCHS],
        "ExponentialLR(0.93)": [lr0 * 0.93**e for e in EPOCHS],
        "CosineAnnealingLR(40)": [cosine_annealing(lr0, 0.0, CATALOG_EPOCHS, e) for e in EPOCHS],
        "OneCycleLR(max 0.1)": [one_cycle(lr0, CATALOG_EPOCHS, e) for e in EPOCHS],
        "LinearLR(0.1, 5): warmup": [linear_warmup(lr0, 0.1, 5, e) for e in EPOCHS],
        "SequentialLR: LinearLR, then cosine": [
            linear_warmup(lr0, 0.1, 5, e) if e < 5 else cosine_annealing(lr0, 0.0, CATALOG_EPOCHS - 5, e - 5)
            for e in EPOCHS
        ],
        "ChainedScheduler: LinearLR × exp": [linear_warmup(lr0, 0.1, 5, e) * 0.93**e for e in EPOCHS],
    }
    assert set(catalog) == set(expected)
    for name, rates in expected.items():
        _close(catalog[name], rates)


def test_chained_warmup_never_reaches_the_initial_rate(catalog):
    assert max(catalog["ChainedScheduler: LinearLR × exp"]) < 0.75 * CATALOG_LR0


def test_one_cycle_cycles_momentum_between_085_and_095_by_default():
    defaults = inspect.signature(schedulers.OneCycleLR).parameters
    assert defaults["base_momentum"].default == 0.85 and defaults["max_momentum"].default == 0.95
    optimizer = dummy_optimizer(0.1, momentum=0.9)
    scheduler = schedulers.OneCycleLR(optimizer, max_lr=0.1, total_steps=20)
    momentums = []
    for _ in range(20):
        momentums.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    assert max(momentums) == pytest.approx(0.95) and min(momentums) == pytest.approx(0.85)


def test_own_function_equals_lambda_lr():
    factor = warmup_then_exponential(4, math.log(2) / 5)
    with_lambdalr = scheduler_lrs(lambda opt: schedulers.LambdaLR(opt, factor), 0.1, 12)
    assert own_function_lrs(lambda epoch: 0.1 * factor(epoch), 12) == with_lambdalr
    assert own_function_lrs(lambda epoch: exponential_decay(0.1, 0.2, epoch), 5) == [
        exponential_decay(0.1, 0.2, e) for e in range(5)
    ]


def test_lambda_lr_does_not_compound_and_multiplicative_lr_does():
    lambda_rates, multiplicative_rates = lambda_vs_multiplicative(0.5, 0.1, 6)
    _close(lambda_rates, [0.05] * 6)
    _close(multiplicative_rates, [0.1 * 0.5**e for e in range(6)])


def test_module_path():
    assert hasattr(torch.optim.lr_scheduler, "LambdaLR") and not hasattr(torch.optim, "lr")


def test_wrong_step_order_runs_one_epoch_ahead_and_warns_once():
    factor = warmup_then_exponential(5, math.log(2) / 10)
    orders = run_step_order(lambda opt: schedulers.LambdaLR(opt, factor), 0.1, 12)
    assert orders.right == lr_trajectory(0.1, factor, 12)
    assert orders.wrong == lr_trajectory(0.1, factor, 13)[1:]
    assert orders.warnings_right == []
    assert len(orders.warnings_wrong) == 1
    assert "Detected call of `lr_scheduler.step()` before `optimizer.step()`" in orders.warnings_wrong[0]


def test_state_dict_keeps_counts_and_hyperparameters_not_functions():
    _, step_lr = stepped_scheduler(lambda opt: schedulers.StepLR(opt, step_size=2, gamma=0.5), 0.1, 3)
    state = step_lr.state_dict()
    assert state["last_epoch"] == 3 and state["base_lrs"] == [0.1] and state["_last_lr"] == [0.05]
    assert state["step_size"] == 2 and state["gamma"] == 0.5
    _, with_lambda = stepped_scheduler(lambda opt: schedulers.LambdaLR(opt, lambda e: 0.5**e), 0.1, 3)
    assert with_lambda.state_dict()["lr_lambdas"] == [None]
    _, with_object = stepped_scheduler(lambda opt: schedulers.LambdaLR(opt, HalvingFactor(2)), 0.1, 3)
    assert with_object.state_dict()["lr_lambdas"] == [{"every": 2}]


def test_resume_from_state_dicts_continues_exactly():
    uninterrupted, resumed = resume_matches(lambda opt: schedulers.LambdaLR(opt, HalvingFactor(2)), 0.1, 3, 10)
    assert uninterrupted == resumed
    assert uninterrupted == [0.1 * 0.5 ** (e // 2) for e in range(3, 10)]
