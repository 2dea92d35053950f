"""`python -m autograder grade`: grade a folder of submissions, each in its own process with a time limit.

Writes OUT/grades.csv (submission, one column per question, total, possible, error) and
OUT/feedback/SUBMISSION.html. A submission that cannot be graded still gets its row, with
zeros and an `error` saying what happened; the batch always goes on.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import psutil
from tqdm import tqdm

from . import paths
from .engines import Outcome

ENGINES = ("otter", "nbgrader")


def questions(root: Path, exercise: str) -> dict[str, float]:
    """Question name -> points possible, in notebook order, read from the otter zip's test files."""
    import zipfile

    from otter.test_files import ExceptionTestFile

    zip_path = paths.otter_zip(root, exercise)
    if not zip_path.exists():
        raise FileNotFoundError(f"{zip_path} is missing; run `python -m autograder build` first")
    with zipfile.ZipFile(zip_path) as archive:
        files = [ExceptionTestFile.from_string(archive.read(name).decode(), path=name)
                 for name in archive.namelist() if re.fullmatch(r"tests/[^/]+\.py", name)]
    points = {f.name: sum(tc.points for tc in f.test_cases) for f in files}
    order = re.findall(r'grader\.check\("([^"]+)"\)', paths.student_notebook(root, exercise).read_text())
    return {name: points[name] for name in sorted(points, key=lambda n: order.index(n) if n in order else len(order))}


def grade_folder(exercise: str, submissions: Path, out: Path, *, root: Path = paths.DEFAULT_ROOT,
                 engine: str = "otter", jobs: int = 1, timeout: float = 300) -> list[dict]:
    """Grade every `*.ipynb` in `submissions`; returns the rows written to `out/grades.csv`."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if engine == "nbgrader" and not paths.nbgrader_notebook(root, "release", exercise).exists():
        raise FileNotFoundError(f"no nbgrader release of {exercise} under {root}; run `python -m autograder build`")
    possible = questions(root, exercise)
    files = sorted(submissions.glob("*.ipynb"))
    if not files:
        raise FileNotFoundError(f"no .ipynb submissions in {submissions}")

    (out / "feedback").mkdir(parents=True, exist_ok=True)
    rows = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_grade_in_process, engine, root, exercise, f, timeout): f for f in files}
        for future in tqdm(as_completed(futures), total=len(files), desc=f"grading {exercise} ({engine})", unit="nb"):
            submission = futures[future]
            outcome = future.result()
            rows.append(_row(submission.stem, outcome, possible))
            (out / "feedback" / f"{submission.stem}.html").write_text(_feedback_page(submission.stem, outcome, possible))
    rows.sort(key=lambda row: row["submission"])
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["submission", *possible, "total", "possible", "error"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _grade_in_process(engine: str, root: Path, exercise: str, submission: Path, timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        result = Path(scratch) / "outcome.json"
        command = [sys.executable, "-m", "autograder.worker", engine, str(root.resolve()), exercise,
                   str(submission.resolve()), str(result)]
        # Its own session, so that on timeout the worker, its kernel and anything they started go together.
        process = subprocess.Popen(command, cwd=scratch, env=paths.tool_environment(), start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            return Outcome(error=f"timed out: grading took longer than {timeout:g} s "
                                 "(an infinite loop or a very slow cell?) and was stopped")
        if not result.exists():
            last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
            return Outcome(error=f"the grading process died (exit code {process.returncode}): {last}")
        return Outcome(**json.loads(result.read_text()))


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill the worker's process group and every descendant (Jupyter starts kernels in sessions of their own)."""
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()


def _row(submission: str, outcome: Outcome, possible: dict[str, float]) -> dict:
    row = {"submission": submission}
    for question in possible:
        row[question] = round(outcome.scores.get(question, 0.0), 4)
    row["total"] = round(sum(row[q] for q in possible), 4)
    row["possible"] = sum(possible.values())
    row["error"] = outcome.error
    return row


def _feedback_page(submission: str, outcome: Outcome, possible: dict[str, float]) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {e(submission)}</title>"
             "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
             "li{margin:.4em 0}.error{color:#a00}</style></head><body>",
             f"<h1>Feedback for {e(submission)}</h1>"]
    if outcome.error:
        parts.append(f"<p class='error'><strong>Problem:</strong> {e(outcome.error)}</p>")
    total = sum(outcome.scores.get(q, 0.0) for q in possible)
    parts.append(f"<p><strong>Total: {total:g} / {sum(possible.values()):g}</strong></p>")
    for question, points in possible.items():
        score = outcome.scores.get(question, 0.0)
        parts.append(f"<h2><code>{e(question)}</code>: {score:g} / {points:g}</h2>")
        failures = outcome.failures.get(question, [])
        if failures:
            parts.append("<ul>" + "".join(f"<li>{e(message)}</li>" for message in failures) + "</ul>")
        elif question in outcome.scores and score == points:
            parts.append("<p>All tests passed.</p>")
        else:
            parts.append("<p>Not graded (see the problem above).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
