"""Exercise 10_checkpointing's runners: train, save, load in a fresh start, train on, and record what came back.

`save_checkpoint` and `load_checkpoint` can only be tested together (one writes the format the
other reads), so each runner takes the graded function and finds its partner where the student
defined it: `subject.__globals__` (the notebook's namespace; for the reference, its module's).
The question `save_checkpoint` asks whether what was saved restores exactly (the runner resumes at
the epoch it knows, whatever the load returns); `load_checkpoint` asks for the returned epoch, the
refusal of another architecture, and a resume that starts at the returned epoch.

A record step's "out" holds facts measured here, and the question's judge
(`autograder.checks.checkpointing`) turns the first false one into advice. Files go to a fresh
folder inside the working folder: in the grading sandbox it is the only place that can be written.
Like `records`, this module imports only the standard library, torch and `records`.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..records import Signature, describe_exception, runner, watch_for_delegation

FEATURES, CLASSES, EXAMPLES, BATCH = 8, 3, 48, 8
HIDDEN, OTHER_HIDDEN = 16, 12  # the architecture of every run, and the one a checkpoint must not load into
PARTNERS = {"save_checkpoint": "load_checkpoint", "load_checkpoint": "save_checkpoint"}
PARAMS = {
    "save_checkpoint": ("path", "model", "optimizer", "scheduler", "epoch"),
    "load_checkpoint": ("path", "model", "optimizer", "scheduler"),
}
# What the save question's record holds, in order (all booleans).
RESUME_FACTS = (
    "resumed_identically",
    "model_restored",
    "optimizer_restored",
    "scheduler_restored",
    "rng_restored",
    "weights_only_loadable",
)


class PartnerMissing(Exception):
    """The other function of the pair is not defined where the graded one is."""


def _partner(subject, name: str):
    partner = getattr(subject, "__globals__", {}).get(PARTNERS[name])
    if not callable(partner):
        raise PartnerMissing(
            f"{name} can only be checked together with {PARTNERS[name]}, which is not defined: define both functions"
        )
    return partner


def _build(config: dict, hidden: int = HIDDEN) -> dict:
    """What a training script builds at its start, seeded as it would be: model, optimizer, scheduler, loader."""
    data = torch.Generator().manual_seed(1000 + int(config["seed"]))  # the same data in every run
    x = torch.randn(EXAMPLES, FEATURES, generator=data, dtype=torch.float64)
    y = torch.randint(CLASSES, (EXAMPLES,), generator=data)
    torch.manual_seed(int(config["seed"]))  # initial weights, dropout masks and the loader's shuffles
    model = nn.Sequential(
        nn.Linear(FEATURES, hidden), nn.ReLU(), nn.Dropout(float(config["dropout"])), nn.Linear(hidden, CLASSES)
    ).double()
    lr = float(config["lr"])
    if config["optimizer"] == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=float(config["momentum"]))
    decay = float(config["decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: decay**epoch)
    # No generator of its own: each epoch's shuffle is seeded from the global generator, as dropout is.
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=bool(config["shuffle"]))
    return {"model": model, "optimizer": optimizer, "scheduler": scheduler, "loader": loader}


def _train(parts: dict, first: int, end: int) -> None:
    model, optimizer, scheduler = parts["model"], parts["optimizer"], parts["scheduler"]
    model.train()
    for _ in range(first, end):
        for x, y in parts["loader"]:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        scheduler.step()


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _same(a, b) -> bool:
    """Equal, bit for bit, through dicts, lists and tuples of tensors and plain values."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _call(fn, name: str, args: dict, delegated: set) -> tuple[object, BaseException | None]:
    """``fn(*args)`` in the graded order, watched for delegation; its result, or the exception it raised."""
    try:
        with watch_for_delegation(delegated, inside=fn, exempt=("/",)):
            return fn(*(args[param] for param in PARAMS[name])), None
    except (Exception, SystemExit) as error:  # a student's bug is recorded, never re-raised
        return None, error


def _error_step(name: str, error: BaseException) -> dict:
    return {"error": f"calling {name} raised {describe_exception(error)}"}


def _record(out: list | None, delegated: set, error: str = "") -> dict:
    step = {"error": error} if error else {"out": out, "modified": []}
    return {"steps": [step], "delegated": sorted(delegated)}


def _in_fresh_folder(measure):
    """Run ``measure(path)`` with ``path`` in a new folder under the working folder, removed afterwards.

    On one CPU thread: these networks are tiny, and threads only contend on a busy grading machine.
    """
    folder = tempfile.mkdtemp(prefix="checkpoint-check-", dir=os.getcwd())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return measure(os.path.join(folder, "checkpoint.pt"))
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(folder, ignore_errors=True)


def _saved_then_resumed(save, load, config: dict, path: str, delegated: set) -> tuple[dict, object]:
    """Train to the stop, save, train to the end; then build afresh, load, and train on from the stop.

    Returns the facts of :data:`RESUME_FACTS` and what the load returned (an error string in
    ``facts["error"]`` when a call failed or nothing was written).
    """
    stop, epochs = int(config["stop_after"]), int(config["epochs"])
    parts = _build(config)
    _train(parts, 0, stop)
    at_save = {
        "model": copy.deepcopy(parts["model"].state_dict()),
        "optimizer": copy.deepcopy(parts["optimizer"].state_dict()),
        "scheduler": copy.deepcopy(parts["scheduler"].state_dict()),
        "rng": torch.get_rng_state(),
    }
    _, error = _call(save, "save_checkpoint", {**parts, "path": path, "epoch": stop - 1}, delegated)
    if error is not None:
        return {"error": _error_step("save_checkpoint", error)["error"]}, None
    if not os.path.isfile(path):
        return {"error": "save_checkpoint wrote no file at `path`: save to exactly the path it is given"}, None
    _train(parts, stop, epochs)
    uninterrupted = _weights(parts["model"])
    try:
        torch.load(path, weights_only=True)
        weights_only_loadable = True
    except Exception:  # what weights_only refuses is the point of the fact; any failure counts
        weights_only_loadable = False
    fresh = _build(config)  # a new process: seeded and built as at the start
    returned, error = _call(load, "load_checkpoint", {**fresh, "path": path}, delegated)
    if error is not None:
        return {"error": _error_step("load_checkpoint", error)["error"]}, None
    facts = {
        "model_restored": _same(fresh["model"].state_dict(), at_save["model"]),
        "optimizer_restored": _same(fresh["optimizer"].state_dict(), at_save["optimizer"]),
        "scheduler_restored": _same(fresh["scheduler"].state_dict(), at_save["scheduler"]),
        "rng_restored": _same(torch.get_rng_state(), at_save["rng"]),
        "weights_only_loadable": weights_only_loadable,
    }
    start = returned if config.get("start_at_returned") else stop
    if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= epochs:
        facts["resumed_identically"] = False
    else:
        _train(fresh, start, epochs)
        facts["resumed_identically"] = torch.equal(_weights(fresh["model"]), uninterrupted)
    return facts, returned


@runner("checkpoint_save")
def run_save(subject, signature: Signature, case: dict) -> dict:
    """The save question: does what `subject` saved, read back by the partner load, resume exactly?"""
    config, delegated = case["steps"][0], set()
    try:
        load = _partner(subject, "save_checkpoint")
    except PartnerMissing as missing:
        return _record(None, delegated, str(missing))
    facts, _ = _in_fresh_folder(lambda path: _saved_then_resumed(subject, load, config, path, delegated))
    if "error" in facts:
        return _record(None, delegated, facts["error"])
    return _record([facts[name] for name in RESUME_FACTS], delegated)


@runner("checkpoint_load")
def run_load(subject, signature: Signature, case: dict) -> dict:
    """The load question: the epoch it returns, how it treats another architecture, a resume from its epoch."""
    config, delegated = case["steps"][0], set()
    try:
        save = _partner(subject, "load_checkpoint")
    except PartnerMissing as missing:
        return _record(None, delegated, str(missing))
    probe = {"next_epoch": _next_epochs, "architecture": _other_architecture, "resume": _resume_from_returned}
    out, error = _in_fresh_folder(lambda path: probe[config["probe"]](subject, save, config, path, delegated))
    return _record(out, delegated, error)


def _plain(value):
    """A returned epoch as plain data: an int stays, anything else becomes its type's name and value in words."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return f"{type(value).__name__} {str(value)[:40]}"


def _next_epochs(load, save, config: dict, path: str, delegated: set) -> tuple[list | None, str]:
    """Save after each epoch of ``config["saved_epochs"]`` and record what the load returns for each."""
    returned = []
    for epoch in config["saved_epochs"]:
        parts = _build(config)
        _, error = _call(save, "save_checkpoint", {**parts, "path": path, "epoch": int(epoch)}, delegated)
        if error is not None:
            return None, _error_step("save_checkpoint", error)["error"]
        value, error = _call(load, "load_checkpoint", {**_build(config), "path": path}, delegated)
        if error is not None:
            return None, _error_step("load_checkpoint", error)["error"]
        returned.append(_plain(value))
    return [returned], ""


def _other_architecture(load, save, config: dict, path: str, delegated: set) -> tuple[list | None, str]:
    """Load a checkpoint of one width into a model of another: what it raised, and whether the model stayed whole.

    The last layer's bias has the same shape in both, so a bare ``load_state_dict`` copies it before it raises.
    """
    _, error = _call(save, "save_checkpoint", {**_build(config), "path": path, "epoch": 0}, delegated)
    if error is not None:
        return None, _error_step("save_checkpoint", error)["error"]
    other = _build(config, hidden=OTHER_HIDDEN)
    before = copy.deepcopy(other["model"].state_dict())
    _, error = _call(load, "load_checkpoint", {**other, "path": path}, delegated)
    raised = (
        "" if error is None else "refused" if isinstance(error, (RuntimeError, ValueError)) else type(error).__name__
    )
    return [raised, _same(other["model"].state_dict(), before)], ""


def _resume_from_returned(load, save, config: dict, path: str, delegated: set) -> tuple[list | None, str]:
    """The whole round trip, the resumed loop starting at the epoch the load returned."""
    facts, returned = _saved_then_resumed(save, load, {**config, "start_at_returned": True}, path, delegated)
    if "error" in facts:
        return None, facts["error"]
    restored = [facts[name] for name in ("model_restored", "optimizer_restored", "scheduler_restored", "rng_restored")]
    return [facts["resumed_identically"], _plain(returned), *restored], ""
