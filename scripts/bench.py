"""Speed figures of the course, measured in one run; the last line printed is one JSON object.

    .venv/bin/python scripts/bench.py           # everything (minutes: builds the book in a copy, grades)
    .venv/bin/python scripts/bench.py --quick   # small sizes; no book build, no grading (their keys are null)

Keys (times in seconds unless named otherwise):

- ``sweep_speedup``: a batched sweep of 64 (learning rate, momentum) pairs on the digits MLP,
  minibatches of 32, over the same sweep as a Python loop of one-model trainings (same
  code with one model, same device, same steps); ``sweep_batched_s``, ``sweep_loop_s``.
- ``widget_redraw_p95_ms``: slider change to figure redrawn (Agg ``draw`` done), 95th
  percentile over the changes of each chapter's main widget, uncached ones included; an
  uncached setting's first redraw is its pending state (new path, "computing…").
  ``widget_result_p95_ms``: slider change to the figure showing that setting's *result*.
- ``build_cold_s``, ``build_nochange_s``: ``make book`` in a copy of the repository from a
  clean ``_build/``, then again with no change.
- ``grade_s_per_submission_{otter,nbgrader}``: wall time of ``python -m autograder grade
  --jobs 2`` over the submissions, divided by their number (the CLI reports no
  per-submission times, so this is a mean, not a median).
- ``optimizer_step_ratio``: our reference optimizers' time per ``step()`` over
  ``torch.optim``'s (``foreach=False``) on the same MLP, the worst of them
  (``optimizer_step_ratios`` has each).
- ``device``: ``cpu`` or the GPU's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
EXERCISE = "04_momentum"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation, as ``numpy.percentile``."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- Batched sweep vs a loop of single-model trainings ---------------------------------------


def bench_sweep(n_models: int, steps: int) -> dict[str, float]:
    from optimlab.experiments import DigitsSweepConfig

    # A grid of (lr, momentum) pairs: 8 momenta per learning rate.
    momentums = tuple(round(0.99 * (i % 8) / 7, 4) for i in range(n_models))
    lrs = tuple(round(0.01 * (1 + i // 8), 4) for i in range(n_models))
    sweep = DigitsSweepConfig(momentums=momentums, lr=lrs, steps=steps, batch_size=32)
    # Both sides use torch's default intra-op threads (one per core), as a reader's machine
    # would. On a machine busy with other work these threads wait on each other and the
    # batched time varies from run to run: run the benchmark on an idle machine.
    return {**_time_sweep(sweep), "sweep_threads": torch.get_num_threads()}


def _time_sweep(sweep) -> dict[str, float]:
    from optimlab.experiments import run_digits_sweep

    momentums, lrs, n_models, steps = sweep.momentums, sweep.lr, len(sweep.momentums), sweep.steps
    run_digits_sweep(dataclasses.replace(sweep, steps=2))  # warm up: data loading, first-call costs
    started = time.perf_counter()
    run_digits_sweep(sweep)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for momentum, lr in zip(momentums, lrs, strict=True):
        run_digits_sweep(dataclasses.replace(sweep, momentums=(momentum,), lr=lr))
    loop = time.perf_counter() - started
    log(f"sweep: {n_models} models x {steps} steps: batched {batched:.2f} s, loop {loop:.2f} s")
    return {"sweep_speedup": loop / batched, "sweep_batched_s": batched, "sweep_loop_s": loop}


# --- Widget: slider change -> figure drawn ----------------------------------------------------


def bench_momentum_widget(n_changes: int) -> tuple[list[float], list[float]]:
    """(change -> first redraw, change -> result drawn) in ms, for ``n_changes`` slider moves.

    A redraw is a new picture published in the widget's output area, as a reader sees it.
    """
    from optimlab.widgets import MomentumExplorer

    explorer = MomentumExplorer(momentum=0.9, lr=0.05)
    explorer.wait()
    published: list[float] = []
    explorer.output.observe(lambda change: change["new"] and published.append(time.perf_counter()), names="outputs")
    # Momentum moves over a few values (revisits hit the cache), with a learning-rate move
    # every tenth change (a new row of settings, uncached at first).
    momentum_values = (0.5, 0.8, 0.9, 0.95, 0.7)
    first_redraw, result_drawn = [], []
    for change in range(n_changes):
        published.clear()
        started = time.perf_counter()
        if change % 10 == 9:
            explorer.lr.value = round(0.03 + 0.005 * (change // 10), 3)
        else:
            explorer.momentum.value = momentum_values[change % len(momentum_values)]
        explorer.wait()
        if not published:
            raise RuntimeError(f"change {change} did not redraw the figure")
        first_redraw.append(1000 * (published[0] - started))
        result_drawn.append(1000 * (published[-1] - started))
    return first_redraw, result_drawn


WIDGET_BENCHES: dict[str, Callable[[int], tuple[list[float], list[float]]]] = {
    "04_momentum": bench_momentum_widget,
}


def bench_widgets(n_changes: int) -> dict[str, float]:
    first_redraw, result_drawn = [], []
    for chapter, bench in WIDGET_BENCHES.items():
        first, result = bench(n_changes)
        log(f"widget {chapter}: redraw p95 {percentile(first, 95):.0f} ms, result p95 {percentile(result, 95):.0f} ms")
        first_redraw += first
        result_drawn += result
    return {
        "widget_redraw_p95_ms": percentile(first_redraw, 95),
        "widget_result_p95_ms": percentile(result_drawn, 95),
        "widget_changes": len(first_redraw),
    }


# --- Optimizer step: ours vs torch.optim ------------------------------------------------------


def _seconds_per_step(make_optimizer: Callable, steps: int) -> float:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    optimizer = make_optimizer(model.parameters())
    for _ in range(10):
        optimizer.step()
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - started) / steps


def bench_optimizers(steps: int, repeats: int = 9) -> dict[str, object]:
    import optimlab.optimizers as ol

    twins = {
        "sgd_momentum": (
            lambda p: ol.SGD(p, lr=1e-3, momentum=0.9),
            lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, foreach=False),
        ),
        "nesterov": (
            lambda p: ol.SGD(p, lr=1e-3, momentum=0.9, nesterov=True),
            lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True, foreach=False),
        ),
        "rmsprop": (lambda p: ol.RMSprop(p, lr=1e-3), lambda p: torch.optim.RMSprop(p, lr=1e-3, foreach=False)),
        "adam": (lambda p: ol.Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3, foreach=False)),
        "adamw": (lambda p: ol.AdamW(p, lr=1e-3), lambda p: torch.optim.AdamW(p, lr=1e-3, foreach=False)),
    }
    ratios = {}
    for name, (ours, theirs) in twins.items():
        # Alternate the two and keep each one's best, so a busy moment hurts neither side alone.
        ours_times, theirs_times = [], []
        for _ in range(repeats):
            ours_times.append(_seconds_per_step(ours, steps))
            theirs_times.append(_seconds_per_step(theirs, steps))
        ours_s, theirs_s = min(ours_times), min(theirs_times)
        ratios[name] = ours_s / theirs_s
        log(f"optimizer {name}: ours {1e6 * ours_s:.0f} us, torch.optim {1e6 * theirs_s:.0f} us per step")
    return {"optimizer_step_ratio": max(ratios.values()), "optimizer_step_ratios": ratios}


# --- Book build and grading, in a copy of the repository --------------------------------------


def copy_repository(target: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored), mtimes kept, plus
    the ignored pieces the build needs: the virtual environment (linked) and vendored JS."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(REPO / ".venv")
    vendor = REPO / "_assets" / "vendor"
    if vendor.exists():
        shutil.copytree(vendor, target / "_assets" / "vendor", symlinks=True)


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stdout[-3000:]}"
            f"\n{completed.stderr[-3000:]}"
        )
    return elapsed


def bench_build(copy: Path) -> dict[str, float]:
    # -o: take the installed environment and vendored JS as up to date (never reinstall the shared .venv).
    make_book = ["make", "-o", ".venv/.installed", "-o", "_assets/vendor/.versions", "book"]
    shutil.rmtree(copy / "_build", ignore_errors=True)
    shutil.rmtree(copy / ".jupyter_cache", ignore_errors=True)
    cold = timed(make_book, copy)
    nochange = timed(make_book, copy)
    log(f"build: cold {cold:.1f} s, no change {nochange:.1f} s")
    return {"build_cold_s": cold, "build_nochange_s": nochange}


def write_submissions(folder: Path, handed_out: Path, n_submissions: int) -> None:
    """``n_submissions`` filled copies of ``handed_out``: the reference solution, every fourth with a mistake."""
    import nbformat

    from autograder.answers import as_answer, cataloged_mistake, filled, reference_answers

    reference = reference_answers(EXERCISE)
    in_place = cataloged_mistake(EXERCISE, "sgd_momentum_step", "modifies_w_in_place")
    notebook = nbformat.read(handed_out, as_version=4)
    folder.mkdir(parents=True)
    for index in range(n_submissions):
        answers = dict(reference)
        if index % 4 == 3:
            answers["sgd_momentum_step"] = as_answer(in_place.step, "sgd_momentum_step")
        nbformat.write(filled(notebook, answers), folder / f"student{index:03d}.ipynb")


def bench_grading(copy: Path, n_submissions: int, jobs: int = 2) -> dict[str, float]:
    handed_out = {
        "otter": copy / "_build" / "exercises" / "student" / f"{EXERCISE}.ipynb",
        "nbgrader": copy / "_build" / "nbgrader" / "release" / EXERCISE / f"{EXERCISE}.ipynb",
    }
    figures = {}
    for engine, notebook in handed_out.items():
        submissions = copy / "bench_submissions" / engine
        write_submissions(submissions, notebook, n_submissions)
        out = copy / "bench_grades" / engine
        command = [
            str(REPO / ".venv" / "bin" / "python"),
            "-m",
            "autograder",
            "grade",
            EXERCISE,
            str(submissions),
            "--out",
            str(out),
            "--engine",
            engine,
            "--jobs",
            str(jobs),
        ]
        seconds = timed(command, copy)
        figures[f"grade_s_per_submission_{engine}"] = seconds / n_submissions
        log(f"grading {engine}: {n_submissions} submissions, --jobs {jobs}: {seconds:.1f} s")
    return figures


# --- All together ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes; skip the book build and grading")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")

    results: dict[str, object] = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "quick": args.quick,
    }
    if args.quick:
        results |= bench_sweep(n_models=8, steps=10)
        results |= bench_widgets(n_changes=6)
        results |= bench_optimizers(steps=50, repeats=1)
        results |= dict.fromkeys(
            ["build_cold_s", "build_nochange_s", "grade_s_per_submission_otter", "grade_s_per_submission_nbgrader"]
        )
    else:
        results |= bench_sweep(n_models=64, steps=100)
        results |= bench_widgets(n_changes=60)
        results |= bench_optimizers(steps=500)
        with tempfile.TemporaryDirectory(prefix="optimlab-bench-") as scratch:
            copy = Path(scratch) / "repo"
            copy_repository(copy)
            results |= bench_build(copy)
            results |= bench_grading(copy, n_submissions=12)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
