"""Deciding a submission's grade from what its sandbox sent back: plain events, never objects of the student's.

The sandbox worker (`autograder.worker`) runs the notebook's cells and calls each graded
function on the hidden cases; it sends back JSON events (cells run, errors, records of each
function's results, attempts to get around the delegation watch) and how the process ended.
`decide` turns them into an `Outcome`: per question the points and the findings (the
hint and first failing case of each failing check, from `autograder.checks.grading`), a
question whose function delegates the update to an optimizer library or tampers with the
watch scored 0, and a line that says what went wrong with the notebook as a whole.

Points per hidden test are those the build resolved from the exercise's source notebook,
the one place they are written (`make_plan` reads them from the nbgrader source notebook).
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

from . import paths
from .checks.grading import (
    Finding,
    Question,
    delegation_hint,
    evaluate,
    import_aliases,
    load_exercise,
    optimizers_allowed,
    static_delegation,
)
from .protocol import TAMPER_EVENT, switched_off_libraries

OUTPUT_NOTE_CHARS = 2**20  # printing more than this is worth a note in the error column
STUB_ERROR = "NotImplementedError"  # what nbgrader's blank in a solution cell raises, as the worker words it


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
    optimizers_allowed: bool = False  # an exercise on PyTorch's own optimizer API (`grading.optimizers_allowed`)

    def possible(self, question: str) -> float:
        return sum(self.points[question].values())

    def empty(self, error: str) -> Outcome:
        return Outcome({q: QuestionResult(0.0, self.possible(q)) for q in self.questions}, error)


def make_plan(root: Path, exercise: str) -> Plan:
    """The exercise's questions, with the points of each hidden test, as built under `root`."""
    return plan_from_points(exercise, read_points(root, exercise))


def read_points(root: Path, exercise: str) -> dict[str, dict[str, float]]:
    """Question -> check -> points of its hidden test (`test_<check>`), as the build resolved them.

    The points are read from the nbgrader source notebook, where the build wrote the points
    otter resolved from the exercise's source (reading them there avoids importing otter,
    which costs seconds): grade ids are `question-test_name`; public tests are worth 0.
    """
    source = paths.nbgrader_notebook(root, "source", exercise)
    if not source.exists():
        raise FileNotFoundError(f"{source} is missing; run `python -m autograder build` first")
    points: dict[str, dict[str, float]] = {}
    for cell in json.loads(source.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("points"):
            name, _, test_name = meta["grade_id"].partition("-")
            points.setdefault(name, {})[test_name.removeprefix("test_")] = float(meta["points"])
    return points


def plan_from_points(exercise: str, points: dict[str, dict[str, float]]) -> Plan:
    """The plan for `exercise` with these points; refuses points for checks that do not exist, or checks without."""
    questions = load_exercise(exercise)
    for name, checks in points.items():
        unknown = sorted(set(checks) - set(questions[name].checks)) if name in questions else sorted(checks)
        if unknown:
            raise ValueError(f"{exercise}: hidden tests of {name} with no check in autograder.checks: {unknown}")
    for name, question in questions.items():
        missing = sorted(set(question.checks) - set(points.get(name, {})))
        if missing:
            raise ValueError(f"{exercise}: checks of {name} without a hidden test worth points: {missing}")
    return Plan(exercise, questions, {name: dict(points[name]) for name in questions}, optimizers_allowed(exercise))


# ---------------------------------------------------------------- one submission


def decide(plan: Plan, cells: list[str], answer: dict, timeout: float) -> Outcome:
    """The outcome of a submission whose `cells` the sandbox ran, from the worker's `answer` (`autograder.worker`)."""
    events = _parse_events(answer["events"])
    cell_errors = [e for e in events if e.get("event") == "cell_error" and _valid_index(e, cells)]
    # nbgrader's blank (`raise NotImplementedError()`) left in answer cells: said once, the questions say which.
    blanks = [e for e in cell_errors if e.get("error") == f"raised {STUB_ERROR}"]
    problems = [
        f"the cell starting `{_first_line(cells[e['index']])}` {e['error']}" for e in cell_errors if e not in blanks
    ]
    if blanks:
        problems.append(
            f"{len(blanks)} answer cell{'s' if len(blanks) > 1 else ''} still raise NotImplementedError "
            "(left as handed out)"
        )
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
    outcome.error = join(problems)
    return outcome


def _grade_question(
    name: str, question: Question, plan: Plan, event: dict | None, cells: list[str], aliases: dict[str, str]
) -> QuestionResult:
    result = QuestionResult(0.0, plan.possible(name))
    if event is None:
        result.findings.append(
            Finding("", f"`{name}` was not graded: the notebook stopped before it (see the problem above).")
        )
        return result
    if event.get("missing"):
        result.findings.append(
            Finding(
                "", f"`{name}` is not defined: no cell defines a function of that name, or the cell that does failed."
            )
        )
        return result
    checks = event.get("checks") if isinstance(event.get("checks"), dict) else {}
    delegated = set(_static_delegation(name, cells, aliases))
    for records in checks.values():
        for record in records if isinstance(records, list) else []:
            delegated.update(lib for lib in record.get("delegated", []) if isinstance(lib, str))
            for step in record.get("steps", []) if isinstance(record.get("steps"), list) else []:
                if isinstance(step, dict) and isinstance(step.get("error"), str):
                    delegated.update(switched_off_libraries(step["error"]))
    if delegated and not plan.optimizers_allowed:
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
    return (
        f"`{name}` tried to switch off or get around the grader's watch for optimizer calls while it was "
        f"graded ({', '.join(events)}), so it earns 0 points: implement the update with tensor operations, "
        "without profile or trace hooks, the garbage collector's object lists, ctypes or new code objects."
    )


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
        return (
            f"timed out {where}: it ran longer than {timeout:g} s (an infinite loop or a very slow cell?) "
            "and was stopped"
        )
    if answer.get("signal"):
        cause = {
            "SIGXCPU": "it used more CPU time than allowed",
            "SIGKILL": "killed (out of memory?)",
            "SIGSEGV": "the interpreter crashed",
        }.get(answer["signal"], "it was stopped")
        return f"the process died {where} with signal {answer['signal']}: {cause}"
    return (
        f"the process ended {where} with exit code {answer.get('exit_code')} "
        "(os._exit() or a crash); only what it finished before counts"
    )


def _static_delegation(name: str, cells: list[str], aliases: dict[str, str]) -> list[str]:
    found = set()
    for source in cells:
        tree = _parse(source)
        if tree is not None and any(
            isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name for n in ast.walk(tree)
        ):
            found = set(static_delegation(ast.unparse(tree), name, aliases))  # the last definition counts
    return sorted(found)


def _module_aliases(cells: list[str]) -> dict[str, str]:
    aliases = {}
    for source in cells:
        tree = _parse(source)
        if tree is not None:
            aliases.update(
                import_aliases(
                    ast.Module(
                        body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[]
                    )
                )
            )
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


def join(parts: list[str]) -> str:
    return "; ".join(part for part in parts if part)
