"""Chapter 2's experiments: theory against measurement on the noisy quadratic, the worked choice of k,
and the batch-size-instead-of-decay comparison, on exactly the runs the chapter shows."""

import math

import pytest
import torch

from optimlab.data import load_digits
from optimlab.device import default_device
from optimlab.experiments.batched_mlp import init_stacked_mlp
from optimlab.experiments.lr_decay import (
    BATCH_VS_DECAY,
    DECAY_PATHS,
    EPOCH_DECAY,
    SPREAD_SWEEP,
    NoisyQuadraticConfig,
    activation_bytes,
    choose_decay,
    epoch_batches,
    epoch_ends,
    expected_final_loss,
    expected_mean_square,
    measure_stationary_spread,
    plateau_epoch,
    quadratic_loss,
    run_batch_vs_decay,
    run_decay_paths,
    run_noisy_quadratic,
    stationary_variance,
    train_digits_schedules,
)


def test_measured_stationary_variance_matches_the_formula():
    spread = measure_stationary_spread(SPREAD_SWEEP)
    relative = (spread.measured - spread.predicted) / spread.predicted
    assert relative.abs().max() < 0.05
    # and it grows with the learning rate, as the chapter says
    assert (spread.measured.diff() > 0).all()


@pytest.mark.parametrize("lr", [0.1, 0.8, 1.5])
def test_mean_square_recurrence_settles_at_the_stationary_variance(lr):
    mean_square = expected_mean_square(torch.full((1, 2000), lr, dtype=torch.float64), (1.0,), 1.0, 3.0)
    assert mean_square[0, 0, -1].item() == pytest.approx(stationary_variance(lr, 1.0, 1.0), rel=1e-9)


def test_noisy_quadratic_step_is_sgd_on_the_noisy_gradient():
    """One chain, two steps, worked by hand with the same noise draws."""
    config = NoisyQuadraticConfig(schedules=((0.3, 0.2),), curvatures=(2.0,), noise=0.5, start=1.0, chains=1, seed=7)
    result = run_noisy_quadratic(config)
    device = default_device()  # the run draws its noise there, from a generator seeded as the config says
    generator = torch.Generator(device=device).manual_seed(7)
    w = 1.0
    for lr in (0.3, 0.2):
        xi = torch.randn(1, generator=generator, dtype=torch.float64, device=device).item()
        w = w - lr * (2.0 * w + 0.5 * xi)
    assert result.sample_paths[0, 0, -1].item() == pytest.approx(w, rel=1e-12)


def test_decay_paths_match_theory_and_decay_is_lowest():
    paths = run_decay_paths(DECAY_PATHS)
    assert ((paths.loss - paths.expected_loss) / paths.expected_loss).abs().max() < 0.15
    large, small, decayed = paths.loss[:, 50]
    assert decayed < large < small
    large_floor = 0.5 * DECAY_PATHS.curvature * stationary_variance(DECAY_PATHS.large_lr, 1.0, 1.0)
    assert large.item() == pytest.approx(large_floor, rel=0.1)  # the large rate is at its floor by step 50
    large, small, decayed = paths.loss[:, -1]
    assert decayed < small < large
    # "a small constant rate has a low floor but needs hundreds of steps to get down to it"
    small_floor = 0.5 * DECAY_PATHS.curvature * stationary_variance(DECAY_PATHS.small_lr, 1.0, 1.0)
    assert paths.loss[1, 50] > 100 * small_floor
    assert small.item() == pytest.approx(small_floor, rel=0.2)


@pytest.fixture(scope="module")
def chosen():
    return choose_decay(EPOCH_DECAY)


def test_chosen_k_halves_the_rate_once_per_plateau(chosen):
    assert chosen.k == pytest.approx(math.log(2) / chosen.plateau)
    constant = epoch_ends(chosen.result.loss[0], EPOCH_DECAY.steps_per_epoch)
    assert chosen.plateau == plateau_epoch(constant)
    expected = expected_mean_square(
        torch.tensor([EPOCH_DECAY.schedule(0.0)], dtype=torch.float64), (1.0, 0.1), 1.0, 5.0
    )
    assert chosen.plateau == plateau_epoch(epoch_ends(quadratic_loss(expected, (1.0, 0.1))[0], 10))
    assert len(constant) == EPOCH_DECAY.epochs + 1


def test_chosen_k_beats_no_decay_and_too_fast_decay_is_worse_than_none(chosen):
    none, slow, chosen_loss, fast = chosen.result.loss[:, -1].tolist()
    assert chosen_loss < none / 5
    assert slow < chosen_loss  # "a quarter of k does slightly better here"
    # too fast a decay leaves the gentle direction (the second coordinate) higher than no decay does
    gentle = chosen.result.mean_square[:, 1, -1]
    assert gentle[3] > 2 * gentle[0] and gentle[3] > 5 * gentle[2]
    # in expectation 4k ends a little worse than no decay; too little for every draw of runs to show it
    expected_none, expected_slow, expected_k, expected_fast = expected_final_loss(
        EPOCH_DECAY, torch.tensor(chosen.ks, dtype=torch.float64)
    ).tolist()
    assert expected_none < expected_fast < 1.1 * expected_none
    assert expected_slow < expected_k < expected_none / 5
    # theory: the best k lies between k/4 and k, and the runs match the theory's final losses
    grid = torch.logspace(-3, 0.5, 400, dtype=torch.float64)
    best_k = grid[expected_final_loss(EPOCH_DECAY, grid).argmin()].item()
    assert chosen.k / 4 < best_k < chosen.k
    expected = expected_final_loss(EPOCH_DECAY, torch.tensor(chosen.ks, dtype=torch.float64))
    assert ((chosen.result.loss[:, -1] - expected) / expected).abs().max() < 0.1


def test_stacked_digits_training_matches_torch_sgd_one_model():
    """Setting 1 of a two-setting stack, trained again alone by torch.optim.SGD on the same batches."""
    lrs = ((0.3, 0.3), (0.2, 0.05))
    batch_sizes = (256, 512)
    result = train_digits_schedules(lrs, batch_sizes, (4,), dtype=torch.float64)
    digits = load_digits(dtype=torch.float64, device="cpu")
    params = [
        p[0].clone().requires_grad_()
        for p in init_stacked_mlp((64, 32, 10), 1, seed=4, dtype=torch.float64, device=torch.device("cpu"))
    ]
    optimizer = torch.optim.SGD(params, lr=0.2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lrs[1][min(epoch, 1)] / 0.2)

    def loss_of(x, y):
        hidden = torch.relu(x @ params[0] + params[1])
        return torch.nn.functional.cross_entropy(hidden @ params[2] + params[3], y)

    for batches in epoch_batches(len(digits.train.y), batch_sizes, seed=4):
        for index in batches:
            optimizer.zero_grad()
            loss_of(digits.train.x[index], digits.train.y[index]).backward()
            optimizer.step()
        scheduler.step()
    with torch.no_grad():
        final = loss_of(digits.train.x, digits.train.y)
    assert result.train_loss[0, 1, -1].item() == pytest.approx(final.item(), rel=1e-9)
    assert result.updates == math.ceil(1347 / 256) + math.ceil(1347 / 512)


def test_activation_bytes_grow_affinely_with_the_batch():
    b64, b128, b256 = (activation_bytes(size) for size in (64, 128, 256))
    assert b256 - b64 == 3 * (b128 - b64) > 0
    assert 2 * b64 > b128  # a part that does not grow with the batch (the parameters saved for the backward pass)


@pytest.fixture(scope="module")
def bvd():
    return run_batch_vs_decay(BATCH_VS_DECAY)


def test_batch_vs_decay_is_a_fair_comparison(bvd):
    # Until the first milestone all three runs are the same run: same weights, batches and rate.
    first = BATCH_VS_DECAY.milestones[0]
    torch.testing.assert_close(bvd.train_loss[:, 1, : first + 1], bvd.train_loss[:, 0, : first + 1])
    torch.testing.assert_close(bvd.train_loss[:, 2, : first + 1], bvd.train_loss[:, 0, : first + 1])
    assert bvd.train_loss.shape == (len(BATCH_VS_DECAY.seeds), 3, BATCH_VS_DECAY.epochs + 1)


def test_growing_the_batch_tracks_decay_with_fewer_updates_and_more_memory(bvd):
    accuracy = 100 * bvd.test_accuracy
    seed_range = (accuracy.max(dim=0).values - accuracy.min(dim=0).values).max()
    assert (accuracy[:, 1] - accuracy[:, 2]).abs().max() <= seed_range  # no more than the seeds differ
    decayed, grown = bvd.train_loss[:, 1].median(dim=0).values, bvd.train_loss[:, 2].median(dim=0).values
    assert ((decayed - grown) / decayed).abs().max() < 0.15  # the curves nearly coincide
    assert bvd.updates[2] < 0.6 * bvd.updates[1] and bvd.updates[0] == bvd.updates[1]
    assert bvd.activation_bytes[2] > 8 * bvd.activation_bytes[1]
    assert bvd.largest_batch == (128, 128, 1152)


def test_constant_rate_ends_lowest_and_accuracies_overlap_within_seeds(bvd):
    final = bvd.train_loss[:, :, -1].median(dim=0).values
    assert final[0] < final[1] and final[0] < final[2]
    accuracy = 100 * bvd.test_accuracy
    assert accuracy.min(dim=0).values.max() <= accuracy.max(dim=0).values.min()
