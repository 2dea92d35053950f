"""The autograder zip graded as Gradescope grades it gives the same scores and hints as `python -m autograder grade`.

Each submission gets a scratch folder laid out as Gradescope's /autograder: `source/` the
unzipped zip, `submission/` the student's notebook; the zip's own `run_autograder` then
runs (with this interpreter instead of otter's conda environment) and must write
`results/results.json` in Gradescope's format, matching the local grading of the same
notebooks row for row.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fixtures.grading import EXERCISE, SGD, built_root, handed_out, read_grades, write
from notebook_fill import MISTAKE, MISTAKE_CODE, REFERENCE, filled

from autograder import gradescope, paths
from autograder.grade import grade_folder
from autograder.sandbox import sandbox_problem

pytestmark = pytest.mark.slow
TIMEOUT_S = 60
NAMES = ("reference", "mistake", "broken")


def submissions() -> dict[str, object]:
    blank = handed_out(built_root(), "otter")
    return {
        "reference": filled(blank, REFERENCE),
        "mistake": filled(blank, {**REFERENCE, SGD: MISTAKE_CODE}),
        "broken": b"\x00 not a notebook",
    }


def run_as_gradescope(folder: Path, notebook: Path) -> dict:
    """Lay out `folder` as Gradescope's /autograder, run the zip's run_autograder there; its results.json."""
    with zipfile.ZipFile(paths.otter_zip(built_root(), EXERCISE)) as archive:
        archive.extractall(folder / "source")
    (folder / "submission").mkdir()
    (folder / "submission" / f"{EXERCISE}.ipynb").write_bytes(notebook.read_bytes())
    env = {**os.environ, gradescope.ROOT_VARIABLE: str(folder), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["bash", str(folder / "source" / "run_autograder")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * 2,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((folder / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradescope")
    notebooks = submissions()
    assert tuple(notebooks) == NAMES
    folder = write(base / "submissions", {name: (nb, None) for name, nb in notebooks.items()})
    local = base / "local"
    grade_folder(EXERCISE, folder, local, root=built_root(), engine="otter", jobs=2, timeout=TIMEOUT_S)
    results = {name: run_as_gradescope(base / f"gs-{name}", folder / f"{name}.ipynb") for name in NAMES}
    return read_grades(local), local, results


def hints_of(output: str) -> list[str]:
    """The hint lines of a question's feedback text (not the checks listed under them)."""
    return [line for line in output.splitlines() if line and not line.startswith(("-", " "))]


@pytest.mark.parametrize("name", NAMES)
def test_gradescope_scores_match_local_grading(graded, name):
    grades, _, results = graded
    row, result = grades[name], results[name]
    assert [test["name"] for test in result["tests"]] == list(row)[1:-3]
    for test in result["tests"]:
        assert test["score"] == pytest.approx(float(row[test["name"]])), (test, row)
        assert test["visibility"] == "visible" and test["max_score"] > 0
    assert result["score"] == pytest.approx(float(row["total"]))
    assert sum(test["max_score"] for test in result["tests"]) == pytest.approx(float(row["possible"]))


@pytest.mark.parametrize("name", NAMES)
def test_gradescope_feedback_says_what_the_local_page_says(graded, name):
    grades, local, results = graded
    page = html.unescape((local / "feedback" / f"{name}.html").read_text(encoding="utf-8"))
    for test in results[name]["tests"]:
        for hint in hints_of(test["output"]):
            assert hint in page, (hint, name)
    if grades[name]["error"]:
        assert f"Problem: {grades[name]['error']}" in results[name]["output"]
    else:
        assert results[name]["output"] == ("" if not sandbox_problem() else gradescope.sandbox_note(sandbox_problem()))


def test_the_reference_earns_full_marks_and_the_mistake_is_named(graded):
    _, _, results = graded
    assert results["reference"]["score"] == sum(test["max_score"] for test in results["reference"]["tests"])
    sgd = next(test for test in results["mistake"]["tests"] if test["name"] == SGD)
    assert sgd["score"] < sgd["max_score"] and hints_of(sgd["output"]) == [MISTAKE.hint]
    assert "first failing case: step 1 of" in sgd["output"]
    assert "not a notebook: the file is not JSON" in results["broken"]["output"]
    assert {test["output"] for test in results["broken"]["tests"]} == {"Not graded: see the problem above."}


def test_without_a_sandbox_the_results_say_so_and_grading_still_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.sandbox.sandbox_problem", lambda: "user namespaces are disabled")
    with zipfile.ZipFile(paths.otter_zip(built_root(), EXERCISE)) as archive:
        archive.extractall(tmp_path / "source", members=[f"{gradescope.GRADER_FOLDER}/{gradescope.PLAN_FILE}"])
    write(tmp_path / "submission", {"my work": (filled(handed_out(built_root(), "otter"), REFERENCE), None)})
    monkeypatch.setenv(gradescope.ROOT_VARIABLE, str(tmp_path))
    assert gradescope.main() == 0
    result = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))
    assert result["output"] == gradescope.sandbox_note("user namespaces are disabled")
    assert "OS sandbox was unavailable" in result["output"] and "decided outside that process" in result["output"]
    assert result["score"] == sum(test["max_score"] for test in result["tests"]) == 7
