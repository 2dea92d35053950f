"""Chapter 5's experiments: the batched runs equal torch.optim.SGD(nesterov=...), the theory predicts the
runs, and the claims the chapter makes about its runs hold on those runs."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from optimlab.data import load_digits
from optimlab.device import one_thread
from optimlab.experiments.batched_mlp import init_stacked_mlp, minibatch_order
from optimlab.experiments.momentum import RAVINE, contraction_rates, measured_rates
from optimlab.experiments.nesterov import (
    CHAPTER4_LR,
    DIGITS_COMPARISON,
    ILL_CONDITIONED,
    LOOKAHEAD_MATCH,
    RATE_BY_LR,
    RATE_BY_MOMENTUM,
    RATE_LR,
    RATE_MOMENTUM,
    RavineComparisonConfig,
    best_momentums_at_lr,
    digits_tuned_outcomes,
    method_rates,
    nesterov_contraction_rates,
    nesterov_faster_from,
    nesterov_stable_limit,
    predicted_rate_curves,
    run_digits_comparison,
    run_ill_conditioned,
    run_lookahead_match,
    run_ravine_comparison,
    sgd_step_batched,
    tuned_lr_index,
    tuned_rates,
)
from optimlab.optimizers.momentum import per_model, sgd_momentum_step
from optimlab.optimizers.nesterov import lookahead_point, nesterov_lookahead_step, nesterov_step

F64 = torch.float64


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """The stacks are small: one thread is faster than two contending for them (`optimlab.device.one_thread`)."""
    with one_thread():
        yield


@pytest.fixture(scope="module")
def by_momentum():
    return run_ravine_comparison(RATE_BY_MOMENTUM)


@pytest.fixture(scope="module")
def by_lr():
    return run_ravine_comparison(RATE_BY_LR)


@pytest.fixture(scope="module")
def ill():
    return run_ill_conditioned(ILL_CONDITIONED)


@pytest.fixture(scope="module")
def digits():
    return run_digits_comparison(DIGITS_COMPARISON)


# --- The batched step and the runs against torch.optim.SGD -----------------------------------------


def test_batched_step_equals_the_plain_step_of_each_model():
    settings = [(0.9, 0.05, True), (0.9, 0.05, False), (0.0, 0.1, True), (0.0, 0.1, False), (0.5, 0.02, True)]
    generator = torch.Generator().manual_seed(0)
    w = torch.randn(len(settings), 3, 4, generator=generator, dtype=F64)
    momentum, lr, nesterov = (per_model(tuple(float(s[i]) for s in settings), w) for i in range(3))
    batched, batched_buf = w, None
    plain = [(w[m], None) for m in range(len(settings))]
    for _ in range(6):
        grad = torch.randn(w.shape, generator=generator, dtype=F64)
        batched, batched_buf = sgd_step_batched(batched, grad, batched_buf, lr, momentum, nesterov.bool())
        plain = [
            sgd_momentum_step(p, grad[m], b, lr=s[1], momentum=s[0], nesterov=s[2])
            for m, ((p, b), s) in enumerate(zip(plain, settings))
        ]
        for m in range(len(settings)):
            torch.testing.assert_close(batched[m], plain[m][0], rtol=1e-13, atol=1e-13)


def _ravine_path_with_torch_sgd(momentum: float, lr: float, nesterov: bool, steps: int) -> torch.Tensor:
    w = torch.tensor(RAVINE.start, dtype=F64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum, nesterov=nesterov)
    curvatures = torch.tensor(RAVINE.curvatures, dtype=F64)
    path = [w.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * (curvatures * w**2).sum()).backward()
        optimizer.step()
        path.append(w.detach().clone())
    return torch.stack(path)


def test_ravine_comparison_matches_torch_sgd_one_model_at_a_time():
    config = RavineComparisonConfig(momentums=(0.5, 0.9), lrs=(0.025, 0.03), steps=40)
    result = run_ravine_comparison(config)
    assert result.trajectories.shape == (2, 2, 41, 2)
    for (method, nesterov), (k, (momentum, lr)) in itertools.product(
        enumerate((False, True)), enumerate(zip(config.momentums, config.lrs))
    ):
        expected = _ravine_path_with_torch_sgd(momentum, lr, nesterov, config.steps)
        torch.testing.assert_close(result.trajectories[method, k], expected, rtol=1e-12, atol=1e-12)


def test_digits_comparison_matches_torch_sgd_nesterov_on_one_model():
    config = dataclasses.replace(DIGITS_COMPARISON, steps=15, seeds=(1,), dtype=F64)
    result = run_digits_comparison(config)
    digits = load_digits(dtype=F64, device="cpu")
    w1, b1, w2, b2 = (
        p[0] for p in init_stacked_mlp((64, config.hidden, 10), 1, seed=1, dtype=F64, device=torch.device("cpu"))
    )
    model = torch.nn.Sequential(torch.nn.Linear(64, config.hidden), torch.nn.ReLU(), torch.nn.Linear(config.hidden, 10))
    model = model.to(F64)
    with torch.no_grad():
        for layer, weight, bias in ((model[0], w1, b1), (model[2], w2, b2)):
            layer.weight.copy_(weight.T)
            layer.bias.copy_(bias[0])
    lr_index = 1
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lrs[lr_index], momentum=config.momentum, nesterov=True)
    losses = []
    for batch in minibatch_order(len(digits.train.y), config.batch_size, config.steps, seed=1):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(digits.train.x[batch]), digits.train.y[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    losses.append(torch.nn.functional.cross_entropy(model(digits.train.x), digits.train.y).item())
    torch.testing.assert_close(result.train_loss[0, 1, lr_index], torch.tensor(losses, dtype=F64))


# --- Theory -----------------------------------------------------------------------------------------


def test_nesterov_rates_are_the_largest_root_moduli_of_the_characteristic_polynomial():
    generator = np.random.default_rng(0)
    for lr, momentum in zip(generator.uniform(0.001, 0.1, 20), generator.uniform(0, 0.99, 20)):
        expected = 0.0
        for h in RAVINE.curvatures:
            shrink = 1 - lr * h
            expected = max(expected, np.abs(np.roots([1, -(1 + momentum) * shrink, momentum * shrink])).max())
        got = nesterov_contraction_rates(float(lr), torch.tensor([momentum], dtype=F64), RAVINE.curvatures)
        assert got.item() == pytest.approx(expected, rel=1e-9)


def test_method_rates_of_heavy_ball_are_chapter_4s():
    momentums = torch.linspace(0, 0.95, 20, dtype=F64)
    got = method_rates(torch.full_like(momentums, 0.05), momentums, RAVINE.curvatures, nesterov=False)
    torch.testing.assert_close(got, contraction_rates(0.05, momentums, RAVINE.curvatures))


@pytest.mark.parametrize("nesterov_form", ["lecture", "pytorch"])
def test_one_direction_obeys_nesterovs_recurrence(nesterov_form):
    lr, momentum, h = 0.03, 0.8, 5.0
    w, delta_w, buf = torch.tensor([1.0], dtype=F64), torch.zeros(1, dtype=F64), None
    path = [w]
    for _ in range(30):
        if nesterov_form == "lecture":
            w, delta_w = nesterov_lookahead_step(w, lambda x: h * x, delta_w, lr, momentum)
        else:
            w, buf = nesterov_step(w, h * w, buf, lr, momentum)
        path.append(w)
    for t in range(1, 30):
        expected = (1 + momentum) * (1 - lr * h) * path[t] - momentum * (1 - lr * h) * path[t - 1]
        torch.testing.assert_close(path[t + 1], expected, rtol=1e-12, atol=1e-15)


def test_stable_limit_is_where_the_largest_root_reaches_one():
    for momentum in (0.0, 0.3, 0.9, 0.99):
        limit = nesterov_stable_limit(momentum)
        assert limit <= 2.0
        mu = torch.tensor([momentum], dtype=F64)
        assert nesterov_contraction_rates(limit, mu, (1.0,)).item() == pytest.approx(1.0, abs=1e-9)
        assert nesterov_contraction_rates(limit - 1e-3, mu, (1.0,)).item() < 1
        assert nesterov_contraction_rates(limit + 1e-3, mu, (1.0,)).item() > 1
    # Chapter 4's eta h_2 = 1.9 is the limit at mu = 1/18; the limit falls as mu grows.
    assert nesterov_stable_limit(1 / 18) == pytest.approx(1.9)
    assert nesterov_stable_limit(0.9) < nesterov_stable_limit(0.5) < nesterov_stable_limit(0.0) == 2.0


def test_tuned_rates_are_the_best_over_a_grid_of_lr_and_momentum():
    tuned = tuned_rates(RAVINE.curvatures)
    lrs = torch.linspace(0.002, 0.1, 491, dtype=F64)
    momentums = torch.linspace(0, 0.99, 991, dtype=F64)
    for nesterov, (rate, lr, momentum) in (
        (False, (tuned.heavy_ball_rate, tuned.heavy_ball_lr, tuned.heavy_ball_momentum)),
        (True, (tuned.nesterov_rate, tuned.nesterov_lr, tuned.nesterov_momentum)),
    ):
        one = dict(dtype=F64)
        at_tuned = method_rates(
            torch.tensor([lr], **one), torch.tensor([momentum], **one), RAVINE.curvatures, nesterov=nesterov
        )
        assert at_tuned.item() == pytest.approx(rate, abs=1e-6)
        rates = nesterov_contraction_rates if nesterov else contraction_rates
        best = min(rates(float(lr_k), momentums, RAVINE.curvatures).min().item() for lr_k in lrs)
        assert rate - 1e-9 <= best <= rate + 2e-3
    # On a quadratic, tuned heavy ball beats tuned Nesterov; both beat plain gradient descent.
    assert tuned.heavy_ball_rate < tuned.nesterov_rate < (19 - 1) / (19 + 1)


# --- The chapter's claims on its runs ---------------------------------------------------------------


def test_theory_predicts_the_measured_rates(by_momentum, by_lr):
    for result in (by_momentum, by_lr):
        converging = result.predicted < 1
        assert (result.predicted - result.measured).abs()[converging].max() < 0.02
        assert (result.measured[~converging] >= 0.999).all()


def test_at_the_rate_lr_nesterov_is_faster_above_the_crossover_and_ties_at_the_best_momentum(by_momentum):
    curve = torch.linspace(0, 0.96, 193, dtype=F64)
    curves = predicted_rate_curves(torch.full_like(curve, RATE_LR), curve, RAVINE.curvatures)
    crossover = nesterov_faster_from(curve, curves)
    assert 0.6 < crossover < 0.7
    below = curve < crossover
    assert (curves[0, below] <= curves[1, below] + 1e-12).all()
    assert (curves[1, ~below] < curves[0, ~below]).all()
    assert abs(curves[0].min() - curves[1].min()) < 0.005  # the two tie at their best momentum
    # ... exactly, at the closed forms: a double root 1 - sqrt(eta h_1) for both methods.
    best = best_momentums_at_lr(RATE_LR, RAVINE.curvatures)
    for nesterov, momentum in ((False, best[0]), (True, best[1])):
        at_best = method_rates(
            torch.tensor([RATE_LR], dtype=F64),
            torch.tensor([momentum], dtype=F64),
            RAVINE.curvatures,
            nesterov=nesterov,
        )
        assert at_best.item() == pytest.approx(best[2], abs=1e-6)
        assert best[2] <= curves[int(nesterov)].min() + 1e-9
        assert abs(curve[curves[int(nesterov)].argmin()] - momentum) < 0.01
    # Above the crossover the gap grows with mu.
    gap = (curves[0] - curves[1])[~below]
    assert (gap[1:] > gap[:-1]).all()
    # The runs agree: above the crossover, Nesterov measured faster too.
    above = by_momentum.momentums > crossover
    assert (by_momentum.measured[1, above] < by_momentum.measured[0, above]).all()


def test_at_momentum_09_nesterov_tuned_beats_heavy_ball_tuned_just_under_its_limit(by_lr):
    heavy_ball, nesterov = by_lr.predicted
    below_heavy_ball_limit = by_lr.lrs < 0.1 - 1e-12
    torch.testing.assert_close(
        heavy_ball[below_heavy_ball_limit], torch.full_like(heavy_ball[below_heavy_ball_limit], 0.9**0.5)
    )
    assert nesterov.min() < heavy_ball.min()
    limit_lr = nesterov_stable_limit(RATE_MOMENTUM) / max(RAVINE.curvatures)
    best_lr = by_lr.lrs[nesterov.argmin()].item()
    assert best_lr < limit_lr < best_lr + 0.01
    assert (nesterov[by_lr.lrs > limit_lr] > 1).all() and (by_lr.measured[1, by_lr.lrs > limit_lr] > 1).all()
    assert (by_lr.measured[0, below_heavy_ball_limit] < 1).all()


def test_at_eta_h_1_a_direction_is_gone_after_one_lecture_step_and_two_pytorch_steps():
    lr, momentum, h = 0.1, 0.9, 10.0
    w, delta_w = torch.tensor([1.0], dtype=F64), torch.zeros(1, dtype=F64)
    w, delta_w = nesterov_lookahead_step(w, lambda x: h * x, delta_w, lr, momentum)
    assert w.abs().item() < 1e-15
    u, buf = torch.tensor([1.0], dtype=F64), None
    u, buf = nesterov_step(u, h * u, buf, lr, momentum)
    assert u.abs().item() > 0.5
    u, buf = nesterov_step(u, h * u, buf, lr, momentum)
    assert u.abs().item() < 1e-15


def test_nesterov_brakes_the_steep_direction_within_a_few_steps(by_momentum):
    index = RATE_BY_MOMENTUM.momentums.index(RATE_MOMENTUM)
    steep = by_momentum.trajectories[:, index, 10, 1].abs()
    assert steep[1] < 1e-4 < 1e-2 < steep[0]


def test_chapter_4s_learning_rate_makes_nesterov_diverge():
    result = run_ravine_comparison(CHAPTER4_LR)
    distances = result.trajectories[:, :, -1].norm(dim=-1)
    mu_05 = CHAPTER4_LR.momentums.index(0.5)
    assert distances[0, mu_05] < 1e-5 and distances[1, mu_05] > 1e3
    assert result.predicted[1, mu_05] > 1 > result.predicted[0, mu_05]


def test_lookahead_points_are_pytorchs_parameters_with_weight_decay():
    match = run_lookahead_match(LOOKAHEAD_MATCH)
    assert LOOKAHEAD_MATCH.weight_decay > 0
    assert match.ours_vs_torch < 1e-12
    assert match.lookahead_vs_torch < 1e-12
    assert match.lecture_vs_torch_state < 1e-12
    assert match.lecture_vs_torch > 0.1  # the lecture's weights themselves are another sequence


def test_a_changing_learning_rate_breaks_the_correspondence():
    w, delta_w, u, buf = torch.ones(2, dtype=F64), torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), None
    for t in range(10):
        lr = 0.1 if t < 5 else 0.01
        w, delta_w = nesterov_lookahead_step(w, lambda x: x, delta_w, lr, 0.9)
        u, buf = nesterov_step(u, u, buf, lr, 0.9)
    assert (lookahead_point(w, delta_w, 0.9) - u).abs().max() > 1e-3


def test_ill_conditioned_tuned_rates_are_inside_the_grid_and_nesterov_wins_every_seed(ill):
    n_lrs = len(ILL_CONDITIONED.lrs)
    assert ((0 < ill.tuned) & (ill.tuned < n_lrs - 1)).all()
    final = torch.stack([ill.losses[:, m, ill.tuned[m], -1] for m in range(2)], dim=1)
    ratio = (final[:, 0] / final[:, 1]).min()
    seed_spread = (final.max(dim=0).values / final.min(dim=0).values).max()
    assert ratio > 10 * seed_spread
    # The slowest rates alone account for only part of the gap (the chapter says so).
    momentum = torch.tensor([ILL_CONDITIONED.momentum], dtype=F64)
    slowest = [
        method_rates(ill.lrs[ill.tuned[m]].reshape(1), momentum, tuple(ill.curvatures[0].tolist()), nesterov=bool(m))
        for m in range(2)
    ]
    assert 1 < (slowest[0] / slowest[1]).item() ** (2 * ILL_CONDITIONED.steps) < ratio / 5
    for m in range(2):
        lr = ill.lrs[ill.tuned[m]].reshape(1)
        for seed in range(len(ILL_CONDITIONED.seeds)):
            momentum = torch.tensor([ILL_CONDITIONED.momentum], dtype=F64)
            curvatures = tuple(ill.curvatures[seed].tolist())
            predicted = method_rates(lr, momentum, curvatures, nesterov=bool(m))
            measured = measured_rates(ill.distances[seed : seed + 1, m, ill.tuned[m], :, None])
            assert abs(predicted.item() - measured.item()) < 0.01
            # Heavy ball spirals at sqrt(mu) everywhere; Nesterov's slowest direction is the gentlest, h = 1.
            mu = ILL_CONDITIONED.momentum
            expected = (mu * (1 - lr.item())) ** 0.5 if m == 1 else mu**0.5
            assert predicted.item() == pytest.approx(expected, rel=1e-9)


def test_digits_methods_differ_by_less_than_the_seeds_at_their_tuned_rates(digits):
    assert ((0 < digits.tuned) & (digits.tuned < len(DIGITS_COMPARISON.lrs) - 1)).all()
    outcome = digits_tuned_outcomes(digits)
    assert outcome.loss_gap < outcome.loss_seeds
    assert outcome.accuracy_gap < outcome.accuracy_seeds
    assert 80 < outcome.accuracy_low <= outcome.accuracy_high <= 100


def test_tuned_lr_index_counts_divergence_as_worst():
    final = torch.tensor([[[1.0, float("nan"), 0.5]], [[1.0, 0.1, float("inf")]]])  # (seeds, 1 method, lrs)
    assert tuned_lr_index(final).tolist() == [0]
