"""The class report of `python -m autograder grade`: its counts are what the class did, and its page reads well.

A class of 40 generated submissions (tests/fixtures/grading.py builds the course): correct ones,
each cataloged mistake of each question once, and broken notebooks (not JSON, an exception in a
cell, another exercise). What each mistake's submission should count for comes from the catalog
alone (`evaluate` on the mistake's own records), not from the grader's output. The page is
opened in headless Chromium with tests/test_book.py's browser, every non-local request aborted.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import io
import json
import re
import threading
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
from fixtures.grading import EXERCISE, LECTURE, QUESTIONS, built_root, handed_out, mistake_code, write
from notebook_fill import REFERENCE, filled
from test_book import HTML, _open, _QuietHandler, serious_axe_violations, sideways_scroll
from test_book import browser as browser  # a fixture, reused: pytest finds it by name in this module

from autograder import book
from autograder.checks.grading import evaluate, load_exercise
from autograder.cli import main
from autograder.paths import discover_exercises

pytestmark = pytest.mark.slow
DEFINITIONS = load_exercise(EXERCISE)
CORRECT = ("correct 1", "correct 2")
ERRORED = {
    "not_json": "not a notebook: the file is not JSON",
    "exception_in_cell": "raised RuntimeError: not finished",
    "another_exercise": "wrong exercise: this notebook is 03_schedulers",
}


def mistake_submission(question: str, mistake: str) -> str:
    return f"mistake {question} {mistake}"


@functools.cache
def mistakes_made(question: str, mistake_name: str) -> frozenset[str]:
    """The cataloged mistakes a submission making `mistake_name` shows: its own, and any whose results coincide with
    its results on a check it fails."""
    definition = DEFINITIONS[question]
    mistake = next(m for m in definition.mistakes if m.name == mistake_name)
    made = set()
    for check in definition.checks:
        verdict = evaluate(definition, check, definition.mistake_records(mistake, check))
        if not verdict.passed:
            made.update(definition.mistakes_named_by(verdict.finding.mistake_hints))
    return frozenset(made)


def class_of_40(root: Path) -> dict[str, object]:
    blank = handed_out(root, "otter")
    good = filled(blank, REFERENCE)
    other = nbformat.from_dict(json.loads(nbformat.writes(good)))
    other.metadata["autograder"] = {"exercise": "03_schedulers"}
    submissions: dict[str, object] = dict.fromkeys(CORRECT, good)
    for question, definition in DEFINITIONS.items():
        for mistake in definition.mistakes:
            answers = {**REFERENCE, question: mistake_code(question, mistake)}
            submissions[mistake_submission(question, mistake.name)] = filled(blank, answers)
    submissions["not_json"] = b"\x00\x01 this is not JSON"
    submissions["exception_in_cell"] = filled(
        blank, {**REFERENCE, LECTURE: "raise RuntimeError('not finished')\n" + REFERENCE[LECTURE]}
    )
    submissions["another_exercise"] = other
    assert len(submissions) == 40, len(submissions)
    return submissions


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = built_root()
    submissions = class_of_40(root)
    folder = write(tmp_path_factory.mktemp("class") / "submissions", {n: (c, None) for n, c in submissions.items()})
    out = tmp_path_factory.mktemp("class-out")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["grade", EXERCISE, str(folder), "--out", str(out), "--jobs", "2", "--root", str(root)])
    assert code == 0
    return {
        "out": out,
        "printed": printed.getvalue(),
        "figures": json.loads((out / "report.json").read_text(encoding="utf-8")),
        "page": (out / "report.html").read_text(encoding="utf-8"),
    }


def question_figures(graded, question: str) -> dict:
    return next(q for q in graded["figures"]["questions"] if q["question"] == question)


def test_the_cli_says_where_the_report_is(graded):
    assert f"class report: {graded['out'].resolve() / 'report.html'}" in graded["printed"]


def test_each_mistake_is_counted_for_the_submissions_that_made_it(graded):
    for question, definition in DEFINITIONS.items():
        expected = {m.name: set() for m in definition.mistakes}
        for mistake in definition.mistakes:
            for made in mistakes_made(question, mistake.name):
                expected[made].add(mistake_submission(question, mistake.name))
        reported = {m["mistake"]: m for m in question_figures(graded, question)["mistakes"]}
        assert set(reported) == {m.name for m in definition.mistakes}, question
        for name, submissions in expected.items():
            assert reported[name]["count"] == len(submissions), (question, name)
            assert {s["submission"] for s in reported[name]["submissions"]} == submissions, (question, name)
        counts = [m["count"] for m in question_figures(graded, question)["mistakes"]]
        assert counts == sorted(counts, reverse=True), "mistakes are ranked by how many made them"


def test_each_mistake_comes_with_its_hint_a_book_section_and_a_nameless_example(graded):
    figures = graded["figures"]
    students = {s["submission"] for q in figures["questions"] for m in q["mistakes"] for s in m["submissions"]}
    for question, definition in DEFINITIONS.items():
        hints = {m.name: m.hint for m in definition.mistakes}
        for entry in question_figures(graded, question)["mistakes"]:
            assert entry["hint"] == hints[entry["mistake"]]
            assert entry["book_label"] in book.targets()
            example = entry["example"]
            assert example["check"] in definition.checks and example["case"].startswith("step ")
            assert not any(student in json.dumps(example) for student in students), example


def test_full_marks_share_counts_every_submission(graded):
    mistaken = len([m for d in DEFINITIONS.values() for m in d.mistakes])
    for question, definition in DEFINITIONS.items():
        # The correct ones, every other question's mistakes, and the exception (it breaks only the lecture's cell).
        full = len(CORRECT) + mistaken - len(definition.mistakes) + (question != LECTURE)
        figures = question_figures(graded, question)
        assert figures["graded"] == 40 and figures["full_marks"] == full, (question, figures["full_marks"], full)
        assert figures["full_marks_share"] == pytest.approx(full / 40, abs=1e-4)
        assert sum(b["count"] for b in figures["score_histogram"]) == 40
        assert figures["score_histogram"][-1] == {"score": figures["possible"], "count": full}


def test_errored_submissions_are_listed_with_why(graded):
    errored = {entry["submission"]: entry for entry in graded["figures"]["errored"]}
    assert set(errored) == set(ERRORED)
    for name, why in ERRORED.items():
        assert why in errored[name]["error"], errored[name]
        assert (graded["out"] / errored[name]["feedback"]).exists()


def test_timing_is_per_submission(graded):
    timing = graded["figures"]["timing"]
    assert 0 < timing["median_s"] <= timing["slowest_s"] <= timing["total_s"]
    assert timing["slowest_submission"] in {*CORRECT, *ERRORED} or timing["slowest_submission"].startswith("mistake")


def test_the_page_shows_the_json_figures(graded):
    page, figures = html.unescape(graded["page"]), graded["figures"]
    for q in figures["questions"]:
        section = page[page.index(f"<h2 id='{q['question']}'>") :]
        section = section[: section.index("</section>")]
        assert f"{q['full_marks']} of {q['graded']} submissions ({q['full_marks_share']:.0%})" in section
        shown = re.findall(r"<span class='count'>(\d+) submissions?</span>: <code>(\w+)</code>", section)
        assert shown == [(str(m["count"]), m["mistake"]) for m in q["mistakes"]], q["question"]
        for m in q["mistakes"]:
            assert m["hint"] in section and m["example"]["case"] in section
        for u in q["unmatched_checks"]:
            assert f"failed <code>{u['check']}</code>" in section
        bars = re.search(r"aria-label='Scores of [^:]+: ([^']+)'", section).group(1)
        assert bars == "; ".join(f"{b['count']} scored {b['score']:g}" for b in q["score_histogram"])
    errors = page[page.index("<h2 id='errors'>") :]
    for entry in figures["errored"]:
        assert f"{entry['submission']}</a></td><td>{entry['error']}</td>" in errors
    assert f"{figures['timing']['median_s']:.2f} s at the median" in page


def test_every_link_of_the_page_leads_somewhere(graded):
    hrefs = re.findall(r"href='([^'#]*)(?:#([^']*))?'", graded["page"])
    feedback = [unquote(path) for path, _ in hrefs if path.startswith("feedback/")]
    assert len(set(feedback)) >= 35 and all((graded["out"] / path).exists() for path in feedback)
    to_book = [(path, anchor) for path, anchor in hrefs if "04_momentum.html" in path]
    assert to_book, "no link to the book"
    for path, anchor in to_book:
        target = (graded["out"] / path).resolve()
        assert target == (book.BUILT_BOOK / "chapters" / "04_momentum.html").resolve(), path
        assert re.fullmatch(r"sec-momentum-[a-z-]+", anchor), anchor


def test_feedback_hints_link_to_the_section_that_teaches_the_fix(graded):
    page = (graded["out"] / "feedback" / f"{mistake_submission(LECTURE, 'lr_outside_velocity')}.html").read_text(
        encoding="utf-8"
    )
    assert "chapters/04_momentum.html#sec-momentum-conventions" in page
    assert "Read in the book: Two ways to write it" in page


def test_every_cataloged_mistake_of_every_exercise_has_a_section_in_the_built_book():
    assert (HTML / "chapters").is_dir(), "the book is not built: run `make book`"
    for exercise in discover_exercises():
        for name, question in load_exercise(exercise).items():
            labels = {question.label} | {question.label_of(m.hint) for m in question.mistakes}
            for label in labels:
                target = book.target(label)
                built = HTML / target.page
                assert built.exists(), (exercise, name, label, built)
                assert f'id="{target.anchor}"' in built.read_text(encoding="utf-8"), (exercise, name, label)


@pytest.fixture(scope="module")
def served(graded):
    handler = functools.partial(_QuietHandler, directory=str(graded["out"]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/report.html"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_opens_offline_fits_the_window_and_passes_axe(browser, served, width):
    page, problems = _open(browser, served, width=width)
    try:
        sideways = sideways_scroll(page)
        assert not sideways, sideways
        assert page.locator("svg[role=img]").count() == len(QUESTIONS)
        serious = serious_axe_violations(page)
        assert not problems, "\n".join(problems)
    finally:
        page.close()
    assert not serious, "\n".join(serious)
