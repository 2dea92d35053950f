"""Chapter 10's experiments: the claims the chapter makes about its resumes hold on those runs, over its seeds."""

import dataclasses

import pytest
import torch

from optimlab.checkpoint import load_checkpoint
from optimlab.experiments.checkpointing import (
    CRASH_AFTER_BYTES,
    RESUME,
    RESUME_SEEDS,
    RESUMES,
    ResumeConfig,
    crash_during_save,
    run_resumes,
    start_training,
    train_epochs,
)
from optimlab.plots.checkpointing import ResumePanel, plot_resumes


@pytest.fixture(scope="module")
def by_seed():
    return {seed: run_resumes(dataclasses.replace(RESUME, seed=seed)) for seed in RESUME_SEEDS}


def test_the_exact_resume_is_bit_identical_and_every_forgetful_one_is_not(by_seed):
    for result in by_seed.values():
        assert result.max_weight_difference["exact"] == 0.0
        assert result.max_loss_difference["exact"] == 0.0
        assert torch.equal(result.resumed_loss["exact"], result.uninterrupted_loss[result.stop_step :])
        for name in RESUMES:
            if name != "exact":
                assert result.max_weight_difference[name] > 0.0
                assert result.weight_distance[name][-1] > 0.0


def test_each_forgetful_resume_runs_the_learning_rates_the_chapter_predicts(by_seed):
    lr, decay, stop, epochs = RESUME.lr, RESUME.lr_decay, RESUME.stop_after, RESUME.epochs
    on_schedule = [lr * decay**e for e in range(stop, epochs)]
    predicted = {
        "exact": on_schedule,
        # a fresh optimizer starts at the initial rate; the restored scheduler sets the right one after an epoch
        "forgot the optimizer": [lr, *on_schedule[1:]],
        # the loaded optimizer holds the right rate; a fresh scheduler then restarts its count at 1
        "forgot the scheduler": [lr * decay**e for e in (stop, *range(1, epochs - stop))],
        "forgot the RNG states": on_schedule,
    }
    result = by_seed[RESUME_SEEDS[0]]
    assert result.uninterrupted_lrs.tolist() == pytest.approx([lr * decay**e for e in range(epochs)], rel=1e-6)
    for name, rates in predicted.items():
        assert result.resumed_lrs[name].tolist() == pytest.approx(rates, rel=1e-6), name


def test_forgetting_the_scheduler_changes_nothing_for_exactly_one_epoch(by_seed):
    for result in by_seed.values():
        distance = result.weight_distance["forgot the scheduler"]
        assert (distance[: result.steps_per_epoch] == 0).all()
        assert (distance[result.steps_per_epoch :] > 0).all()


def test_a_restarted_adam_moves_every_weight_by_the_initial_rate_in_its_first_step(by_seed):
    """Fresh moments: m_hat / sqrt(v_hat) = g / (|g| + eps), so each weight moves by lr, less where |g| ~ eps."""
    for result in by_seed.values():
        change = result.first_step_change["forgot the optimizer"]
        assert (change <= RESUME.lr * (1 + 1e-5)).all()
        moved = change[change > 0]  # weights of blank pixels and of dead units get no gradient
        assert len(moved) > 0.9 * len(change)
        assert ((moved - RESUME.lr).abs() <= 1e-3 * RESUME.lr).float().mean() > 0.99
        assert change.median().item() == pytest.approx(RESUME.lr, rel=1e-5)
        assert result.first_step_change["exact"].median() < RESUME.lr * RESUME.lr_decay**RESUME.stop_after


def test_forgetting_the_generators_replays_the_first_epochs_batches(tmp_path):
    first_run = start_training(RESUME)
    masks_at_start = torch.get_rng_state()  # dropout draws from the global generator
    epoch_0 = [y for _, y in first_run.loader]
    train_epochs(first_run, 0, 1, checkpoint=tmp_path / "c.pt")
    forgetful = start_training(RESUME)
    load_checkpoint(tmp_path / "c.pt", forgetful.model, forgetful.optimizer, forgetful.scheduler, restore_rng=False)
    assert torch.equal(torch.get_rng_state(), masks_at_start)
    assert all(torch.equal(a, b) for a, b in zip(epoch_0, [y for _, y in forgetful.loader], strict=True))
    exact = start_training(RESUME)
    load_checkpoint(
        tmp_path / "c.pt", exact.model, exact.optimizer, exact.scheduler, loader_generator=exact.loader_generator
    )
    assert not torch.equal(epoch_0[0], next(iter(exact.loader))[1])


@pytest.mark.parametrize("after_bytes", sorted({100, CRASH_AFTER_BYTES, 20_000, 60_000}))
def test_a_plain_save_cut_anywhere_is_lost_and_the_atomic_one_resumes_at_the_epoch_before(tmp_path, after_bytes):
    crash = crash_during_save(RESUME, tmp_path, after_bytes=after_bytes)
    assert crash.naive_error
    assert crash.atomic_next_epoch == 1
    assert crash.files == ["atomic.pt", "naive.pt"]


def test_stop_must_fall_inside_the_run():
    with pytest.raises(ValueError, match="stop_after"):
        run_resumes(ResumeConfig(epochs=3, stop_after=3))


def test_the_figure_and_the_explorable_show_every_resume(by_seed):
    result = by_seed[RESUME_SEEDS[0]]
    figure = plot_resumes(result)
    assert len(figure.axes) == 2
    panel = ResumePanel(result)
    for index, name in enumerate(RESUMES):
        panel.show(index)
        visible = [
            line.get_label()
            for line in panel.loss_ax.lines
            if line.get_visible() and not line.get_label().startswith("_")
        ]
        assert visible == ["never stopped", name]
