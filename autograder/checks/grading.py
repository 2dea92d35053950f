"""Deciding a check from records: compare with the reference, name the mistake, show the first failing case.

An exercise defines, per graded function, its `Signature`, the reference, its `Check`s
(named groups of seeded cases; each hidden test of the notebook is one check) and the
catalog of common `Mistake`s. The same code decides a check in two places:

- `python -m autograder grade`: the student's records come from the sandbox over a pipe;
  the grader, which never ran student code, calls `evaluate`.
- the native otter/nbgrader hidden tests: `assert_check` runs the student's function in
  the kernel and raises AssertionError with the same message.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import runners  # noqa: F401  (registers the runners and makers of every exercise)
from .records import EXEMPT_ALL, RUNNERS, Signature, decode_array, delegate_library_of_module

# Float64 cases and a tight tolerance separate real mistakes from rounding; float32 cases
# (which check that the outputs keep the inputs' dtype) allow float32's rounding.
RTOL, ATOL = 1e-7, 1e-9
FLOAT32_RTOL, FLOAT32_ATOL = 1e-5, 1e-6


@dataclass(frozen=True)
class Check:
    """One hidden test: seeded cases, and whether the function must also leave its inputs unchanged."""

    cases: Callable[[], list[dict]]
    pure: bool = False


@dataclass(frozen=True)
class Mistake:
    """A common wrong solution, kept as test data: its step function, the hint that names it and, when it is not
    the question's, the label of the book section that teaches the fix."""

    name: str
    hint: str
    step: Callable
    label: str = ""


@dataclass(frozen=True)
class Question:
    """A graded name: how it is called, its reference, its checks and its catalog of mistakes.

    `runner` names how a case is run (`records.RUNNERS`: "steps" calls a step function through the
    case's steps). By default a check compares the student's records with the reference's; a `judge`
    decides each case from the student's record instead (for questions with many right answers, such
    as a random shuffle): it returns '' when the case passes, else what is wrong, in words.
    """

    signature: Signature
    reference: Callable
    checks: dict[str, Check]
    mistakes: tuple[Mistake, ...]
    label: str  # the book section that teaches this question's fix: `(label)=` on a chapter's heading
    runner: str = "steps"
    judge: Callable[[dict, dict], str] | None = None

    def run(self, subject, case: dict, trusted: bool = False) -> dict:
        """The record of what `subject` (the student's, or, `trusted`, the reference or a mistake) does with `case`.

        Our own code may call anything (a reference built on optimlab's other functions): no delegation watch.
        """
        signature = dataclasses.replace(self.signature, exempt=EXEMPT_ALL) if trusted else self.signature
        return RUNNERS[self.runner](subject, signature, case)

    def label_of(self, hint: str) -> str:
        """The book label for `hint`: its cataloged mistake's, else the question's (generic hints)."""
        return next((m.label for m in self.mistakes if m.hint == hint and m.label), self.label)

    def mistakes_named_by(self, hints) -> list[str]:
        """The names of the cataloged mistakes whose hint is one of `hints`, in catalog order."""
        return [m.name for m in self.mistakes if m.hint in hints]

    @functools.cached_property
    def cases(self) -> dict[str, list[dict]]:
        return {name: check.cases() for name, check in self.checks.items()}

    @functools.cached_property
    def reference_records(self) -> dict[str, list[dict]]:
        return self.records_of(self.reference, trusted=True)

    def records_of(self, fn: Callable, trusted: bool = False) -> dict[str, list[dict]]:
        """What `fn` does with every case of every check (only ever called on code we trust or in a sandbox)."""
        return {name: [self.run(fn, case, trusted) for case in cases] for name, cases in self.cases.items()}

    def mistake_records(self, mistake: Mistake, check: str) -> list[dict]:
        """What `mistake` does with `check`'s cases; computed when a check first needs a diagnosis, then kept."""
        cache = self.__dict__.setdefault("_mistake_records", {})
        if (mistake.name, check) not in cache:
            cache[mistake.name, check] = [self.run(mistake.step, case, trusted=True) for case in self.cases[check]]
        return cache[mistake.name, check]


@dataclass
class Finding:
    """Why a check failed: the hint (a named mistake, or what differs) and the first failing case in small form."""

    check: str
    hint: str
    case: str = ""
    expected: str = ""
    got: str = ""
    mistake_hints: tuple[str, ...] = ()  # the cataloged mistakes this matches, when any; `hint` joins them

    @property
    def hints(self) -> tuple[str, ...]:
        """Each piece of advice on its own: a matched mistake's hint, or the one hint."""
        return self.mistake_hints or (self.hint,)

    def __str__(self) -> str:
        parts = [self.hint if self.hint.endswith(".") else self.hint + "."]
        if self.case:
            parts.append(f"First failing case: {self.case}.")
        if self.expected or self.got:
            parts.append(f"Expected {self.expected}; got {self.got}.")
        return " ".join(parts)


@dataclass
class CheckResult:
    passed: bool
    finding: Finding | None = field(default=None)


def load_exercise(exercise: str) -> dict[str, Question]:
    """The questions of `exercise`, from `autograder.checks.<topic>` (see `autograder.checks.check_module`)."""
    return _exercise_module(exercise).QUESTIONS


def optimizers_allowed(exercise: str) -> bool:
    """Whether `exercise` is about PyTorch's own optimizer API (its module sets OPTIMIZERS_ALLOWED): then its
    graded functions may call torch.optim, and the grading sandbox leaves it working."""
    return bool(getattr(_exercise_module(exercise), "OPTIMIZERS_ALLOWED", False))


def _exercise_module(exercise: str):
    from . import check_module, known_exercises

    try:
        return importlib.import_module(f"{__package__}.{check_module(exercise)}")
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.{check_module(exercise)}":
            raise
        raise LookupError(
            f"no hidden checks for exercise {exercise!r}; known: {', '.join(known_exercises())}"
        ) from None


# ---------------------------------------------------------------- deciding a check


def evaluate(question: Question, check: str, records: list[dict]) -> CheckResult:
    """Compare the student's records for `check` with the reference's; on failure, name the mistake."""
    expected = question.reference_records[check]
    try:
        if question.judge is not None:
            return _judged(question, check, records)
        difference = first_difference(question, check, records, expected)
    except (KeyError, TypeError, ValueError, IndexError) as error:  # records from a sandbox may be malformed
        return CheckResult(False, Finding(check, f"the grader could not read your function's results ({error})"))
    if difference is None:
        return CheckResult(True)
    hints = tuple(
        dict.fromkeys(m.hint for m in question.mistakes if _same_records(records, question.mistake_records(m, check)))
    )
    finding = difference
    if hints:
        finding.hint, finding.mistake_hints = " ".join(hints), hints
    return CheckResult(False, finding)


def _judged(question: Question, check: str, records: list[dict]) -> CheckResult:
    """A check decided by the question's judge, case by case; a failure names the cataloged mistake it matches."""
    cases = question.cases[check]
    if len(records) != len(cases):
        raise ValueError(f"{len(records)} case records for {len(cases)} cases")
    for case, record in zip(cases, records):
        errors = [step["error"] for step in record["steps"] if "error" in step]
        hint = str(errors[0])[:400] if errors else question.judge(case, record)
        if hint:
            hints = tuple(dict.fromkeys(m.hint for m in question.mistakes if m.hint == hint))
            return CheckResult(False, Finding(check, hint, mistake_hints=hints))
    return CheckResult(True)


def first_difference(question: Question, check: str, records: list[dict], expected: list[dict]) -> Finding | None:
    """The first step at which `records` part from `expected` (the reference's), or None when they agree."""
    signature, pure = question.signature, question.checks[check].pure
    if len(records) != len(expected):
        raise ValueError(f"{len(records)} case records for {len(expected)} cases")
    for case, got, want in zip(question.cases[check], records, expected):
        for index, want_step in enumerate(want["steps"]):
            got_step = got["steps"][index] if index < len(got["steps"]) else {"error": "no result for this step"}

            def finding(hint: str, got_text: str | None = None) -> Finding:
                """The finding at this step; the case and outputs are put in words only here, on failure."""
                where = _case_text(signature, case, want["steps"], index)  # noqa: B023  (used before the loop moves on)
                if got_text is None:
                    return Finding(check, hint, where)
                return Finding(check, hint, where, _outputs_text(signature, want_step["out"]), got_text)  # noqa: B023

            if "error" in got_step:
                return finding(str(got_step["error"])[:400], "an error")
            wrong = [
                name for name, g, w in zip(signature.returns, got_step["out"], want_step["out"]) if not _close(g, w)
            ]
            outputs = zip(signature.returns, got_step["out"], want_step["out"])
            dtypes = [
                (name, g["dtype"], w["dtype"])
                for name, g, w in outputs
                if isinstance(g, dict)
                and isinstance(w, dict)
                and "dtype" in g
                and "dtype" in w
                and g["dtype"] != w["dtype"]
            ]
            if dtypes:
                name, got_dtype, want_dtype = dtypes[0]
                hint = (
                    f"`{name}` comes back as {got_dtype} for {want_dtype} inputs: keep the inputs' dtype "
                    "(compute with the tensors you are given: no tensors of another dtype, no .double())"
                )
                return finding(hint, _outputs_text(signature, got_step["out"]))
            if wrong:
                hint = (
                    f"`{wrong[0]}` differs from the reference"
                    + (" (and so does " + ", ".join(f"`{n}`" for n in wrong[1:]) + ")" if wrong[1:] else "")
                    + "; compare your update with the formulas in the prompt."
                )
                return finding(hint, _outputs_text(signature, got_step["out"]))
            if pure and got_step["modified"]:
                return finding(modified_hint(got_step["modified"][0]))
    return None


def modified_hint(name: str) -> str:
    return (
        f"your function modified its input `{name}` in place; step functions must be pure: write "
        f"`{name} = ...` to build a new tensor instead of `{name} -= ...`, `{name}.mul_(...)` or `{name}[...] = ...`."
    )


def _same_records(a: list[dict], b: list[dict]) -> bool:
    """Whether two sides did the same on every case: same outputs (within tolerance), errors and in-place edits."""
    try:
        for x, y in zip(a, b, strict=True):
            for s, t in zip(x["steps"], y["steps"], strict=True):
                if ("error" in s) != ("error" in t):
                    return False
                if "error" in s:
                    if s["error"] != t["error"]:
                        return False
                    continue
                if s["modified"] != t["modified"] or not all(
                    _close(g, w) for g, w in zip(s["out"], t["out"], strict=True)
                ):
                    return False
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _close(got, want) -> bool:
    """Same kind and values within tolerance: tensors of the same dtype and shape; numbers; lists and dicts item by
    item; anything else (None, strings, booleans) only when equal."""
    if got == want:  # the same bytes: most outputs of a correct function, decided without decoding
        return True
    if isinstance(want, bool) or isinstance(got, bool):
        return False
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and bool(np.isclose(got, want, rtol=RTOL, atol=ATOL))
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_close, got, want))
    if isinstance(want, dict) and "mapping" in want:
        if not (isinstance(got, dict) and isinstance(got.get("mapping"), dict)):
            return False
        g, w = got["mapping"], want["mapping"]
        return g.keys() == w.keys() and all(_close(g[key], w[key]) for key in w)
    if not (isinstance(want, dict) and isinstance(got, dict) and "dtype" in got):
        return False
    g, w = decode_array(got), decode_array(want)
    rtol, atol = (FLOAT32_RTOL, FLOAT32_ATOL) if w.dtype == np.float32 else (RTOL, ATOL)
    return (
        g.dtype == w.dtype
        and g.shape == w.shape
        and bool(np.allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol))
    )


# ---------------------------------------------------------------- small forms for feedback


def small(value) -> str:
    """A tensor, number or list in a few characters: up to 4 values, else the shape (or length) and the first 3."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        items = [small(item) for item in value[:4]]
        return "[" + ", ".join(items) + "]" if len(value) <= 4 else f"{len(value)} items [{', '.join(items[:3])}, ...]"
    if isinstance(value, dict) and "made" in value:
        return f"{value['made']}({', '.join(f'{k}={small(v)}' for k, v in value['args'].items())})"
    if isinstance(value, dict) and "mapping" in value:
        return "{" + ", ".join(f"{k!r}: {small(v)}" for k, v in list(value["mapping"].items())[:4]) + "}"
    if not isinstance(value, dict):
        return repr(value)
    array = decode_array(value)
    flat = [f"{x:.4g}" for x in array.astype(np.float64).ravel()[:4]]
    if array.ndim == 0:
        return flat[0]
    if array.size <= 4:
        return "[" + ", ".join(flat) + "]"
    return f"shape {tuple(array.shape)} [{', '.join(flat[:3])}, ...]"


def _case_text(signature: Signature, case: dict, reference_steps: list[dict], index: int) -> str:
    """'step t of n with w=..., grad=..., lr=...' : the inputs of the failing call (state as the reference had it)."""
    state = dict(case["state"])
    for step in reference_steps[:index]:
        state.update({name: out for name, out in zip(signature.returns, step["out"]) if name in state})
    args = {**state, **case["steps"][index]}
    inputs = ", ".join(f"{name}={small(args[name])}" for name in signature.params)
    return f"step {index + 1} of {len(case['steps'])}, called with {inputs}"


def _outputs_text(signature: Signature, outputs: list) -> str:
    return ", ".join(f"{name}={small(value)}" for name, value in zip(signature.returns, outputs))


# ---------------------------------------------------------------- delegation


def delegation_hint(name: str, libraries: list[str]) -> str:
    return (
        f"`{name}` calls {', '.join(libraries)} for the update: this question asks you to implement the "
        "update rule yourself with tensor operations, so it earns 0 points."
    )


def static_delegation(source: str, name: str, aliases: dict[str, str]) -> list[str]:
    """Optimizer modules the definition of `name` in `source` refers to, directly or through `aliases`.

    `aliases` maps a module-level name to the dotted module or object it was imported as
    (see `import_aliases`). A function calling a helper that calls an optimizer is caught at
    run time instead (records' "delegated").
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name):
            continue
        local = {**aliases, **import_aliases(node)}
        # A class is read from its body: its base (`torch.optim.Optimizer` for an optimizer written from scratch)
        # is what the question asks for; the body calling another optimizer is not.
        body = node.body if isinstance(node, ast.ClassDef) else [node]
        for inner in (n for part in body for n in ast.walk(part)):
            dotted = _dotted(inner)
            if dotted:
                head, _, rest = dotted.partition(".")
                found.add(delegate_library_of_module(local.get(head, head) + (f".{rest}" if rest else "")))
            if isinstance(inner, (ast.Import, ast.ImportFrom)):
                found.update(delegate_library_of_module(target) for target in import_aliases(inner).values())
    return sorted(module for module in found if module)


def import_aliases(tree: ast.AST) -> dict[str, str]:
    """Name -> dotted target for every import in `tree` (`from torch import optim` gives optim -> torch.optim)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node: ast.AST) -> str:
    """'torch.optim.SGD' for an attribute chain or name node; '' otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


# ---------------------------------------------------------------- native hidden tests (otter, nbgrader)


def assert_check(exercise: str, question_name: str, check: str, fn: Callable) -> None:
    """Run the student's `fn` on `check`'s cases in this kernel; raise AssertionError naming the mistake.

    This is what the notebook's hidden tests call under `otter run`/Gradescope and nbgrader's
    own autograde, where the grader shares the student's kernel.
    """
    question = load_exercise(exercise)[question_name]
    records = [question.run(fn, case) for case in question.cases[check]]
    delegated = sorted({lib for record in records for lib in record["delegated"]} | set(_static_delegation_of(fn)))
    if delegated and not optimizers_allowed(exercise):
        raise AssertionError(delegation_hint(question_name, delegated))
    result = evaluate(question, check, records)
    if not result.passed:
        raise AssertionError(str(result.finding))


def _static_delegation_of(fn: Callable) -> list[str]:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return []
    aliases = {
        name: getattr(value, "__name__", "")
        if inspect.ismodule(value)
        else f"{getattr(value, '__module__', '')}.{name}"
        for name, value in getattr(fn, "__globals__", {}).items()
        if inspect.ismodule(value) or callable(value)
    }
    return static_delegation(source, fn.__name__, aliases)
