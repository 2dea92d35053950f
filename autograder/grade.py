"""`python -m autograder grade`: grade a folder of submissions, each in a sandbox, decided outside it.

For each submission the grader (this process, which never runs student code):

1. reads the file as a notebook and picks the student's code cells (`--engine` says whose
   format: the otter student notebook or the nbgrader release notebook);
2. sends the cells and the hidden cases to a sandbox worker (`autograder.sandbox`), which runs
   them in a fresh child with time and memory limits and sends back events: plain data;
3. decides the grade from them (`autograder.decide`): compares the records with the
   reference's, names the mistake from the exercise's catalog, and zeroes a question whose
   function delegates the update to an optimizer library or gets around the watch for that.

Then `autograder.report` writes OUT/grades.csv (submission, one column per question, total,
possible, error) and OUT/feedback/SUBMISSION.html, and `autograder.class_report` the class's
view: OUT/report.html and OUT/report.json (common mistakes, scores, errors, timing). The Gradescope autograder
(`autograder.gradescope`) grades its one submission with the same `submission.grade_submission`.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from . import paths
from .protocol import SUBMISSION_TIMEOUT_S
from .sandbox import NO_SANDBOX_WARNING, Sandbox, require_sandbox

if TYPE_CHECKING:
    from .decide import Outcome

ENGINES = ("otter", "nbgrader")
SUBMISSION_SUFFIX = ".ipynb"


def grade_folder(
    exercise: str,
    submissions: Path,
    out: Path,
    *,
    root: Path = paths.DEFAULT_ROOT,
    engine: str = "otter",
    jobs: int = 1,
    timeout: float = SUBMISSION_TIMEOUT_S,
    sandbox: bool = True,
) -> list[dict]:
    """Grade every `*.ipynb` in `submissions`; returns the rows written to `out/grades.csv`.

    Raises `SandboxUnavailable` when `sandbox` is asked for and cannot start; without it
    (`--no-sandbox`) every row's `error` says so.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if engine == "nbgrader" and not paths.nbgrader_notebook(root, "release", exercise).exists():
        raise FileNotFoundError(f"no nbgrader release of {exercise} under {root}; run `python -m autograder build`")
    files = sorted(p for p in submissions.iterdir() if p.name.endswith(SUBMISSION_SUFFIX) and p.is_file())
    if not files:
        raise FileNotFoundError(f"no .ipynb submissions in {submissions}")
    if sandbox:
        require_sandbox()

    workers = min(jobs, len(files))
    idle: queue.Queue[Sandbox] = queue.Queue()
    try:
        for _ in range(workers):
            idle.put(Sandbox(isolated=sandbox))
        # The workers now import torch and IPython, seconds each; this process imports the grading modules (torch,
        # nbformat) and computes the reference's records meanwhile: hence these imports here, not at the top.
        from .class_report import write_class_report
        from .decide import join, make_plan
        from .report import write_report
        from .submission import grade_submission

        plan = make_plan(root, exercise)
        for question in plan.questions.values():
            question.reference_records  # noqa: B018  (computed once, before threads share it)

        def grade_one(path: Path) -> tuple[Outcome, float]:
            """The submission's outcome and its wall time, from taking a worker to handing it back."""
            worker = idle.get()
            start = time.perf_counter()
            try:
                outcome = grade_submission(path, plan, engine, worker, timeout)
            except Exception as error:  # a bug of ours must cost one row, not the batch
                outcome = plan.empty(f"the grader failed on this submission: {type(error).__name__}: {error}")
            finally:
                idle.put(worker)
            return outcome, time.perf_counter() - start

        with ThreadPoolExecutor(max_workers=workers) as pool:
            timed = list(
                tqdm(pool.map(grade_one, files), total=len(files), unit="nb", desc=f"grading {exercise} ({engine})")
            )
    finally:
        while not idle.empty():
            idle.get().close()

    graded = []
    for path, (outcome, _) in zip(files, timed):
        student = path.name[: -len(SUBMISSION_SUFFIX)]
        if not student:
            outcome.error = join(
                [f"the file name {path.name!r} has no student id before {SUBMISSION_SUFFIX}", outcome.error]
            )
        if not sandbox:
            outcome.error = join([NO_SANDBOX_WARNING, outcome.error])
        graded.append((student, outcome))
    rows = write_report(out, plan, graded)
    write_class_report(out, plan, graded, [seconds for _, seconds in timed])
    return rows
