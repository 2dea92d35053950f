"""optimlab.checkpoint: an exact resume, weights_only loading, atomic saves that survive a SIGKILL mid-write,
refusing another architecture without touching the model, map_location, and keeping the last k."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from optimlab.checkpoint import (
    atomic_save,
    check_same_architecture,
    checkpoint_state,
    latest_checkpoint,
    load_checkpoint,
    rolling_checkpoints,
    save_checkpoint,
    save_rolling,
)
from optimlab.experiments.checkpointing import (
    RESUME,
    SimulatedCrash,
    crash_mid_write,
    flat_parameters,
    one_thread,
    start_training,
    train_epochs,
)


def _mlp(hidden: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def _uninterrupted_final_weights() -> torch.Tensor:
    with one_thread():
        training = start_training(RESUME)
        train_epochs(training, 0, RESUME.epochs)
    return flat_parameters(training.model)


def test_a_checkpoint_holds_only_what_weights_only_loading_accepts(tmp_path):
    training = start_training(RESUME)
    train_epochs(training, 0, 1)
    save_checkpoint(
        tmp_path / "c.pt",
        training.model,
        training.optimizer,
        training.scheduler,
        0,
        loader_generator=training.loader_generator,
    )
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    assert saved["epoch"] == 0
    assert torch.equal(saved["cpu_rng_state"], torch.get_rng_state())
    assert torch.equal(saved["loader_rng_state"], training.loader_generator.get_state())
    assert saved["optimizer"]["param_groups"][0]["lr"] == training.optimizer.param_groups[0]["lr"]


def test_weights_only_refuses_a_pickled_module(tmp_path):
    torch.save({"model": _mlp(4)}, tmp_path / "objects.pt")
    with pytest.raises(Exception, match="Weights only load failed") as error:
        torch.load(tmp_path / "objects.pt", weights_only=True)
    assert "Unsupported global" in str(error.value)
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(tmp_path / "objects.pt")  # the default since PyTorch 2.6


def test_load_returns_the_next_epoch_and_resumes_bit_identically(tmp_path):
    stop = 2
    with one_thread():
        first_run = start_training(RESUME)
        train_epochs(first_run, 0, stop, checkpoint=tmp_path / "c.pt")
        resumed = start_training(RESUME)  # a fresh process: seeded and built anew
        first = load_checkpoint(
            tmp_path / "c.pt",
            resumed.model,
            resumed.optimizer,
            resumed.scheduler,
            loader_generator=resumed.loader_generator,
        )
        assert first == stop
        train_epochs(resumed, first, RESUME.epochs)
    assert torch.equal(flat_parameters(resumed.model), _uninterrupted_final_weights())


def test_load_state_dict_overwrites_matching_tensors_before_it_raises():
    """What the chapter shows: a failed load_state_dict leaves the model half overwritten."""
    torch.manual_seed(0)
    saved, other = _mlp(64).state_dict(), _mlp(32)
    before = {name: tensor.clone() for name, tensor in other.state_dict().items()}
    with pytest.raises(RuntimeError, match="size mismatch"):
        other.load_state_dict(saved)
    changed = [name for name, tensor in other.state_dict().items() if not torch.equal(tensor, before[name])]
    assert changed == ["2.bias"]


@pytest.mark.parametrize("other", [_mlp(32), torch.nn.Sequential(torch.nn.Linear(64, 10))])
def test_loading_another_architecture_raises_and_leaves_the_model_whole(tmp_path, other):
    model = _mlp(64)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 0)
    before = {name: tensor.clone() for name, tensor in other.state_dict().items()}
    with pytest.raises(ValueError, match="another architecture"):
        load_checkpoint(tmp_path / "c.pt", other)
    assert all(torch.equal(tensor, before[name]) for name, tensor in other.state_dict().items())
    check_same_architecture(model, model.state_dict())  # its own state passes


def test_a_save_that_dies_mid_write_keeps_the_previous_checkpoint(tmp_path):
    model = _mlp(8)
    atomic_save({"model": model.state_dict(), "epoch": 0}, tmp_path / "c.pt")
    with crash_mid_write(500), pytest.raises(SimulatedCrash):
        atomic_save({"model": model.state_dict(), "epoch": 1}, tmp_path / "c.pt")
    assert torch.load(tmp_path / "c.pt", weights_only=True)["epoch"] == 0
    assert [path.name for path in tmp_path.iterdir()] == ["c.pt"]  # the half-written temporary file is gone


# A training process that saves a rolling checkpoint after every epoch and is SIGKILLed while writing one.
_KILLED_TRAINING = textwrap.dedent(
    """
    import contextlib, sys
    from optimlab.checkpoint import save_rolling
    from optimlab.experiments.checkpointing import RESUME, crash_mid_write, one_thread, start_training, train_epochs

    folder, killed_at = sys.argv[1], int(sys.argv[2])
    with one_thread():
        training = start_training(RESUME)
        for epoch in range(RESUME.epochs):
            train_epochs(training, epoch, epoch + 1)
            dying = crash_mid_write(20_000, kill=True) if epoch == killed_at else contextlib.nullcontext()
            with dying:
                save_rolling(folder, training.model, training.optimizer, training.scheduler, epoch, keep=2,
                             loader_generator=training.loader_generator)
    """
)


def test_a_process_killed_mid_save_resumes_bit_identically_from_what_is_on_disk(tmp_path):
    killed_at = 3
    process = subprocess.run(
        [sys.executable, "-c", _KILLED_TRAINING, str(tmp_path), str(killed_at)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    names = sorted(path.name for path in tmp_path.iterdir())
    stray = [name for name in names if name.endswith(".tmp")]
    assert len(stray) == 1 and os.path.getsize(tmp_path / stray[0]) == 20_000  # the write it died in
    assert [path.name for path in rolling_checkpoints(tmp_path)] == ["epoch-000001.pt", "epoch-000002.pt"]
    with one_thread():
        resumed = start_training(RESUME)
        first = load_checkpoint(
            latest_checkpoint(tmp_path),
            resumed.model,
            resumed.optimizer,
            resumed.scheduler,
            loader_generator=resumed.loader_generator,
        )
        assert first == killed_at
        train_epochs(resumed, first, RESUME.epochs)
    assert torch.equal(flat_parameters(resumed.model), _uninterrupted_final_weights())


def test_save_rolling_keeps_the_newest_k(tmp_path):
    model = _mlp(4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    assert latest_checkpoint(tmp_path) is None
    for epoch in range(5):
        save_rolling(tmp_path, model, optimizer, scheduler, epoch, keep=3)
    assert [path.name for path in rolling_checkpoints(tmp_path)] == [f"epoch-00000{e}.pt" for e in (2, 3, 4)]
    assert latest_checkpoint(tmp_path).name == "epoch-000004.pt"
    with pytest.raises(ValueError, match="keep"):
        save_rolling(tmp_path, model, optimizer, scheduler, 5, keep=0)


def test_map_location_reads_every_tensor_onto_the_named_device(tmp_path):
    model = _mlp(4)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 0)
    saved = torch.load(tmp_path / "c.pt", map_location="meta", weights_only=True)
    assert {tensor.device.type for tensor in saved["model"].values()} == {"meta"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_gpu_checkpoint_resumes_on_the_cpu_and_restores_the_gpu_generators(tmp_path, monkeypatch):
    model = _mlp(16).cuda()
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    model(torch.randn(3, 64, device="cuda")).sum().backward()
    optimizer.step()
    scheduler.step()
    save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, 4)
    saved = checkpoint_state(model, optimizer, scheduler, 4)
    torch.cuda.manual_seed_all(123)  # move the GPU generators on
    on_cpu = _mlp(16)
    cpu_optimizer = torch.optim.Adam(on_cpu.parameters())
    cpu_scheduler = torch.optim.lr_scheduler.LambdaLR(cpu_optimizer, lambda epoch: 0.5**epoch)
    assert load_checkpoint(tmp_path / "c.pt", on_cpu, cpu_optimizer, cpu_scheduler, map_location="cpu") == 5
    for name, tensor in on_cpu.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name].cpu())
    assert all(state.device.type == "cpu" for state in cpu_optimizer.state[next(on_cpu.parameters())].values())
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), saved["cuda_rng_states"]))
    # On a machine without a GPU, the same file opens only with map_location.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA device"):
        torch.load(tmp_path / "c.pt", weights_only=True)
    assert load_checkpoint(tmp_path / "c.pt", _mlp(16), map_location="cpu") == 5
