"""Chapter 1's experiments: the variance formula is exact, the experiments measure what they say, and the
claims the chapter makes about its runs hold on those runs."""

import itertools
import math

import pytest
import torch
from torch.func import functional_call, grad, vmap

from optimlab.batching import minibatch_gradient_variance, random_batches, stratified_batches
from optimlab.data import load_digits
from optimlab.experiments.batched_mlp import init_stacked_mlp
from optimlab.experiments.minibatch import (
    COSTS,
    DOUBLE_WELL,
    EQUAL_EPOCHS,
    EQUAL_UPDATES,
    GRADIENT_NOISE,
    BatchSizeSweepConfig,
    DoubleWellConfig,
    activation_bytes_estimate,
    batch_mean_deviations,
    class_counts,
    digits_per_example_gradients,
    double_well_minima,
    epoch_batches,
    one_thread,
    oscillation,
    per_example_gradients,
    predicted_total_variance,
    run_batch_size_sweep,
    run_class_proportions,
    run_costs,
    run_double_well,
    run_gradient_noise,
    saved_activation_bytes,
    within_class_variance,
)

# --- The formula, exactly --------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(5, 1), (5, 2), (6, 3), (6, 5), (6, 6), (7, 4)])
def test_variance_formula_equals_the_average_over_every_possible_batch(n, batch_size):
    grads = torch.randn(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(n + batch_size))
    means = torch.stack([grads[list(batch)].mean(dim=0) for batch in itertools.combinations(range(n), batch_size)])
    exact = means.var(dim=0, correction=0)  # every batch is equally likely: the population of batch means
    torch.testing.assert_close(minibatch_gradient_variance(grads, batch_size), exact, rtol=1e-12, atol=1e-14)


def test_variance_formula_matches_the_midterm_question_and_its_edge_cases():
    grads = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    assert minibatch_gradient_variance(grads, 2).item() == pytest.approx(1.25 / 2 * 2 / 3)
    assert minibatch_gradient_variance(grads, 4).item() == 0.0  # the full batch is the training set
    assert minibatch_gradient_variance(grads[:1], 1).item() == 0.0
    assert minibatch_gradient_variance(grads.float(), 1).dtype == torch.float32
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_gradient_variance(grads, 5)


def test_predicted_total_is_the_formula_summed_over_coordinates():
    grads = torch.randn(50, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    total = grads.var(dim=0, correction=0).sum().item()
    for batch_size in (1, 7, 49, 50):
        expected = minibatch_gradient_variance(grads, batch_size).sum()
        predicted = predicted_total_variance(total, 50, torch.tensor([batch_size]))[0]
        torch.testing.assert_close(predicted, expected)
    assert predicted_total_variance(total, 50, torch.tensor([5]), replacement=True).item() == pytest.approx(total / 5)


# --- The experiments measure what they say ---------------------------------------------------


def test_per_example_gradients_equal_torch_func_vmap_grad():
    digits = load_digits(dtype=torch.float64, device="cpu")
    x, y = digits.train.x[:40], digits.train.y[:40]
    ours = per_example_gradients(x, y, hidden=8, seed=3)
    w1, b1, w2, b2 = (p[0] for p in init_stacked_mlp((64, 8, 10), 1, seed=3, dtype=torch.float64, device="cpu"))
    model = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 10)).double()
    params = {"0.weight": w1.T, "0.bias": b1[0], "2.weight": w2.T, "2.bias": b2[0]}

    def loss(p, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    theirs = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    # our layout: each stacked parameter flattened in turn (weights stored fan_in x fan_out)
    flat = [theirs["0.weight"].transpose(1, 2), theirs["0.bias"], theirs["2.weight"].transpose(1, 2), theirs["2.bias"]]
    torch.testing.assert_close(ours, torch.cat([t.reshape(40, -1) for t in flat], dim=1), rtol=1e-10, atol=1e-12)


def test_batch_mean_deviations_are_squared_distances_of_batch_means():
    grads = torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    batches = [torch.tensor([0, 3, 5]), torch.tensor([7]), torch.arange(20)]
    expected = torch.stack([((grads[b].mean(dim=0) - grads.mean(dim=0)) ** 2).sum() for b in batches])
    centred = grads - grads.mean(dim=0)
    torch.testing.assert_close(batch_mean_deviations(centred, batches), expected)


def test_epoch_batches_are_whole_epochs_of_full_batches():
    batches = epoch_batches(10, 3, 5, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [3] * 6  # two epochs of three full batches, the remainder left out
    assert len(set(torch.cat(batches[:3]).tolist())) == 9


def test_within_class_variance_is_the_variance_left_after_removing_class_means():
    grads = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(30) % 3
    centred = grads.clone()
    for c in range(3):
        centred[labels == c] -= grads[labels == c].mean(dim=0)
    torch.testing.assert_close(within_class_variance(grads, labels), centred.var(dim=0, correction=0))


def test_activation_estimate_equals_the_bytes_autograd_saves():
    for sizes in ((64, 32, 10), (64, 16, 16, 10)):
        for batch_size in (1, 8, 100):
            counted = saved_activation_bytes(batch_size, sizes)
            # the loss's scalar output is the one tensor that does not grow with B
            assert 0 <= counted - activation_bytes_estimate(batch_size, sizes) <= 8


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_double_well_minima_are_the_roots_of_the_gradient():
    deep, barrier, shallow = double_well_minima(0.15)
    for w in (deep, barrier, shallow):
        assert abs(w**3 - w + 0.15) < 1e-5
    f = [(w**2 - 1) ** 2 / 4 + 0.15 * w for w in (deep, shallow)]
    assert f[0] < f[1]  # the deep one is deeper


def test_double_well_with_the_full_batch_is_gradient_descent_and_never_changes_basin():
    result = run_double_well(DoubleWellConfig(batch_sizes=(64,), steps=50, chains=3))
    assert result.shallow_start_to_deep.item() == 0.0 and result.deep_start_to_shallow.item() == 0.0


def test_sweep_keeps_the_rate_with_the_lowest_mean_final_loss_and_never_a_diverged_one():
    config = BatchSizeSweepConfig(batch_sizes=(16,), lrs=(0.01, 0.3, 50.0), seeds=(0, 1), epochs=None, updates=20)
    (run,) = run_batch_size_sweep(config).runs
    assert run.lr == 0.3 and run.train_loss.shape == (2, 21)
    assert not math.isfinite(run.final_loss_by_lr[2]) or run.final_loss_by_lr[2] > run.final_loss_by_lr[1]


def test_oscillation_is_zero_for_a_smooth_geometric_decay_and_positive_for_noise():
    smooth = 0.5 ** torch.arange(21.0)
    assert oscillation(smooth).item() == pytest.approx(math.log(2))  # steady descent, no jumps beyond it
    noisy = smooth * torch.tensor([1.0, 3.0] * 10 + [1.0])
    assert oscillation(noisy).item() > 1.0


# --- The chapter's claims, on the chapter's own runs -----------------------------------------


@pytest.fixture(scope="module")
def noise():
    return run_gradient_noise(GRADIENT_NOISE)


def test_measured_gradient_noise_lies_on_the_formula(noise):
    predicted = predicted_total_variance(noise.sigma2_total, noise.n_examples, noise.batch_sizes)
    assert noise.batch_sizes.tolist()[0] == 1 and noise.batch_sizes.tolist()[-1] == 1024
    assert noise.n_parameters == 64 * 32 + 32 + 32 * 10 + 10
    assert ((noise.measured - predicted) / predicted).abs().max() < 0.05
    assert ((noise.measured - predicted) / noise.standard_error).abs().max() < 4
    # the finite-population correction is visible at B = 1024: well below sigma^2 / B
    assert predicted[-1] / (noise.sigma2_total / 1024) < 0.3


def test_stratified_noise_is_the_within_class_part_and_well_below_random(noise):
    within = predicted_total_variance(noise.within_class_total, noise.n_examples, noise.stratified_batch_sizes)
    random = predicted_total_variance(noise.sigma2_total, noise.n_examples, noise.stratified_batch_sizes)
    assert ((noise.stratified_measured - within) / noise.stratified_standard_error).abs().max() < 4
    assert ((noise.stratified_measured - within) / within).abs().max() < 0.05
    assert (noise.stratified_measured < 0.8 * random).all()
    assert 1 - noise.within_class_total / noise.sigma2_total > 0.2


def test_per_example_gradients_of_the_noise_experiment_have_outliers():
    """Why the chapter samples whole epochs: a few examples have far larger gradients than the rest."""
    grads, _ = digits_per_example_gradients()
    squared = (grads - grads.mean(dim=0)).pow(2).sum(dim=1)
    assert squared.max() > 20 * squared.mean()


def test_random_batches_of_ten_miss_classes_and_stratified_ones_keep_proportions():
    result = run_class_proportions(batch_size=10)
    missing = (result.random_counts == 0).sum(dim=1).float()
    assert missing.mean() > 2.5 and (missing == 0).float().mean() < 0.05
    n_batches = result.stratified_counts.shape[0]
    n_c = result.stratified_counts.sum(dim=0)
    assert ((result.stratified_counts - n_c / n_batches).abs() <= 1).all()
    assert (result.stratified_counts == 0).sum(dim=1).float().mean() < 0.1


@pytest.fixture(scope="module")
def sweeps():
    return run_batch_size_sweep(EQUAL_EPOCHS), run_batch_size_sweep(EQUAL_UPDATES)


def _by_batch(result):
    return {run.batch_size: run for run in result.runs}


def test_sweeps_run_three_seeds_from_8_to_1024(sweeps):
    for result in sweeps:
        assert len(result.config.seeds) >= 3
        assert result.config.batch_sizes[0] == 8 and result.config.batch_sizes[-1] == 1024


def test_at_equal_epochs_small_batches_end_alike_and_the_largest_falls_behind(sweeps):
    runs = _by_batch(sweeps[0])
    small = [runs[b] for b in (8, 32, 128)]
    means = torch.stack([run.test_accuracy.mean() for run in small])
    seed_spread = max((run.test_accuracy.max() - run.test_accuracy.min()).item() for run in small)
    assert (means.max() - means.min()).item() < seed_spread
    assert all(runs[1024].test_accuracy.mean() < run.test_accuracy.min() for run in small)
    assert all(runs[1024].train_loss[:, -1].mean() > run.train_loss[:, -1].max() for run in small)


def test_at_equal_updates_less_noise_wins_up_to_a_point(sweeps):
    runs = _by_batch(sweeps[1])
    final = {b: run.train_loss[:, -1].mean().item() for b, run in runs.items()}
    assert final[8] > final[32] > final[128]
    assert abs(final[1024] - final[128]) < 0.1 * final[128]
    accuracy = {b: run.test_accuracy for b, run in runs.items()}
    spread = max((a.max() - a.min()).item() for a in accuracy.values())
    assert abs(accuracy[1024].mean() - accuracy[128].mean()) < spread
    # the noisiest runs end with the highest loss and the lowest accuracy (no sign that noise helped)
    assert all(accuracy[8].mean() < accuracy[b].mean() for b in (32, 128, 1024))
    # the two largest batch sizes chose the largest rate of the grid
    assert runs[128].lr == runs[1024].lr == max(EQUAL_UPDATES.lrs)


def test_oscillation_falls_with_batch_size_also_at_the_same_rate(sweeps):
    runs = _by_batch(sweeps[1])
    wobble = [oscillation(runs[b].train_loss).mean().item() for b in (8, 32, 128, 1024)]
    assert wobble == sorted(wobble, reverse=True)
    assert runs[8].lr == runs[32].lr and runs[128].lr == runs[1024].lr


def test_costs_memory_grows_linearly_and_large_batches_make_faster_epochs():
    costs = run_costs(COSTS)
    sizes = costs.batch_sizes.double()
    slope = (costs.estimated_bytes[-1] - costs.estimated_bytes[0]) / (sizes[-1] - sizes[0])
    torch.testing.assert_close(costs.estimated_bytes, costs.estimated_bytes[0] + slope * (sizes - sizes[0]))
    if costs.device == "cpu":
        assert ((costs.measured_bytes - costs.estimated_bytes).abs() <= 8).all()
    assert costs.measured_bytes[-1] < 2**20  # memory never binds for this network
    assert costs.seconds_per_epoch[0] > 5 * costs.seconds_per_epoch[-1]
    # an update on 1024 examples costs far less than 128 updates on 8: the cost is mostly per update
    updates_per_epoch = torch.tensor([math.ceil(1347 / b) for b in costs.batch_sizes.tolist()])
    per_update = costs.seconds_per_epoch / updates_per_epoch
    assert per_update[-1] < 10 * per_update[0]


def test_double_well_small_batches_escape_the_shallow_minimum_and_larger_ones_stay():
    well = run_double_well(DOUBLE_WELL)
    assert well.batch_sizes[0] == 1
    assert well.shallow_start_to_deep[0] > 0.5
    assert well.deep_start_to_shallow[0] < well.shallow_start_to_deep[0] / 5
    assert (well.shallow_start_to_deep[1:] == 0).all() and (well.deep_start_to_shallow[1:] == 0).all()


# --- The reference batching functions ----------------------------------------------------------


def test_stratified_batches_are_a_stratified_partition_and_seeded():
    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 1 + [3] * 4)
    for batch_size in (1, 3, 4, 5, 17, 40):
        batches = stratified_batches(labels, batch_size, torch.Generator().manual_seed(0))
        n_batches = math.ceil(len(labels) / batch_size)
        assert len(batches) == n_batches
        assert sorted(torch.cat(batches).tolist()) == list(range(len(labels)))
        sizes = [len(b) for b in batches]
        assert max(sizes) - min(sizes) <= 1 and all(b.dtype == torch.long for b in batches)
        counts = class_counts(batches, labels, 4)
        assert ((counts - torch.bincount(labels) / n_batches).abs() <= 1).all()
    again = stratified_batches(labels, 4, torch.Generator().manual_seed(0))
    other = stratified_batches(labels, 4, torch.Generator().manual_seed(1))
    first = stratified_batches(labels, 4, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(torch.cat(first), torch.cat(other))


def test_random_batches_are_one_shuffled_epoch():
    batches = random_batches(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
