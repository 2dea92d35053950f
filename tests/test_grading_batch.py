"""`python -m autograder grade` over a class with every kind of bad submission beside good ones, in both engines.

One batch per engine (tests/fixtures/grading.py): broken files, loops, exits, exceptions,
huge output, file vandalism, wrong exercise, odd file names, tampering with the grader,
delegating to an optimizer library, and every cataloged mistake. Each row must say what
happened, earn exactly what its functions earn, and the batch must finish.
"""

from __future__ import annotations

import time

import pytest
from fixtures.grading import EXERCISE, QUESTIONS, SGD, batch, built_root, read_grades, write

from autograder.cli import main
from autograder.decide import make_plan

pytestmark = pytest.mark.slow
TIMEOUT_S = 8
JOBS = 2


@pytest.fixture(scope="module", params=["otter", "nbgrader"])
def graded(request, tmp_path_factory):
    engine = request.param
    root = built_root()
    submissions = batch(engine, root)
    folder = write(tmp_path_factory.mktemp(f"subs-{engine}") / "submissions", submissions)
    out = tmp_path_factory.mktemp(f"out-{engine}")
    start = time.perf_counter()
    assert (
        main(
            [
                "grade",
                EXERCISE,
                str(folder),
                "--out",
                str(out),
                "--engine",
                engine,
                "--jobs",
                str(JOBS),
                "--timeout",
                str(TIMEOUT_S),
                "--root",
                str(root),
            ]
        )
        == 0
    )
    seconds = time.perf_counter() - start
    return {
        "engine": engine,
        "submissions": submissions,
        "grades": read_grades(out),
        "out": out,
        "seconds": seconds,
        "possible": make_plan(root, EXERCISE).points,
    }


def feedback(graded, name: str) -> str:
    page = graded["out"] / "feedback" / f"{name.lstrip('.') or '_no_name_'}.html"
    return page.read_text(encoding="utf-8").replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


def test_every_submission_gets_a_row_and_the_batch_finishes_in_time(graded):
    assert set(graded["grades"]) == set(graded["submissions"])
    assert list(graded["grades"]["good"]) == ["submission", *QUESTIONS, "total", "possible", "error"]
    # Two soft-limited loops and one hard timeout at most; everything else is quick.
    assert graded["seconds"] < len(graded["submissions"]) * 2 + 3 * TIMEOUT_S, graded["seconds"]


@pytest.mark.parametrize("name", ["good", "José Müller 2", ""])
def test_good_submissions_earn_full_marks(graded, name):
    row = graded["grades"][name]
    assert float(row["total"]) == float(row["possible"]) == 7, row


def test_each_row_earns_what_its_functions_earn_and_says_what_happened(graded):
    points = {q: sum(checks.values()) for q, checks in graded["possible"].items()}
    for name, (_, expect) in graded["submissions"].items():
        row = graded["grades"][name]
        for question, verdict in expect.scores.items():
            score = float(row[question])
            wanted = {"full": score == points[question], "zero": score == 0, "less": score < points[question]}[verdict]
            assert wanted, (name, question, verdict, row)
        if expect.error == "":
            assert row["error"] == "", (name, row["error"])
        elif expect.error != "*":
            assert expect.error in row["error"], (name, row["error"])
        else:
            assert float(row["total"]) == 0, (name, row)


def test_feedback_names_the_mistake_and_shows_the_first_failing_case(graded):
    for name, (_, expect) in graded["submissions"].items():
        page = feedback(graded, name)
        for phrase in expect.feedback:
            assert phrase in page, (name, phrase)
    page = feedback(graded, f"mistake {SGD} dampening_on_first_step")
    assert "dampening must not apply on the first step" in page
    assert "First failing case: step 1 of 1, called with w=[" in page and "buf=None" in page
    assert "expected: w=[" in page and "got: w=[" in page


def test_a_full_marks_page_lists_no_failing_case(graded):
    page = feedback(graded, "good")
    assert page.count("All hidden tests passed.") == len(QUESTIONS) and "First failing case" not in page
