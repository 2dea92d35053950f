"""`python -m autograder grade`: grade a folder of submissions, each in a sandbox, decided outside it.

For each submission the grader (this process, which never runs student code):

1. reads the file as a notebook and picks the student's code cells (`--engine` says whose
   format: the otter student notebook or the nbgrader release notebook);
2. sends the cells and the hidden cases to a sandbox worker (`autograder.worker`), which runs
   them in a fresh child with time and memory limits and sends back records: plain data;
3. compares the records with the reference's (`autograder.checks.grading`), names the
   mistake from the exercise's catalog, and zeroes a question whose function delegates the
   update to an optimizer library.

Points per hidden test are those the build resolved from the exercise's source notebook,
the one place they are written. Writes OUT/grades.csv (submission, one column per
question, total, possible, error) and OUT/feedback/SUBMISSION.html.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import html
import json
import queue
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import paths
from .checks.grading import Finding, Question, delegation_hint, evaluate, import_aliases, load_exercise, static_delegation
from .protocol import TAMPER_EVENT, switched_off_libraries
from .sandbox import NO_SANDBOX_WARNING, Sandbox, WorkerFailed, require_sandbox

ENGINES = ("otter", "nbgrader")
MAX_SUBMISSION_BYTES = 20 * 2**20
MEMORY_MB = 2048  # address space a submission may add on top of the interpreter with torch loaded
OUTPUT_NOTE_CHARS = 2**20  # printing more than this is worth a note in the error column
GRADER_CHECK = re.compile(r"^\s*grader\.check(_all)?\(.*\)\s*$", re.MULTILINE)  # otter's public checks: not graded
SUBMISSION_SUFFIX = ".ipynb"


class NotANotebook(ValueError):
    """The submission is not a Jupyter notebook; the message says why."""


@dataclasses.dataclass
class QuestionResult:
    score: float
    possible: float
    findings: list[Finding] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Outcome:
    questions: dict[str, QuestionResult]
    error: str = ""


@dataclasses.dataclass
class Plan:
    """What every submission of an exercise is graded on: the questions and the points of each hidden test."""

    exercise: str
    questions: dict[str, Question]
    points: dict[str, dict[str, float]]  # question -> check -> points

    def possible(self, question: str) -> float:
        return sum(self.points[question].values())

    def request(self, cells: list[str], timeout: float) -> dict:
        return {"cells": cells, "timeout": timeout, "memory_mb": MEMORY_MB, "questions": {
            name: {"params": q.signature.params, "returns": q.signature.returns, "cases": q.cases}
            for name, q in self.questions.items()}}

    def empty(self, error: str) -> Outcome:
        return Outcome({q: QuestionResult(0.0, self.possible(q)) for q in self.questions}, error)


def make_plan(root: Path, exercise: str) -> Plan:
    """The exercise's questions, with the points of each hidden test (`test_<check>`).

    The points are read from the nbgrader source notebook, where the build wrote the points
    otter resolved from the exercise's source (reading them there avoids importing otter,
    which costs seconds): grade ids are `question-test_name`; public tests are worth 0.
    """
    source = paths.nbgrader_notebook(root, "source", exercise)
    if not source.exists():
        raise FileNotFoundError(f"{source} is missing; run `python -m autograder build` first")
    questions = load_exercise(exercise)
    points: dict[str, dict[str, float]] = {name: {} for name in questions}
    for cell in json.loads(source.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or not meta.get("points"):
            continue
        name, _, test_name = meta["grade_id"].partition("-")
        check = test_name.removeprefix("test_")
        if name not in questions or check not in questions[name].checks:
            raise ValueError(f"{exercise}: hidden test {test_name} of {name} has no check `{check}` in autograder.checks")
        points[name][check] = float(meta["points"])
    for name, question in questions.items():
        if set(points[name]) != set(question.checks):
            raise ValueError(f"{exercise}: checks of {name} without a hidden test worth points: "
                             f"{sorted(set(question.checks) - set(points[name]))}")
    return Plan(exercise, questions, points)


def grade_folder(exercise: str, submissions: Path, out: Path, *, root: Path = paths.DEFAULT_ROOT,
                 engine: str = "otter", jobs: int = 1, timeout: float = 300, sandbox: bool = True) -> list[dict]:
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
    plan = make_plan(root, exercise)
    if sandbox:
        require_sandbox()

    workers = min(jobs, len(files))
    idle: queue.Queue[Sandbox] = queue.Queue()
    for _ in range(workers):
        idle.put(Sandbox(isolated=sandbox))  # they import torch while this process computes the reference's records
    for question in plan.questions.values():
        question.reference_records  # noqa: B018  (computed once, before threads share it)

    def grade_one(path: Path) -> Outcome:
        sandbox = idle.get()
        try:
            return grade_submission(path, plan, engine, sandbox, timeout)
        except Exception as error:  # a bug of ours must cost one row, not the batch
            return plan.empty(f"the grader failed on this submission: {type(error).__name__}: {error}")
        finally:
            idle.put(sandbox)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(tqdm(pool.map(grade_one, files), total=len(files), unit="nb",
                                 desc=f"grading {exercise} ({engine})"))
    finally:
        while not idle.empty():
            idle.get().close()

    (out / "feedback").mkdir(parents=True, exist_ok=True)
    rows, used_names = [], set()
    for path, outcome in zip(files, outcomes):
        student = path.name[: -len(SUBMISSION_SUFFIX)]
        if not student:
            outcome.error = _join([f"the file name {path.name!r} has no student id before {SUBMISSION_SUFFIX}", outcome.error])
        if not sandbox:
            outcome.error = _join([NO_SANDBOX_WARNING, outcome.error])
        rows.append(_row(student, outcome, plan))
        page = _feedback_file_name(student, used_names)
        (out / "feedback" / page).write_text(feedback_page(student, outcome, plan), encoding="utf-8")
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["submission", *plan.questions, "total", "possible", "error"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


# ---------------------------------------------------------------- one submission

def grade_submission(path: Path, plan: Plan, engine: str, sandbox: Sandbox, timeout: float) -> Outcome:
    try:
        nb = read_submission(path)
    except NotANotebook as error:
        return plan.empty(str(error))
    stamped = nb.metadata.get("autograder", {}).get("exercise") if isinstance(nb.metadata.get("autograder"), dict) else None
    if stamped and stamped != plan.exercise:
        return plan.empty(f"wrong exercise: this notebook is {stamped}, not {plan.exercise}")
    cells = student_cells(nb, engine)
    try:
        answer = sandbox.run(plan.request([source for source in cells], timeout))
    except WorkerFailed as error:
        return plan.empty(str(error))
    events = _parse_events(answer["events"])
    problems = [f"the cell starting `{_first_line(cells[e['index']])}` {e['error']}"
                for e in events if e.get("event") == "cell_error" and _valid_index(e, cells)]
    printed = next((e.get("chars", 0) for e in events if e.get("event") == "output"), 0)
    if isinstance(printed, int) and printed > OUTPUT_NOTE_CHARS:
        problems.append(f"the notebook printed {printed:,} characters; output is not kept")
    if not any(e.get("event") == "done" for e in events):
        problems.append(_ending(answer, events, cells, timeout))

    records = {e["name"]: e for e in events if e.get("event") == "records" and e.get("name") in plan.questions}
    tampering = _tampering_by_question(events)
    aliases = _module_aliases(cells)
    outcome = Outcome({})
    for name, question in plan.questions.items():
        if tampering.get(name):
            finding = Finding("", tamper_hint(name, tampering[name]))
            outcome.questions[name] = QuestionResult(0.0, plan.possible(name), [finding])
            continue
        outcome.questions[name] = _grade_question(name, question, plan, records.get(name), cells, aliases)
    if records and all(r.get("missing") for r in records.values()):
        problems.append(f"it defines none of {', '.join(plan.questions)}: is it a submission for another exercise?")
    outcome.error = _join(problems)
    return outcome


def _grade_question(name: str, question: Question, plan: Plan, event: dict | None, cells: list[str],
                    aliases: dict[str, str]) -> QuestionResult:
    result = QuestionResult(0.0, plan.possible(name))
    if event is None:
        result.findings.append(Finding("", f"`{name}` was not graded: the notebook stopped before it (see the problem above)."))
        return result
    if event.get("missing"):
        result.findings.append(Finding("", f"`{name}` is not defined: no cell defines a function of that name, "
                                           "or the cell that does failed."))
        return result
    checks = event.get("checks") if isinstance(event.get("checks"), dict) else {}
    delegated = set(_static_delegation(name, cells, aliases))
    for records in checks.values():
        for record in records if isinstance(records, list) else []:
            delegated.update(lib for lib in record.get("delegated", []) if isinstance(lib, str))
            for step in record.get("steps", []) if isinstance(record.get("steps"), list) else []:
                if isinstance(step, dict) and isinstance(step.get("error"), str):
                    delegated.update(switched_off_libraries(step["error"]))
    if delegated:
        result.findings.append(Finding("", delegation_hint(name, sorted(delegated))))
        return result
    for check, points in plan.points[name].items():
        verdict = evaluate(question, check, checks.get(check))
        if verdict.passed:
            result.score += points
        else:
            result.findings.append(verdict.finding)
    return result


def _tampering_by_question(events: list[dict]) -> dict[str, list[str]]:
    """Question -> the watched audit events raised while its function was being called (between its
    `question` and `records` events; the audit hook writes to the same pipe, so the order is kept)."""
    found: dict[str, list[str]] = {}
    current = None
    for event in events:
        kind = event.get("event")
        if kind == "question":
            current = event.get("name")
        elif kind == "records":
            current = None
        elif kind == TAMPER_EVENT and isinstance(current, str) and isinstance(event.get("what"), str):
            found.setdefault(current, [])
            if event["what"] not in found[current]:
                found[current].append(event["what"])
    return found


def tamper_hint(name: str, events: list[str]) -> str:
    return (f"`{name}` tried to switch off or get around the grader's watch for optimizer calls while it was "
            f"graded ({', '.join(events)}), so it earns 0 points: implement the update with tensor operations, "
            "without profile or trace hooks, the garbage collector's object lists, ctypes or new code objects.")


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The submission as a notebook, or NotANotebook saying, in words, what it is instead."""
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise NotANotebook(f"not graded: the file is {size / 2**20:.0f} MB, more than the "
                           f"{MAX_SUBMISSION_BYTES // 2**20} MB a notebook may have")
    try:
        text = path.read_bytes().decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotANotebook(f"not a notebook: the file is not JSON ({error})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds on malformed input
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotANotebook(f"not a notebook: JSON, but not a valid Jupyter notebook ({first_line})") from None
    return nb


def student_cells(nb: nbformat.NotebookNode, engine: str) -> list[str]:
    """The code the student's notebook runs, in order, without the grader's own cells.

    otter: the setup cell (it imports otter) and `grader.check(...)` lines are the public
    checks; nbgrader: autograded test cells (grade, not solution) are the public tests.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        nbgrader = cell.metadata.get("nbgrader", {})
        if engine == "nbgrader" and isinstance(nbgrader, dict) and nbgrader.get("grade") and not nbgrader.get("solution"):
            continue
        if engine == "otter" and "otter.Notebook(" in cell.source:
            continue
        cells.append(GRADER_CHECK.sub("", cell.source) if engine == "otter" else cell.source)
    return cells


def _parse_events(text: str) -> list[dict]:
    """The child's JSON lines; a line it garbled (or cut off when it died) is skipped."""
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _ending(answer: dict, events: list[dict], cells: list[str], timeout: float) -> str:
    """How the process ended early, and where: in which cell, or grading which function."""
    last = next((e for e in reversed(events) if e.get("event") in ("cell", "question")), None)
    if last is None:
        where = "before it ran any cell"
    elif last["event"] == "cell" and _valid_index(last, cells):
        where = f"in the cell starting `{_first_line(cells[last['index']])}`"
    else:
        where = f"while `{last.get('name')}` was called on the hidden cases"
    if answer.get("timeout"):
        return f"timed out {where}: it ran longer than {timeout:g} s (an infinite loop or a very slow cell?) and was stopped"
    if answer.get("signal"):
        cause = {"SIGXCPU": "it used more CPU time than allowed", "SIGKILL": "killed (out of memory?)",
                 "SIGSEGV": "the interpreter crashed"}.get(answer["signal"], "it was stopped")
        return f"the process died {where} with signal {answer['signal']}: {cause}"
    return (f"the process ended {where} with exit code {answer.get('exit_code')} "
            "(os._exit() or a crash); only what it finished before counts")


def _static_delegation(name: str, cells: list[str], aliases: dict[str, str]) -> list[str]:
    found = set()
    for source in cells:
        tree = _parse(source)
        if tree is not None and any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.walk(tree)):
            found = set(static_delegation(ast.unparse(tree), name, aliases))  # the last definition counts
    return sorted(found)


def _module_aliases(cells: list[str]) -> dict[str, str]:
    aliases = {}
    for source in cells:
        tree = _parse(source)
        if tree is not None:
            aliases.update(import_aliases(ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))],
                                                     type_ignores=[])))
    return aliases


def _parse(source: str) -> ast.Module | None:
    """A cell's AST, IPython magics turned into Python first; None when it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _valid_index(event: dict, cells: list[str]) -> bool:
    return isinstance(event.get("index"), int) and 0 <= event["index"] < len(cells)


def _first_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line[:60]


def _join(parts: list[str]) -> str:
    return "; ".join(part for part in parts if part)


# ---------------------------------------------------------------- grades.csv and feedback

def _row(student: str, outcome: Outcome, plan: Plan) -> dict:
    row = {"submission": student}
    for name in plan.questions:
        row[name] = f"{outcome.questions[name].score:.4g}"
    row["total"] = f"{sum(r.score for r in outcome.questions.values()):.4g}"
    row["possible"] = f"{sum(plan.possible(q) for q in plan.questions):.4g}"
    row["error"] = outcome.error
    return row


def _feedback_file_name(student: str, used: set[str]) -> str:
    """A file name for the page: the student id with path separators and control characters replaced, unique."""
    base = re.sub(r"[/\\\x00-\x1f]", "_", student).lstrip(".") or "_no_name_"
    name, n = f"{base}.html", 1
    while name in used:
        n += 1
        name = f"{base}-{n}.html"
    used.add(name)
    return name


def feedback_page(student: str, outcome: Outcome, plan: Plan) -> str:
    """Per question: the points, and for each failing hidden test the hint and the first failing case."""
    e = html.escape
    total = sum(r.score for r in outcome.questions.values())
    possible = sum(plan.possible(q) for q in plan.questions)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {e(student)}</title>"
             "<style>body{font-family:sans-serif;max-width:56em;margin:2em auto}li{margin:.6em 0}"
             ".error{color:#a00}code,.case{font-family:monospace}.case{font-size:90%;color:#333}</style></head><body>",
             f"<h1>Feedback for {e(student) or '(no name)'}: {plan.exercise}</h1>"]
    if outcome.error:
        parts.append(f"<p class='error'><strong>Problem:</strong> {e(outcome.error)}</p>")
    parts.append(f"<p><strong>Total: {total:g} / {possible:g}</strong></p>")
    for name, result in outcome.questions.items():
        parts.append(f"<h2><code>{e(name)}</code>: {result.score:g} / {result.possible:g}</h2>")
        if not result.findings:
            parts.append("<p>All hidden tests passed.</p>")
            continue
        items = []
        for finding in result.findings:
            item = (f"<strong>{e(finding.check.replace('_', ' '))}:</strong> " if finding.check else "") + e(finding.hint)
            if finding.case:
                item += f"<div class='case'>First failing case: {e(finding.case)}</div>"
            if finding.expected or finding.got:
                item += (f"<div class='case'>expected: {e(finding.expected)}</div>"
                         f"<div class='case'>got: {e(finding.got)}</div>")
            items.append(f"<li>{item}</li>")
        parts.append("<ul>" + "".join(items) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
