"""Chapter 8's experiments: each formula against torch.optim, each prediction against its measurement, and the
claims the chapter makes about its runs on exactly those runs."""

import dataclasses

import pytest
import torch

from optimlab.data import load_digits
from optimlab.experiments.adam import (
    ADAM_TORCH_MATCH,
    AMSGRAD,
    DECAY,
    DIGITS_COMPARISON,
    FIRST_STEPS,
    RAVINE,
    DecayConfig,
    amsgrad_gradients,
    predicted_amsgrad,
    predicted_decay,
    predicted_step_over_lr,
    run_adam_torch_match,
    run_amsgrad,
    run_decay,
    run_digits_comparison,
    run_first_steps,
    run_ravine,
)
from optimlab.experiments.batched_mlp import (
    init_stacked_mlp,
    minibatch_order,
    stacked_cross_entropy,
    stacked_mlp_logits,
)

CORRECTED, UNCORRECTED, SWAPPED = range(3)


def _torch_steps(grads: torch.Tensor, **options) -> torch.Tensor:
    """|w_t - w_{t-1}| / lr of torch.optim.Adam on one float64 weight fed ``grads`` one by one."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], **options)
    sizes = []
    for grad in grads:
        before = w.detach().clone()
        w.grad = grad.reshape(1).clone()
        optimizer.step()
        sizes.append((w.detach() - before).abs()[0] / options["lr"])
    return torch.stack(sizes)


# --- which beta is which, and the defaults ------------------------------------------------------


def test_betas_first_entry_decays_the_gradient_average_second_the_squared_one():
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.001, betas=(0.9, 0.999))
    w.grad = torch.full((1,), 2.0, dtype=torch.float64)
    optimizer.step()
    state = optimizer.state[w]
    assert state["exp_avg"].item() == pytest.approx(0.1 * 2.0, rel=1e-12)
    assert state["exp_avg_sq"].item() == pytest.approx(0.001 * 4.0, rel=1e-12)


def test_adam_defaults_are_the_ones_the_chapter_states():
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(torch.optim.Adam).parameters.items()}
    assert defaults["lr"] == 0.001 and defaults["betas"] == (0.9, 0.999)
    assert defaults["eps"] == 1e-8 and defaults["weight_decay"] == 0 and defaults["amsgrad"] is False


# --- bias correction: the first steps -----------------------------------------------------------


def test_first_steps_match_their_closed_form_for_every_gradient_size():
    result = run_first_steps(FIRST_STEPS)
    for index, variant in enumerate(FIRST_STEPS.variants):
        for coordinate, grad in enumerate(FIRST_STEPS.grads):
            predicted = predicted_step_over_lr(
                result.steps, variant.betas, variant.bias_correction, grad=grad, eps=FIRST_STEPS.eps
            )
            torch.testing.assert_close(result.step_over_lr[index, :, coordinate], predicted, rtol=1e-9, atol=1e-12)


def test_corrected_first_steps_are_torch_optim_adams():
    steps = 300
    grads = torch.ones(steps, dtype=torch.float64)
    theirs = _torch_steps(grads, lr=FIRST_STEPS.lr)
    ours = run_first_steps(dataclasses.replace(FIRST_STEPS, steps=steps)).step_over_lr[CORRECTED, :, 1]
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    # every corrected step is the learning rate, up to eps
    torch.testing.assert_close(theirs, torch.ones_like(theirs), rtol=1e-7, atol=0)


def test_uncorrected_steps_are_too_large_for_hundreds_of_steps_and_swapped_ones_too_small():
    steps = torch.arange(1, FIRST_STEPS.steps + 1, dtype=torch.float64)
    uncorrected = predicted_step_over_lr(steps, (0.9, 0.999), False)
    swapped = predicted_step_over_lr(steps, (0.999, 0.9), False)
    assert uncorrected[0].item() == pytest.approx(0.1 / 0.001**0.5, rel=1e-6)  # 3.16
    assert uncorrected[0] > 3
    peak = uncorrected.argmax().item()
    assert peak + 1 == 12 and 6.5 < uncorrected[peak] < 6.6
    first_within_10_percent = int(((uncorrected - 1).abs() < 0.1).nonzero()[0].item()) + 1
    assert first_within_10_percent > 1000  # "from step ... on": and it stays within from there
    assert ((uncorrected[first_within_10_percent - 1 :] - 1).abs() < 0.1).all()
    assert swapped[0] < 0.004 and swapped[-1] < 1
    # the swapped steps grow monotonically: they are too small all along, not just at first
    assert (swapped.diff() > 0).all()


# --- weight decay: L2 against decoupled -----------------------------------------------------------


def test_decay_runs_are_torch_optim_adam_and_adamw_on_the_same_noise():
    config = DecayConfig(noise_scales=(0.0, 1.0), steps=60, coordinates=8)
    result = run_decay(config)
    for name, optimizer_class in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        generator = torch.Generator().manual_seed(config.seed)
        sigma = torch.tensor(config.noise_scales, dtype=torch.float64)[:, None]
        w = torch.full((2, config.coordinates), config.start, dtype=torch.float64, requires_grad=True)
        optimizer = optimizer_class([w], lr=config.lr, weight_decay=config.weight_decay)
        means = [w.detach().mean(dim=1)]
        for _ in range(config.steps):
            w.grad = sigma * torch.randn(w.shape, generator=generator, dtype=torch.float64)
            optimizer.step()
            means.append(w.detach().mean(dim=1))
        torch.testing.assert_close(getattr(result, name), torch.stack(means, dim=1), rtol=1e-10, atol=1e-12)


def test_decay_prediction_holds_and_adams_decay_depends_on_the_noise_while_adamws_does_not():
    result = run_decay(DECAY)
    predicted_adam, predicted_adamw = predicted_decay(DECAY)
    assert (result.adam - predicted_adam).abs().max() < 0.02
    assert (result.adamw - predicted_adamw).abs().max() < 0.02
    scales = list(DECAY.noise_scales)
    final_adam, final_adamw = result.adam[:, -1], result.adamw[:, -1]
    expected_adamw = (1 - DECAY.lr * DECAY.weight_decay) ** DECAY.steps
    assert (final_adamw - expected_adamw).abs().max() < 0.02  # whatever sigma
    assert (final_adamw.max() - final_adamw.min()) < 0.02
    # no noise: a sign step, gone (below 0.01) within about start / lr steps
    gone_at = int((result.adam[scales.index(0.0)] < 0.01).nonzero()[0].item())
    assert gone_at < 2.5 * DECAY.start / DECAY.lr
    # sigma = 1 decays like AdamW; sigma = 10 hardly at all
    assert abs(final_adam[scales.index(1.0)] - final_adamw[scales.index(1.0)]) < 0.02
    assert final_adam[scales.index(10.0)] > 0.85 > final_adamw.max() + 0.4


def test_adam_with_decoupled_weight_decay_is_adamw():
    generator = torch.Generator().manual_seed(3)
    start = torch.randn(6, generator=generator, dtype=torch.float64)
    grads = torch.randn(30, 6, generator=generator, dtype=torch.float64)
    paths = []
    for optimizer_class, options in ((torch.optim.AdamW, {}), (torch.optim.Adam, {"decoupled_weight_decay": True})):
        w = start.clone().requires_grad_()
        optimizer = optimizer_class([w], lr=0.05, weight_decay=0.3, **options)
        for grad in grads:
            w.grad = grad.clone()
            optimizer.step()
        paths.append(w.detach())
    torch.testing.assert_close(paths[0], paths[1], rtol=0, atol=0)


def test_zero_gradient_first_step_adam_takes_lr_adamw_takes_lr_lambda_w():
    steps = {}
    for optimizer_class in (torch.optim.Adam, torch.optim.AdamW):
        w = torch.ones(1, dtype=torch.float64, requires_grad=True)
        optimizer = optimizer_class([w], lr=0.1, weight_decay=0.1)
        w.grad = torch.zeros(1, dtype=torch.float64)
        optimizer.step()
        steps[optimizer_class] = 1 - w.item()
    assert steps[torch.optim.Adam] == pytest.approx(0.1, rel=1e-6)
    assert steps[torch.optim.AdamW] == pytest.approx(0.01, rel=1e-12)


# --- AMSGrad ------------------------------------------------------------------------------------


def test_amsgrad_steps_match_their_closed_form_and_torch_optim_adam():
    result = run_amsgrad(AMSGRAD)
    predicted_adam, predicted_ams = predicted_amsgrad(AMSGRAD)
    torch.testing.assert_close(result.adam, predicted_adam, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(result.amsgrad, predicted_ams, rtol=1e-9, atol=1e-12)
    grads = amsgrad_gradients(AMSGRAD)[:400]
    for amsgrad, ours in ((False, result.adam), (True, result.amsgrad)):
        theirs = _torch_steps(grads, lr=AMSGRAD.lr, betas=AMSGRAD.betas, amsgrad=amsgrad)
        torch.testing.assert_close(ours[:400], theirs, rtol=1e-9, atol=1e-12)


def test_amsgrad_keeps_its_steps_smaller_after_the_drop():
    result = run_amsgrad(AMSGRAD)
    after = slice(AMSGRAD.drop_at, None)
    assert (result.amsgrad[after] <= result.adam[after] + 1e-12).all()
    assert result.adam[-1] > 0.5 and result.amsgrad[-1] < 0.35
    # both shrink right after the drop, within about ten steps
    assert result.adam[AMSGRAD.drop_at + 10] < 0.5 and result.amsgrad[AMSGRAD.drop_at + 10] < 0.5


# --- from scratch, and the ravine the explorers draw ---------------------------------------------


def test_adam_step_matches_torch_optim_adam_in_float64():
    assert run_adam_torch_match(ADAM_TORCH_MATCH) < 1e-12


@pytest.mark.parametrize("bias_correction", [True, False])
def test_ravine_path_is_torch_optim_adams_or_the_uncorrected_form(bias_correction):
    config = dataclasses.replace(RAVINE, steps=30, bias_correction=bias_correction, betas=(0.8, 0.99))
    path = run_ravine(config)
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64)
    if bias_correction:
        w = torch.tensor(config.start, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.Adam([w], lr=config.lr, betas=config.betas)
        expected = [w.detach().clone()]
        for _ in range(config.steps):
            w.grad = curvatures * w.detach()
            optimizer.step()
            expected.append(w.detach().clone())
        torch.testing.assert_close(path, torch.stack(expected), rtol=1e-10, atol=1e-12)
    else:
        # the notes' form: raw averages, written out here independently
        w, m, v = torch.tensor(config.start, dtype=torch.float64), 0.0, 0.0
        beta1, beta2 = config.betas
        for t in range(1, config.steps + 1):
            g = curvatures * w
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            w = w - config.lr * m / (v**0.5 + 1e-8)
            torch.testing.assert_close(path[t], w, rtol=1e-10, atol=1e-12)


# --- the digits: Adam's defaults against tuned SGD with momentum ----------------------------------


def _train_one_with_torch(config, seed: int, optimizer_class, lr: float, **options) -> torch.Tensor:
    """Batch losses of one stacked-MLP model trained by a torch.optim optimizer on the comparison's minibatches."""
    digits = load_digits(dtype=config.dtype, device="cpu")
    params = [
        p.requires_grad_()
        for p in init_stacked_mlp((64, config.hidden, 10), 1, seed=seed, dtype=config.dtype, device=torch.device("cpu"))
    ]
    optimizer = optimizer_class(params, lr=lr, **options)
    losses = []
    for batch in minibatch_order(len(digits.train.y), config.batch_size, config.steps, seed=seed):
        optimizer.zero_grad()
        loss = stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x[batch]), digits.train.y[batch])
        loss.sum().backward()
        optimizer.step()
        losses.append(loss.detach()[0])
    return torch.stack(losses)


def test_digits_stack_trains_each_model_as_torch_optim_would():
    config = dataclasses.replace(DIGITS_COMPARISON, steps=20, seeds=(0, 1), sgd_lrs=(0.03,), adam_lrs=(1e-2,))
    result = run_digits_comparison(config)
    assert result.sgd_train_loss.shape == (2, 1, 21) and result.adam_train_loss.shape == (2, 1, 21)
    for seed_index, seed in enumerate(config.seeds):
        sgd = _train_one_with_torch(config, seed, torch.optim.SGD, 0.03, momentum=config.momentum)
        torch.testing.assert_close(result.sgd_train_loss[seed_index, 0, :-1], sgd, rtol=1e-4, atol=1e-5)
        for index, lr in enumerate(config.adam_lrs):
            adam = _train_one_with_torch(config, seed, torch.optim.Adam, lr)
            torch.testing.assert_close(result.adam_train_loss[seed_index, index, :-1], adam, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def comparison():
    return run_digits_comparison(DIGITS_COMPARISON)


def test_digits_claims_adam_default_is_solid_but_not_the_best(comparison):
    final_sgd = comparison.sgd_train_loss[:, :, -1]
    final_adam = comparison.adam_train_loss[:, :, -1]
    tuned = final_sgd.mean(dim=0).argmin().item()
    default = DIGITS_COMPARISON.adam_lrs.index(0.001)
    best = final_adam.mean(dim=0).argmin().item()
    assert len(DIGITS_COMPARISON.seeds) >= 3
    sgd_accuracy = comparison.sgd_test_accuracy[:, tuned]
    default_accuracy = comparison.adam_test_accuracy[:, default]
    best_accuracy = comparison.adam_test_accuracy[:, best]
    # the seeds' ranges overlap, and the default's mean is below tuned SGD's
    assert default_accuracy.max() >= sgd_accuracy.min() and sgd_accuracy.max() >= default_accuracy.min()
    assert default_accuracy.mean() < sgd_accuracy.mean()
    # Adam's default trains more slowly on every seed
    assert (final_adam[:, default] > final_sgd[:, tuned]).all()
    # tuned, Adam is as good: its best rate is above the default, loss close to SGD's, accuracy no less
    assert DIGITS_COMPARISON.adam_lrs[best] > 0.001
    assert final_adam[:, best].mean() < 2 * final_sgd[:, tuned].mean()
    assert best_accuracy.mean() >= sgd_accuracy.mean()
    # the learning rate matters for either: a factor of ten in final training loss across each grid
    for final in (final_sgd, final_adam):
        means = final.mean(dim=0)
        assert means.max() > 10 * means.min()


def test_sgd_grid_stops_below_an_unstable_rate():
    config = dataclasses.replace(DIGITS_COMPARISON, sgd_lrs=(0.2,), adam_lrs=(1e-3,), steps=100)
    result = run_digits_comparison(config)
    final = result.sgd_train_loss[:, 0, -1]
    first = result.sgd_train_loss[:, 0, 0]
    assert (~torch.isfinite(final) | (final > first)).all()


# --- the explorers draw these experiments --------------------------------------------------------


def test_live_explorer_redraws_the_ravine_and_step_sizes_of_its_controls():
    from optimlab.widgets.adam import SIZE_STEPS, AdamExplorer

    explorer = AdamExplorer()
    explorer.beta1.value = 0.5
    explorer.bias_correction.value = False
    path = explorer.panel.path_line.get_xydata()
    expected = run_ravine(dataclasses.replace(RAVINE, betas=(0.5, 0.999), bias_correction=False))
    torch.testing.assert_close(torch.tensor(path), expected)
    sizes = explorer.panel.size_line.get_xydata()[:, 1]
    torch.testing.assert_close(torch.tensor(sizes), predicted_step_over_lr(SIZE_STEPS, (0.5, 0.999), False))
    assert len(explorer.output.outputs) == 1


def test_static_explorable_has_one_frame_per_setting():
    from optimlab.widgets.adam import EXPLORABLE_SETTINGS, adam_explorable

    html = adam_explorable(EXPLORABLE_SETTINGS[:2]).data
    assert '<div class="explorable">' in html and 'type="range"' in html
    assert 'max="1"' in html  # two frames: the slider runs 0..1
