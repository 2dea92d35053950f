"""optimlab.schedules: every closed form against the PyTorch scheduler that implements it, and the doctests."""

import doctest
import math

import pytest
import torch
from torch.optim import lr_scheduler as schedulers

import optimlab.schedules
from optimlab.experiments.schedulers import scheduler_lrs
from optimlab.schedules import (
    cosine_annealing,
    decay_constant_for_halving,
    exponential_decay,
    inverse_time_decay,
    linear_warmup,
    lr_trajectory,
    multistep_decay,
    one_cycle,
    step_decay,
    warmup_then_exponential,
)

EPOCHS = 40
LR0 = 0.1


def test_doctests_pass():
    result = doctest.testmod(optimlab.schedules)
    assert result.attempted >= 10 and result.failed == 0


def _assert_rates(ours, theirs):
    assert len(ours) == len(theirs)
    torch.testing.assert_close(
        torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("k", [0.0, 0.05, 0.3])
def test_exponential_decay_is_exponential_lr_with_gamma_exp_minus_k(k):
    theirs = scheduler_lrs(lambda opt: schedulers.ExponentialLR(opt, gamma=math.exp(-k)), LR0, EPOCHS)
    _assert_rates([exponential_decay(LR0, k, t) for t in range(EPOCHS)], theirs)


@pytest.mark.parametrize("epochs", [1, 3.5, 10, 100])
def test_decay_constant_halves_the_rate_every_epochs(epochs):
    k = decay_constant_for_halving(epochs)
    assert exponential_decay(1.0, k, epochs) == pytest.approx(0.5, rel=1e-12)
    assert exponential_decay(1.0, k, 3 * epochs) == pytest.approx(0.125, rel=1e-12)


def test_step_decay_is_step_lr():
    theirs = scheduler_lrs(lambda opt: schedulers.StepLR(opt, step_size=7, gamma=0.3), LR0, EPOCHS)
    _assert_rates([step_decay(LR0, 0.3, 7, t) for t in range(EPOCHS)], theirs)


def test_multistep_decay_is_multistep_lr():
    theirs = scheduler_lrs(lambda opt: schedulers.MultiStepLR(opt, milestones=[5, 12, 30], gamma=0.2), LR0, EPOCHS)
    _assert_rates([multistep_decay(LR0, 0.2, (5, 12, 30), t) for t in range(EPOCHS)], theirs)


def test_inverse_time_decay_is_lambda_lr_with_one_over_one_plus_kt():
    theirs = scheduler_lrs(lambda opt: schedulers.LambdaLR(opt, lambda e: 1 / (1 + 0.2 * e)), LR0, EPOCHS)
    _assert_rates([inverse_time_decay(LR0, 0.2, t) for t in range(EPOCHS)], theirs)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_is_cosine_annealing_lr(eta_min):
    theirs = scheduler_lrs(lambda opt: schedulers.CosineAnnealingLR(opt, T_max=EPOCHS, eta_min=eta_min), LR0, EPOCHS)
    ours = [cosine_annealing(LR0, eta_min, EPOCHS, t) for t in range(EPOCHS)]
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-9, atol=1e-12)


def test_linear_warmup_is_linear_lr():
    theirs = scheduler_lrs(lambda opt: schedulers.LinearLR(opt, start_factor=0.1, total_iters=6), LR0, EPOCHS)
    ours = [linear_warmup(LR0, 0.1, 6, t) for t in range(EPOCHS)]
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("pct_start", "total"), [(0.3, 40), (0.5, 11), (0.25, 100)])
def test_one_cycle_is_one_cycle_lr(pct_start, total):
    theirs = scheduler_lrs(
        lambda opt: schedulers.OneCycleLR(opt, max_lr=LR0, total_steps=total, pct_start=pct_start),
        LR0,
        total,
        momentum=0.9,
    )
    ours = [one_cycle(LR0, total, t, pct_start=pct_start) for t in range(total)]
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("warmup", "k"), [(1, 0.0), (1, 0.3), (4, 0.1), (6, 0.0)])
def test_warmup_then_exponential_under_lambda_lr_is_lr_trajectory(warmup, k):
    factor = warmup_then_exponential(warmup, k)
    theirs = scheduler_lrs(lambda opt: schedulers.LambdaLR(opt, factor), LR0, 25)
    _assert_rates(lr_trajectory(LR0, factor, 25), theirs)


def test_warmup_then_exponential_values():
    factor = warmup_then_exponential(3, 0.2)
    assert [factor(e) for e in range(3)] == [1 / 3, 2 / 3, 1.0]
    assert factor(3) == 1.0  # the decay starts from 1 at the end of the warmup
    assert factor(8) == pytest.approx(math.exp(-0.2 * 5), rel=1e-15)


def test_lr_trajectory_does_not_compound():
    assert lr_trajectory(0.1, lambda e: 0.5, 4) == [0.05] * 4


def test_chapter_2_figure_three_schedules_meet_at_epoch_10_then_inverse_time_stays_higher():
    """Chapter 2's figure: exponential (halving every 10), step (x 0.5 every 10) and 1/t (k = 0.1) from 0.1."""
    k = decay_constant_for_halving(10)
    at = {
        t: (exponential_decay(LR0, k, t), step_decay(LR0, 0.5, 10, t), inverse_time_decay(LR0, 0.1, t))
        for t in (5, 10, 40)
    }
    assert at[5][2] < at[5][0]  # 1/t falls a little faster at first
    assert at[10] == pytest.approx((LR0 / 2,) * 3)
    assert at[40] == pytest.approx((LR0 / 16, LR0 / 16, LR0 / 5))
