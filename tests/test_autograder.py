"""The built artifacts: at their fixed paths, free of hidden tests, references and hidden inputs, and gradable natively.

`python -m autograder grade` decides grades outside the student's process (see
test_grading_batch.py); the artifacts must still work on their own: `otter run`/Gradescope
with the zip and nbgrader's own `autograde` with the course, both calling the same hidden
checks (`autograder.checks`) in the student's kernel.
"""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from fixtures.grading import EXERCISE, LECTURE, RESCALE, SGD, built_root, mistake_code
from notebook_fill import REFERENCE, SOURCE, filled

from autograder import paths
from autograder.checks.grading import load_exercise
from autograder.checks.records import decode_array
from autograder.decide import make_plan
from optimlab.optimizers import momentum as reference_module

QUESTIONS = load_exercise(EXERCISE)
IN_PLACE = next(m for m in QUESTIONS[SGD].mistakes if m.name == "modifies_w_in_place")


def student_download(root) -> dict[str, str]:
    """Everything a student is handed: the student notebook and every file of the nbgrader release."""
    files = {"student notebook": paths.student_notebook(root, EXERCISE).read_text(encoding="utf-8")}
    release = paths.nbgrader_notebook(root, "release", EXERCISE).parent
    files |= {f"release/{p.name}": p.read_text(encoding="utf-8") for p in release.rglob("*") if p.is_file()}
    return files


def secrets() -> list[str]:
    """Text that must not reach a student: reference code, hidden-test code, hidden inputs."""
    source_lines = []
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        in_solution = False
        for line in cell.source.splitlines():
            in_solution = in_solution or "BEGIN SOLUTION" in line
            if in_solution and "=" in line and "SOLUTION" not in line:
                source_lines.append(line.strip())
    reference_lines = [
        line.strip()
        for fn in (reference_module.momentum_step_lecture, reference_module.sgd_momentum_step)
        for line in inspect.getsource(fn).splitlines()
        if " = " in line and not line.strip().startswith(("#", 'r"', '"'))
    ]
    hidden_inputs = []
    for question in QUESTIONS.values():
        for cases in question.cases.values():
            for case in cases:
                for value in [*case["state"].values(), *case["steps"][0].values()]:
                    if isinstance(value, dict):
                        hidden_inputs += [repr(float(x)) for x in decode_array(value).ravel()[:3]]
    hidden_inputs = [text for text in hidden_inputs if len(text) > 8]  # full-precision values, not 0.5 or -2.0
    markers = ["assert_check", "autograder.checks", "BEGIN HIDDEN", "BEGIN SOLUTION", "hidden: true", "optimlab"]
    assert len(source_lines) >= 5 and len(reference_lines) >= 3 and len(hidden_inputs) > 50
    return source_lines + reference_lines + hidden_inputs + markers


@pytest.mark.slow
def test_artifacts_exist_at_fixed_paths():
    root = built_root()
    for path in [
        paths.student_notebook(root, EXERCISE),
        paths.otter_zip(root, EXERCISE),
        paths.nbgrader_notebook(root, "source", EXERCISE),
        paths.nbgrader_notebook(root, "release", EXERCISE),
        paths.nbgrader_course(root) / "nbgrader_config.py",
        paths.nbgrader_course(root) / "gradebook.db",
    ]:
        assert path.is_file(), path


@pytest.mark.slow
def test_nothing_a_student_downloads_holds_a_hidden_test_the_reference_or_a_hidden_input():
    for where, text in student_download(built_root()).items():
        for secret in secrets():
            assert secret not in text, f"{secret!r} leaked into the {where}"


@pytest.mark.slow
def test_points_are_stated_once_and_every_hidden_test_is_a_check():
    plan = make_plan(built_root(), EXERCISE)
    assert {q: sum(points.values()) for q, points in plan.points.items()} == {LECTURE: 2, SGD: 3, RESCALE: 2}
    assert {q: set(points) for q, points in plan.points.items()} == {q: set(d.checks) for q, d in QUESTIONS.items()}
    with zipfile.ZipFile(paths.otter_zip(built_root(), EXERCISE)) as archive:
        bundled = set(archive.namelist())
    assert {"files/autograder/checks/grading.py", "files/autograder/checks/momentum.py"} <= bundled
    assert not any(
        name.startswith("files/autograder/") and name.endswith(("grade.py", "worker.py")) for name in bundled
    )


@pytest.mark.slow
def test_otter_run_on_the_zip_gives_the_reference_full_marks_and_names_a_mistake(tmp_path):
    from otter.api import grade_submission

    root = built_root()
    student = nbformat.read(paths.student_notebook(root, EXERCISE), as_version=4)
    results = {}
    for name, answers in {"reference": REFERENCE, "in_place": {**REFERENCE, SGD: mistake_code(SGD, IN_PLACE)}}.items():
        folder = tmp_path / name
        folder.mkdir()
        nbformat.write(filled(student, answers), folder / f"{EXERCISE}.ipynb")
        results[name] = grade_submission(
            str(folder / f"{EXERCISE}.ipynb"), str(paths.otter_zip(root, EXERCISE)), quiet=True
        )
    assert results["reference"].total == results["reference"].possible == 7
    wrong = results["in_place"]
    sgd_checks = len(QUESTIONS[SGD].checks)  # the in-place mistake fails one of them
    assert wrong.get_result(LECTURE).score == 2 and wrong.get_result(SGD).score == pytest.approx(3 - 3 / sgd_checks)
    messages = [r.message for r in wrong.get_result(SGD).test_case_results if not r.passed]
    assert len(messages) == 1 and "modified its input `w` in place" in messages[0]


@pytest.mark.slow
def test_nbgrader_autograde_on_the_release_gives_the_reference_full_marks_and_names_a_mistake(tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    shutil.copytree(paths.nbgrader_course(built_root()), course)
    release = nbformat.read(paths.nbgrader_notebook(built_root(), "release", EXERCISE), as_version=4)
    students = {"reference": REFERENCE, "in_place": {**REFERENCE, SGD: mistake_code(SGD, IN_PLACE)}}
    for student, answers in students.items():
        submitted = course / "submitted" / student / EXERCISE / f"{EXERCISE}.ipynb"
        submitted.parent.mkdir(parents=True)
        nbformat.write(filled(release, answers), submitted)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", EXERCISE, "--create", "--force", "--log-level=ERROR"],
        cwd=course,
        env=paths.tool_environment(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission_notebook(EXERCISE, EXERCISE, s).score for s in students}
        in_place = {g.name: g.score for g in gradebook.find_submission_notebook(EXERCISE, EXERCISE, "in_place").grades}
    assert scores["reference"] == pytest.approx(7) and scores["in_place"] == pytest.approx(
        7 - 3 / len(QUESTIONS[SGD].checks)
    )
    assert in_place[f"{SGD}-test_leaves_inputs_unchanged"] == 0
    graded = (course / "autograded" / "in_place" / EXERCISE / f"{EXERCISE}.ipynb").read_text()
    assert "modified its input `w` in place" in graded
