"""Chapter 7's experiments: every formula against torch.optim.RMSprop, the batched runs against one model at a
time with torch.optim, and the claims the chapter makes about its runs on those runs."""

import dataclasses
import inspect

import pytest
import torch

from optimlab.experiments.batched_mlp import init_stacked_mlp, minibatch_order
from optimlab.experiments.rmsprop import (
    LAYER_SCALES,
    LAYER_SCALES_PLAIN,
    LAYER_SCALES_SEEDS,
    RAVINE,
    SCALED_QUADRATIC,
    TORCH_OPTIONS,
    LayerScalesConfig,
    ScaledQuadraticConfig,
    TorchMatchConfig,
    constant_gradient_steps,
    run_layer_scales,
    run_scaled_quadratic,
    run_torch_match,
    teacher_classes,
    tuned_indices,
)
from optimlab.optimizers import rmsprop_init, rmsprop_update


@pytest.fixture(scope="module")
def networks():
    return {
        "scaled": run_layer_scales(LAYER_SCALES, LAYER_SCALES_SEEDS),
        "plain": run_layer_scales(LAYER_SCALES_PLAIN, LAYER_SCALES_SEEDS),
    }


@pytest.mark.parametrize("name", list(TORCH_OPTIONS))
def test_every_option_matches_torch_rmsprop(name):
    assert run_torch_match(TorchMatchConfig(options=TORCH_OPTIONS[name])) < 1e-12


@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.05}, {"alpha": 0.9, "eps": 1e-3}])
def test_the_chapters_box_matches_torch_rmsprop(options):
    assert run_torch_match(TorchMatchConfig(options=options), plain_step=True) < 1e-12


def test_pytorch_defaults_are_the_ones_the_chapter_states():
    parameters = inspect.signature(torch.optim.RMSprop).parameters
    defaults = {name: parameters[name].default for name in ("lr", "alpha", "eps", "weight_decay", "momentum")}
    assert defaults == {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0, "momentum": 0}
    assert parameters["centered"].default is False


def test_pytorch_adds_eps_outside_the_square_root():
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.RMSprop([w], lr=1.0, alpha=0.99, eps=0.1)
    g = torch.tensor([0.01], dtype=torch.float64)
    w.grad = g.clone()
    optimizer.step()
    v = optimizer.state[w]["square_avg"]
    torch.testing.assert_close(v, 0.01 * g**2)
    torch.testing.assert_close(-w.detach(), g / (v.sqrt() + 0.1))
    assert (-w.detach() - g / (v + 0.1).sqrt()).abs().item() > 0.05


def test_centered_takes_larger_steps_on_a_steady_gradient():
    w, g = torch.zeros(3, dtype=torch.float64), torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    plain, centered = rmsprop_init(w), rmsprop_init(w, centered=True)
    w_plain = w_centered = w
    for _ in range(20):
        w_plain_next, plain = rmsprop_update(w_plain, g, plain, 0.01)
        w_centered_next, centered = rmsprop_update(w_centered, g, centered, 0.01, centered=True)
        assert ((w_centered_next - w_centered).abs() > (w_plain_next - w_plain).abs()).all()
        w_plain, w_centered = w_plain_next, w_centered_next


def test_scaled_quadratic_equals_torch_rmsprop_and_descent():
    config = dataclasses.replace(SCALED_QUADRATIC, alphas=(0.9, 0.99), steps=30)
    result = run_scaled_quadratic(config)
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64)
    for index, alpha in enumerate(config.alphas):
        w = torch.full_like(curvatures, config.start).requires_grad_()
        optimizer = torch.optim.RMSprop([w], lr=config.lr, alpha=alpha, eps=config.eps)
        for step in range(config.steps):
            before = w.detach().clone()
            w.grad = curvatures * before
            optimizer.step()
            torch.testing.assert_close(result.steps[index, step], (w.detach() - before).abs(), rtol=1e-9, atol=0)
            expected_lr = config.lr / (optimizer.state[w]["square_avg"].sqrt() + config.eps)
            torch.testing.assert_close(result.effective_lrs[index, step], expected_lr)
    torch.testing.assert_close(result.sgd_steps[0], result.sgd_lr * curvatures * config.start)


def test_steps_follow_the_constant_gradient_prediction():
    result = run_scaled_quadratic(SCALED_QUADRATIC)
    lr, eps, steps = SCALED_QUADRATIC.lr, SCALED_QUADRATIC.eps, SCALED_QUADRATIC.steps
    predicted = constant_gradient_steps(lr, 0.99, eps, result.grads[0, 0], steps)
    assert ((result.steps[0] - predicted).abs() / predicted).max() < 0.01
    assert (1 - result.grads[0, -1] / result.grads[0, 0]).abs().max() < 0.02
    above = result.grads[0, 0] > 100 * eps
    first = result.steps[0, 0, above] / lr
    assert first.min() > 9.9 and first.max() <= 10.0  # eta / sqrt(1 - alpha)
    last = result.steps[0, -1, above] / lr
    torch.testing.assert_close(last, torch.full_like(last, (1 - 0.99**steps) ** -0.5), rtol=0.01, atol=0)
    tiny = result.steps[0, 0, 0]  # |g| = 1e-10, below eps: eta |g| / eps
    assert tiny.item() == pytest.approx(lr * 1e-10 / eps, rel=0.01)
    assert tiny > 1e5 * result.sgd_steps[0, 0]


def test_larger_alpha_takes_larger_first_steps_and_alpha_zero_takes_sign_steps():
    alphas = (0.0, 0.9, 0.99, 0.999)
    result = run_scaled_quadratic(dataclasses.replace(SCALED_QUADRATIC, alphas=alphas))
    above = result.grads[0, 0] > 1e4 * SCALED_QUADRATIC.eps  # eps negligible even against sqrt(1 - 0.999) |g|
    first = result.steps[:, 0, above] / SCALED_QUADRATIC.lr
    expected = torch.tensor([(1 - alpha) ** -0.5 for alpha in alphas], dtype=torch.float64).unsqueeze(1)
    torch.testing.assert_close(first, expected.expand_as(first), rtol=1e-3, atol=0)
    ravine = run_scaled_quadratic(dataclasses.replace(RAVINE, alphas=(0.0,)))
    moves = ravine.steps[0]
    torch.testing.assert_close(moves[:10, 0], moves[:10, 1])  # diagonal: both coordinates move by eta
    torch.testing.assert_close(moves[:10, 0], torch.full((10,), RAVINE.lr, dtype=torch.float64))
    end = ravine.trajectories[0, -10:]
    assert (end.norm(dim=-1) < 2 * RAVINE.lr).all()  # hopping around the minimum, at the scale of eta
    assert (end[1:, 1] * end[:-1, 1] < 0).any()


def _train_one_network_with_torch(config: LayerScalesConfig, seed: int, method: str, lr: float) -> torch.Tensor:
    data = teacher_classes(
        n_train=config.n_train,
        n_test=config.n_test,
        features=config.features,
        classes=config.classes,
        hidden=config.hidden,
        seed=config.data_seed,
        device=torch.device("cpu"),
    )
    sizes = (config.features, config.hidden, config.classes)
    w1, b1, w2, b2 = (p[0] for p in init_stacked_mlp(sizes, 1, seed=seed, dtype=torch.float32, device="cpu"))
    params = [(w1 / config.layer_scale).requires_grad_(), b1.requires_grad_(), w2.requires_grad_(), b2.requires_grad_()]
    optimizer = torch.optim.SGD(params, lr=lr) if method == "sgd" else torch.optim.RMSprop(params, lr=lr)
    losses = []
    for batch in minibatch_order(config.n_train, config.batch_size, config.steps, seed=seed):
        hidden = torch.relu(data.train.x[batch] @ (config.layer_scale * params[0]) + params[1])
        loss = torch.nn.functional.cross_entropy(hidden @ params[2] + params[3], data.train.y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return torch.stack(losses)


def test_layer_scales_stack_equals_torch_optim_one_model_at_a_time():
    config = dataclasses.replace(LAYER_SCALES, steps=15, sgd_lrs=(0.3, 1.0), rmsprop_lrs=(0.01, 0.03))
    result = run_layer_scales(config, (4, 7))
    for row, seed in enumerate((4, 7)):
        for method, lr in [("sgd", 1.0), ("rmsprop", 0.01)]:
            index = 1 if method == "sgd" else 2
            expected = _train_one_network_with_torch(config, seed, method, lr)
            torch.testing.assert_close(result.train_loss[row, index, :-1], expected, rtol=1e-4, atol=1e-5)


def test_rmsprop_beats_sgd_at_tuned_rates_and_loses_less_to_the_scaling(networks):
    final_losses = {}
    for name, result in networks.items():
        sgd, rms = tuned_indices(result)
        assert 0 < sgd < len(result.sgd_lrs) - 1 and 0 < rms < len(result.rmsprop_lrs) - 1  # inside the grids
        rms += len(result.sgd_lrs)
        final = result.train_loss[..., -1]
        assert (final[:, rms] < final[:, sgd]).all()
        final_losses[name] = (final[:, sgd].median(), final[:, rms].median())
        if name == "scaled":
            assert (result.test_accuracy[:, rms] > result.test_accuracy[:, sgd]).all()
    sgd_cost = final_losses["scaled"][0] / final_losses["plain"][0]
    rms_cost = final_losses["scaled"][1] / final_losses["plain"][1]
    assert sgd_cost > rms_cost > 1


def test_the_scaled_layer_sees_much_smaller_gradients(networks):
    scaled, plain = networks["scaled"].gradient_rms, networks["plain"].gradient_rms
    assert (scaled[:, 2] > 10 * scaled[:, 0]).all()
    torch.testing.assert_close(scaled[:, 0], LAYER_SCALES.layer_scale * plain[:, 0], rtol=1e-4, atol=0)


def test_scaled_quadratic_checks_its_config():
    with pytest.raises(ValueError, match="alpha"):
        run_scaled_quadratic(ScaledQuadraticConfig(alphas=()))


def test_live_explorer_redraws_the_run_of_the_new_slider_values():
    import numpy as np

    from optimlab.widgets.rmsprop import RMSpropExplorer

    explorer = RMSpropExplorer(alpha=0.99)
    explorer.alpha.value = 0.5
    explorer.lr_scale.value = 10.0
    expected = run_scaled_quadratic(dataclasses.replace(RAVINE, alphas=(0.5,), lr=RAVINE.lr * 10.0))
    np.testing.assert_allclose(explorer.panel.path_line.get_xydata(), expected.trajectories[0].numpy())
    steps = run_scaled_quadratic(dataclasses.replace(SCALED_QUADRATIC, alphas=(0.5,), lr=SCALED_QUADRATIC.lr * 10))
    np.testing.assert_allclose(explorer.panel.step_lines[-1].get_ydata(), steps.steps[0, :, -1].numpy())
    assert "α = 0.5" in explorer.panel.figure.get_suptitle() and len(explorer.output.outputs) == 1
