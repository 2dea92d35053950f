"""Hidden checks for exercise 10_checkpointing: the save/load pair, graded as two questions.

The two functions only make sense together, so the runners (`runners/checkpointing.py`) call
the graded one with its partner, found in the namespace where it was defined. The question
`save_checkpoint` asks whether what was saved brings a fresh start back to exactly where
training stopped (weights, optimizer, schedule, generators) in a file that loads with
`torch.load(weights_only=True)`; `load_checkpoint` asks for the epoch to run next and for a
clean refusal of another architecture. A judge reads the facts a runner measured and names
the first missing piece. The references are `optimlab.checkpoint`'s pair; this exercise is
about PyTorch's own API, so calling `torch.optim` is allowed.
"""

from __future__ import annotations

import types

import torch

from optimlab.checkpoint import check_same_architecture, load_checkpoint, save_checkpoint

from .cases import case
from .grading import Check, Mistake, Question
from .records import EXEMPT_ALL, Signature
from .runners.checkpointing import RESUME_FACTS

OPTIMIZERS_ALLOWED = True

# ---------------------------------------------------------------- what the judges say

MODEL_HINT = "after loading, the model's weights are not those that were saved: save and load model.state_dict()."
OPTIMIZER_HINT = (
    "after loading, the optimizer is not as it was when you saved: save optimizer.state_dict() and restore it with "
    "optimizer.load_state_dict (it holds the momentum buffers or Adam's moments, and the learning rate in force)."
)
SCHEDULER_HINT = (
    "after loading, the scheduler starts its schedule over: save scheduler.state_dict() and restore it with "
    "scheduler.load_state_dict, or the learning rate jumps back after the next scheduler.step()."
)
RNG_HINT = (
    "the resumed run draws other dropout masks and shuffles: save torch.get_rng_state() (and "
    "torch.cuda.get_rng_state_all() where there is a GPU) and restore it with torch.set_rng_state when loading."
)
RESUME_HINT = (
    "everything compared equal right after loading, yet the resumed training differs from training that never "
    "stopped: restore every piece of state, and nothing else (no reseeding, no extra steps) inside load_checkpoint."
)
WEIGHTS_ONLY_HINT = (
    "your file does not load with torch.load(path, weights_only=True): save state_dicts, tensors and numbers, "
    "not whole objects (a pickled model or optimizer names its class, which weights_only refuses to import)."
)
OFF_BY_ONE_HINT = (
    "load_checkpoint returns the epoch that was saved; return the epoch to run next, saved epoch + 1, "
    "so that `for epoch in range(load_checkpoint(...), epochs)` does not repeat it."
)
UNCHECKED_HINT = (
    "loading a checkpoint of another architecture raised, but only after overwriting the tensors whose shapes "
    "matched: compare the checkpoint's names and shapes with model.state_dict() before loading anything."
)
SWALLOWED_HINT = (
    "loading a checkpoint of another architecture must raise an error (RuntimeError or ValueError), not carry on."
)
# The facts of the save runner's record whose absence explains a resume that differs, in the order they are checked.
DIAGNOSES = (
    ("model_restored", MODEL_HINT),
    ("optimizer_restored", OPTIMIZER_HINT),
    ("scheduler_restored", SCHEDULER_HINT),
    ("rng_restored", RNG_HINT),
)

# ---------------------------------------------------------------- cases


def _training(seed: int, optimizer: str, *, decay: float = 1.0, random: bool = False, **more) -> dict:
    """A run of 4 epochs stopped after 2; `random` turns on dropout and a shuffling loader."""
    lr = 0.01 if optimizer == "adam" else 0.05
    return {
        "seed": seed,
        "optimizer": optimizer,
        "momentum": 0.9,
        "lr": lr,
        "decay": decay,
        "dropout": 0.3 if random else 0.0,
        "shuffle": random,
        "epochs": 4,
        "stop_after": 2,
        **more,
    }


def _cases(*configs: dict) -> list[dict]:
    return [case({}, [config]) for config in configs]


def _save_cases(wants: str, **kinds):
    return lambda: _cases(*(_training(seed, name, wants=wants, **kinds) for seed, name in ((0, "sgd"), (1, "adam"))))


# ---------------------------------------------------------------- judges


def _facts(record: dict) -> dict:
    return dict(zip(RESUME_FACTS, record["steps"][0]["out"], strict=True))


def judge_save(case: dict, record: dict) -> str:
    config, facts = case["steps"][0], _facts(record)
    if config["wants"] == "weights_only":
        return "" if facts["weights_only_loadable"] is True else WEIGHTS_ONLY_HINT
    if facts["resumed_identically"] is True:
        return ""
    return next((hint for fact, hint in DIAGNOSES if facts[fact] is not True), RESUME_HINT)


def judge_load(case: dict, record: dict) -> str:
    config, out = case["steps"][0], record["steps"][0]["out"]
    if config["probe"] == "next_epoch":
        saved, (returned,) = list(config["saved_epochs"]), out
        if returned == [epoch + 1 for epoch in saved]:
            return ""
        if returned == saved:
            return OFF_BY_ONE_HINT
        return (
            f"for checkpoints saved after epochs {saved}, load_checkpoint returned {returned}; "
            f"return the epoch to run next (an int): {[epoch + 1 for epoch in saved]}"
        )
    if config["probe"] == "architecture":
        raised, unchanged = out
        if raised == "":
            return SWALLOWED_HINT
        if raised != "refused":
            return f"loading a checkpoint of another architecture raised {raised}; raise RuntimeError or ValueError"
        return "" if unchanged is True else UNCHECKED_HINT
    identical, returned, *restored = out
    if identical is True:
        return ""
    if returned == config["stop_after"] - 1:
        return OFF_BY_ONE_HINT
    missing = [hint for (_, hint), ok in zip(DIAGNOSES, restored, strict=True) if ok is not True]
    if returned == config["stop_after"] and missing:
        return missing[0]
    return (
        f"training resumed at the epoch your load_checkpoint returned ({returned}) differs from training that "
        "never stopped: return saved epoch + 1, and restore the model, optimizer, scheduler and RNG states"
    )


# ---------------------------------------------------------------- mistakes


def _pair(*, forget=(), whole_model=False, next_epoch=True, check_first=True, swallow=False):
    """A student's save/load pair, wrong in the named ways; each function finds the other in its own globals."""

    def save(path, model, optimizer, scheduler, epoch):
        state = {
            "model": model if whole_model else model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "rng": torch.get_rng_state(),
        }
        torch.save({key: value for key, value in state.items() if key not in forget}, path)

    def load(path, model, optimizer, scheduler):
        saved = torch.load(path, weights_only=not whole_model)
        weights = saved["model"].state_dict() if whole_model else saved["model"]
        try:
            if check_first:
                check_same_architecture(model, weights)
            model.load_state_dict(weights)
        except (RuntimeError, ValueError):
            if not swallow:
                raise
            print("could not load the model; carrying on")
        for key, part in (("optimizer", optimizer), ("scheduler", scheduler)):
            if key in saved:
                part.load_state_dict(saved[key])
        if "rng" in saved:
            torch.set_rng_state(saved["rng"])
        return saved["epoch"] + 1 if next_epoch else saved["epoch"]

    namespace = dict(save.__globals__)
    twins = {
        name: types.FunctionType(fn.__code__, namespace, name, fn.__defaults__, fn.__closure__)
        for name, fn in (("save_checkpoint", save), ("load_checkpoint", load))
    }
    namespace.update(twins)
    return twins["save_checkpoint"], twins["load_checkpoint"]


def _save_mistakes() -> tuple[Mistake, ...]:
    return (
        Mistake("forgot_optimizer", OPTIMIZER_HINT, _pair(forget=("optimizer",))[0]),
        Mistake("forgot_scheduler", SCHEDULER_HINT, _pair(forget=("scheduler",))[0]),
        Mistake("forgot_rng_state", RNG_HINT, _pair(forget=("rng",))[0], label="sec-checkpointing-state"),
        Mistake(
            "pickles_whole_model", WEIGHTS_ONLY_HINT, _pair(whole_model=True)[0], label="sec-checkpointing-weights-only"
        ),
    )


def _load_mistakes() -> tuple[Mistake, ...]:
    return (
        Mistake("returns_saved_epoch", OFF_BY_ONE_HINT, _pair(next_epoch=False)[1], label="sec-checkpointing-state"),
        Mistake(
            "loads_without_checking",
            UNCHECKED_HINT,
            _pair(check_first=False)[1],
            label="sec-checkpointing-architecture",
        ),
        Mistake(
            "swallows_the_error",
            SWALLOWED_HINT,
            _pair(check_first=False, swallow=True)[1],
            label="sec-checkpointing-architecture",
        ),
    )


QUESTIONS = {
    "save_checkpoint": Question(
        signature=Signature(
            "save_checkpoint",
            ("path", "model", "optimizer", "scheduler", "epoch"),
            ("facts",),
            kinds=("any",),
            exempt=EXEMPT_ALL,
        ),
        reference=save_checkpoint,
        checks={
            "restores_weights_and_optimizer": Check(_save_cases("resume")),
            "restores_the_schedule": Check(_save_cases("resume", decay=0.5)),
            "restores_shuffling_and_dropout": Check(_save_cases("resume", decay=0.7, random=True)),
            "loads_with_weights_only": Check(_save_cases("weights_only", decay=0.7, random=True)),
        },
        mistakes=_save_mistakes(),
        label="sec-checkpointing-resume",
        runner="checkpoint_save",
        judge=judge_save,
    ),
    "load_checkpoint": Question(
        signature=Signature(
            "load_checkpoint",
            ("path", "model", "optimizer", "scheduler"),
            ("epoch",),
            kinds=("any",),
            exempt=EXEMPT_ALL,
        ),
        reference=load_checkpoint,
        checks={
            "returns_the_next_epoch": Check(
                lambda: _cases(_training(0, "sgd", probe="next_epoch", saved_epochs=[0, 3, 9]))
            ),
            "refuses_another_architecture": Check(lambda: _cases(_training(0, "adam", probe="architecture"))),
            "resumes_from_the_returned_epoch": Check(
                lambda: _cases(_training(2, "adam", decay=0.7, random=True, probe="resume"))
            ),
        },
        mistakes=_load_mistakes(),
        label="sec-checkpointing-resume",
        runner="checkpoint_load",
        judge=judge_load,
    ),
}
