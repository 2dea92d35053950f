"""The midterm review: its data file, and its page as a student's browser sees it.

The data tests need nothing built. The page tests read the built book (`_build/html`, as
tests/test_book.py does; OPTIMLAB_BOOK_HTML points them at another build of the book) and
drive headless Chromium with tests/test_book.py's browser, with every non-local request aborted.
"""

import functools
import http.server
import json
import os
import re
import threading
import warnings
from collections import Counter
from pathlib import Path

import pytest
import yaml
from test_book import HTML, _open, _QuietHandler, serious_axe_violations, sideways_scroll
from test_book import browser as browser  # a fixture, reused: pytest finds it by name in this module

from optimlab.review import (
    KINDS,
    QUESTIONS_FILE,
    REVIEW_DOC,
    STORAGE_KEY,
    book_labels,
    class_defaults,
    load_review,
    normalize_output,
    page_data,
    run_snippet,
    section_href,
)

REVIEW = load_review()
BOOK = Path(os.environ.get("OPTIMLAB_BOOK_HTML", HTML))
PAGE = f"{REVIEW_DOC}.html"
QUESTIONS = {q["id"]: q for q in REVIEW.questions}


# ---- the data file -----------------------------------------------------------------------------


def test_enough_questions_of_every_kind_on_every_topic():
    kinds = Counter(q["kind"] for q in REVIEW.questions)
    topics = Counter(q["topic"] for q in REVIEW.questions)
    assert len(REVIEW.questions) >= 25
    assert all(kinds[kind] >= 4 for kind in KINDS), f"questions per kind: {dict(kinds)}"
    assert all(topics[t["id"]] >= 2 for t in REVIEW.topics), f"questions per topic: {dict(topics)}"
    assert len(REVIEW.topics) == 10


def test_every_errata_item_is_caught_by_a_question():
    caught = {item for q in REVIEW.questions for item in q.get("errata", [])}
    assert set(REVIEW.errata) == set(range(1, 13))
    assert caught == set(REVIEW.errata), f"no question on errata {sorted(set(REVIEW.errata) - caught)}"


def test_code_answers_are_never_typed_in_the_data_file():
    raw = yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))["questions"]
    typed = [q["id"] for q in raw if q["kind"] == "code" and "answer" in q]
    assert not typed, f"code questions with a typed answer: {typed}"


def _spoiled(kind: str, spoil) -> dict:
    """The data file with the first question of `kind` changed by `spoil(question)`."""
    data = yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))
    spoil(next(q for q in data["questions"] if q["kind"] == kind))
    return data


@pytest.mark.parametrize(
    "kind, spoil, message",
    [
        ("code", lambda q: q.update(answer="42"), "do not type one"),
        ("true_false", lambda q: q.update(answer="false"), "unquoted"),
        ("derivation", lambda q: q.update(tolerance=0), "tolerance must be positive"),
        ("matching", lambda q: q["distractors"].append(next(iter(q["answer"].values()))), "distractor"),
    ],
    ids=["typed code answer", "quoted boolean", "zero tolerance", "distractor that is right"],
)
def test_a_malformed_question_is_refused_with_a_reason(tmp_path, kind, spoil, message):
    path = tmp_path / "questions.yaml"
    path.write_text(yaml.safe_dump(_spoiled(kind, spoil), allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_review(path)


def test_code_answers_are_what_the_snippets_print():
    data = page_data(REVIEW, {})["questions"]
    for qid, q in QUESTIONS.items():
        if q["kind"] == "code":
            assert data[qid]["answer"] == run_snippet(q["code"]) != "", qid


@pytest.mark.parametrize("qid", [q["id"] for q in REVIEW.questions if "check" in q])
def test_question_claims_hold_in_the_installed_pytorch(qid):
    exec(QUESTIONS[qid]["check"], {"ANSWER": QUESTIONS[qid].get("answer")})


def test_derivation_tolerances_reject_a_nearby_slip():
    for q in REVIEW.questions:
        if q["kind"] == "derivation":
            assert 0 < q["tolerance"] <= 0.02 * abs(q["answer"]), f"{q['id']}: tolerance too loose"


def test_printed_output_ignores_spaces_but_not_values():
    assert normalize_output(" [0.01,  0.0]\n\n") == normalize_output("[0.01, 0.0]")
    assert normalize_output("Adam 0.9\nAdamW 0.99") != normalize_output("Adam 0.99\nAdamW 0.9")


def test_links_wait_for_their_section(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text("root: intro\nchapters:\n- file: chapters/04_momentum\n")
    (tmp_path / "chapters" / "04_momentum.md").write_text(
        "# Momentum\n\n(sec-momentum-conventions)=\n\n## Two ways to write it\n\n(fig-ravine)=\nA figure.\n"
    )
    (tmp_path / "chapters" / "05_nesterov.md").write_text("(sec-nesterov-pytorch)=\n## Not in the toc\n")
    labels = book_labels(tmp_path)
    assert labels == {
        "sec-momentum-conventions": {"doc": "chapters/04_momentum", "title": "Two ways to write it"},
        "fig-ravine": {"doc": "chapters/04_momentum", "title": "fig-ravine"},
    }
    assert section_href("sec-momentum-conventions", labels) == "04_momentum.html#sec-momentum-conventions"
    assert section_href("sec-nesterov-pytorch", labels) is None
    assert book_labels(tmp_path / "nowhere") == {}


def test_cheat_sheet_defaults_come_from_the_installed_classes():
    import inspect

    import torch

    assert class_defaults("torch.optim.AdamW")["weight_decay"] == (
        inspect.signature(torch.optim.AdamW).parameters["weight_decay"].default
    )
    assert [entry["name"].split()[0] for entry in REVIEW.cheat_sheet] == [
        "SGD", "Momentum", "Nesterov", "Local", "RMSProp", "Adam", "AdamW"
    ]  # fmt: skip
    for entry in REVIEW.cheat_sheet:
        assert class_defaults(entry["class"]), entry["name"]


# ---- the built page ----------------------------------------------------------------------------


def _built_page():
    path = BOOK / PAGE
    assert path.exists(), f"{path} is missing: build the book (make book)"
    return path.read_text(encoding="utf-8")


def _page_json():
    match = re.search(r'<script type="application/json" class="quiz-data">(.*?)</script>', _built_page(), re.S)
    assert match, "the page carries no quiz data"
    return json.loads(match.group(1).replace("<\\/", "</"))


def _inventory_labels():
    from sphinx.util.inventory import InventoryFile

    with open(BOOK / "objects.inv", "rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    return set(inventory.get("std:label", {}))


def test_every_link_of_the_page_resolves_to_an_anchor_of_the_book():
    page_dir = (BOOK / PAGE).parent
    hrefs = [q["href"] for q in _page_json()["questions"].values() if q["href"]]
    for href in hrefs:
        target, _, anchor = href.partition("#")
        target_file = (page_dir / target).resolve()
        assert target_file.exists(), f"{href}: no page {target_file}"
        assert f'id="{anchor}"' in target_file.read_text(encoding="utf-8"), f"{href}: no anchor #{anchor}"


def test_sections_missing_from_the_book_are_listed_and_existing_ones_linked():
    existing = _inventory_labels()
    data = _page_json()["questions"]
    wanted = {q["section"] for q in REVIEW.questions}
    missing = sorted(wanted - existing)
    if missing:
        warnings.warn(f"sections not in the book yet (linked once written): {', '.join(missing)}", stacklevel=1)
    unlinked = sorted({q["section"] for q in data.values() if q["section"] in existing and not q["href"]})
    assert not unlinked, f"the page was built before these sections existed; rebuild it: {unlinked}"
    dead = sorted({q["section"] for q in data.values() if q["href"] and q["section"] not in existing})
    assert not dead, f"links to sections the book does not define: {dead}"


@pytest.fixture(scope="module")
def site():
    handler = functools.partial(_QuietHandler, directory=str(BOOK))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{PAGE}"
    httpd.shutdown()
    httpd.server_close()


def _answers(qid, entry):
    """(right, wrong) answers for one question, as the page's data shuffled its options."""
    q = QUESTIONS[qid]
    if q["kind"] == "true_false":
        return q["answer"], not q["answer"]
    if q["kind"] == "multiple_choice":
        right = next(i for i, o in enumerate(entry["options"]) if o["correct"])
        return right, (right + 1) % len(entry["options"])
    if q["kind"] == "derivation":
        return repr(q["answer"]), repr(q["answer"] + 10 * q["tolerance"])
    if q["kind"] == "matching":
        wrong = dict(q["answer"])
        wrong[next(iter(wrong))] = q["distractors"][0]
        return q["answer"], wrong
    return run_snippet(q["code"]), "nothing"


def _answer(page, qid, kind, value):
    section = page.locator(f"#q-{qid}")
    if kind == "true_false":
        section.locator(f'button[data-answer="{str(value).lower()}"]').click()
    elif kind == "multiple_choice":
        section.locator(f'button[data-option="{value}"]').click()
    elif kind == "matching":
        for item, choice in value.items():
            section.locator(f'select[data-item="{item}"]').select_option(choice)
        section.locator(".quiz-check").click()
    else:
        section.locator(".quiz-input").fill(value)
        section.locator(".quiz-check").click()
    return section.locator(".quiz-feedback")


def _expected_wrong_text(q, entry, wrong):
    if q["kind"] == "multiple_choice":
        return entry["options"][wrong]["feedback"]
    if q["kind"] == "matching":
        item = next(iter(q["answer"]))
        return q["why_wrong"][item]
    return q["why_wrong"]


def _text(value):
    return re.sub(r"\s+", " ", value).strip()


@pytest.mark.browser
def test_every_question_says_why_a_wrong_answer_is_wrong_and_confirms_a_right_one(browser, site):
    page, problems = _open(browser, site)
    try:
        data = _page_json()["questions"]
        for qid, q in QUESTIONS.items():
            entry = data[qid]
            right, wrong = _answers(qid, entry)
            feedback = _answer(page, qid, q["kind"], wrong)
            assert "quiz-wrong" in feedback.get_attribute("class"), f"{qid}: a wrong answer was accepted"
            shown = _text(feedback.inner_text())
            assert _text(_expected_wrong_text(q, entry, wrong)) in shown, f"{qid}: {shown}"
            assert "Reread:" in shown, f"{qid}: no section to reread"
            if entry["href"]:
                assert feedback.locator(f'a[href="{entry["href"]}"]').count() == 1, f"{qid}: no link"
            feedback = _answer(page, qid, q["kind"], right)
            assert "quiz-right" in feedback.get_attribute("class"), f"{qid}: the right answer was refused"
            reason = entry["options"][right]["feedback"] if q["kind"] == "multiple_choice" else q["reason"]
            assert _text(reason) in _text(feedback.inner_text()), qid
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.browser
def test_every_control_is_reachable_and_answerable_with_the_keyboard(browser, site):
    page, problems = _open(browser, site)
    try:
        controls = page.locator(".quiz button, .quiz input, .quiz select, .quiz textarea, .quiz-reset")
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('.quiz input, .quiz select, .quiz textarea')]
                    .filter(el => !el.labels.length).map(el => el.id)"""
        )
        assert not unlabelled, f"controls without a label: {unlabelled}"
        # Mark every control, put the focus on the first, then walk the page with Tab alone.
        count = controls.evaluate_all("els => els.map((el, i) => (el.dataset.kbd = String(i))).length")
        controls.first.focus()
        reached = set()
        for _ in range(count + 5):
            reached.add(page.evaluate("() => document.activeElement.dataset.kbd"))
            page.keyboard.press("Tab")
        missed = {str(i) for i in range(count)} - reached
        assert not missed, f"{len(missed)} of {count} controls not reachable with Tab"

        data = _page_json()["questions"]
        by_kind = {}
        for qid, q in QUESTIONS.items():
            by_kind.setdefault(q["kind"], qid)
        for kind, qid in by_kind.items():
            section = page.locator(f"#q-{qid}")
            right, _ = _answers(qid, data[qid])
            if kind in ("true_false", "multiple_choice"):
                selector = (
                    f'[data-answer="{str(right).lower()}"]' if kind == "true_false" else f'[data-option="{right}"]'
                )
                section.locator(selector).focus()
                page.keyboard.press("Enter")
            elif kind == "matching":
                for item, choice in right.items():
                    select = section.locator(f'select[data-item="{item}"]')
                    select.focus()
                    for _ in range(12):
                        if select.input_value() == choice:
                            break
                        page.keyboard.press("ArrowDown")
                section.locator(".quiz-check").focus()
                page.keyboard.press("Space")
            else:
                section.locator(".quiz-input").focus()
                if kind == "derivation":  # Enter in the number box checks it
                    page.keyboard.type(right)
                    page.keyboard.press("Enter")
                else:  # in the code box Enter starts a new line, and Tab moves on to Check
                    for line in right.rstrip("\n").split("\n"):
                        page.keyboard.type(line)
                        page.keyboard.press("Enter")
                    page.keyboard.press("Tab")
                    page.keyboard.press("Enter")
            feedback = section.locator(".quiz-feedback")
            assert "quiz-right" in (feedback.get_attribute("class") or ""), (
                f"{kind} ({qid}): not answerable by keyboard"
            )
        assert not problems, "\n".join(problems)
    finally:
        page.close()


def _plan(page):
    return page.locator(".quiz-plan-list li").evaluate_all("els => els.map(el => el.dataset.section)")


@pytest.mark.browser
def test_review_plan_lists_missed_sections_in_lecture_order_survives_a_reload_and_starts_over(
    browser,
    site,
):
    page, problems = _open(browser, site)
    try:
        page.evaluate("() => localStorage.clear()")
        page.reload()
        data = _page_json()["questions"]
        late, early, right = "optimizer_state_is_lazy", "batch_size_equals_classes", "halving_constant"
        feedback = _answer(page, right, "derivation", "about a tenth")
        assert "Type a number" in feedback.inner_text() and "quiz-wrong" not in feedback.get_attribute("class")
        assert _plan(page) == [], "an answer that is not a number was recorded"
        for qid in (late, early):
            _answer(page, qid, QUESTIONS[qid]["kind"], _answers(qid, data[qid])[1])
        _answer(page, right, "derivation", _answers(right, data[right])[0])
        expected = [QUESTIONS[early]["section"], QUESTIONS[late]["section"]]
        assert _plan(page) == expected
        page.reload()
        assert _plan(page) == expected, "the review plan did not survive a reload"
        assert "1 of 3" in page.locator(".quiz-plan-list").inner_text()
        page.locator(".quiz-reset").click()
        assert _plan(page) == []
        assert page.evaluate("key => localStorage.getItem(key)", STORAGE_KEY) is None
        page.reload()
        assert _plan(page) == [], "start over did not forget the answers"
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_page_fits_the_window_and_works_offline(browser, site, width):
    """_open aborts every request that leaves the machine and reports it as a problem."""
    page, problems = _open(browser, site, width=width)
    try:
        sideways = sideways_scroll(page)
        assert not sideways, sideways
        qid = "param_groups_code"  # prints "[0.01, 0.0]": typed without its spaces, still right
        feedback = _answer(page, qid, "code", run_snippet(QUESTIONS[qid]["code"]).replace(" ", ""))
        assert "quiz-right" in feedback.get_attribute("class")
        assert page.locator(".cheat-card").count() == len(REVIEW.cheat_sheet)
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.browser
def test_page_has_no_serious_accessibility_violation_with_feedback_shown(browser, site):
    page, _ = _open(browser, site)
    try:
        data = _page_json()["questions"]
        for qid in ("adam_betas_roles", "what_each_fixes", "rmsprop_first_step"):
            _answer(page, qid, QUESTIONS[qid]["kind"], _answers(qid, data[qid])[1])
        serious = serious_axe_violations(page)
    finally:
        page.close()
    assert not serious, "\n".join(serious)


def test_the_graded_notebook_is_written_from_the_data_file_and_committed_as_written():
    from optimlab.review.exercise import NOTEBOOK, notebook_text

    assert NOTEBOOK.read_text(encoding="utf-8") == notebook_text(REVIEW), (
        "exercises/11_midterm_review.ipynb differs from questions.yaml: run `python -m optimlab.review.exercise`"
    )


def test_the_graded_notebook_has_one_answer_variable_per_question_in_the_page_s_order():
    import keyword

    from autograder.checks.grading import load_exercise

    questions = load_exercise("11_midterm_review")
    assert list(questions) == [q["id"] for q in REVIEW.questions]
    assert all(name.isidentifier() and not keyword.iskeyword(name) for name in questions)


def test_a_graded_multiple_choice_letter_is_the_option_the_page_shows_at_that_place():
    from optimlab.review.exercise import LETTERS, reference_answer

    for q in REVIEW.questions:
        if q["kind"] == "multiple_choice":
            options = page_data(REVIEW, {})["questions"][q["id"]]["options"]
            assert options[LETTERS.index(reference_answer(q))]["correct"], q["id"]


def test_a_graded_code_answer_is_what_the_snippet_prints_and_spacing_does_not_count():
    from autograder.checks.grading import evaluate, load_exercise
    from autograder.checks.runners.midterm_review import record_answer

    questions = load_exercise("11_midterm_review")
    for q in REVIEW.questions:
        if q["kind"] != "code":
            continue
        question = questions[q["id"]]
        spaced = "\n\n" + "\n".join("  " + line + " " for line in run_snippet(q["code"]).splitlines()) + "\n"
        assert evaluate(question, "answer", [record_answer(spaced, question.signature, {})]).passed, q["id"]
        wrong = evaluate(question, "answer", [record_answer("0", question.signature, {})])
        assert not wrong.passed and wrong.finding.hint == q["why_wrong"].strip()


def test_a_matching_answer_earns_points_per_correct_pair():
    from autograder.checks.grading import evaluate, load_exercise
    from autograder.checks.runners.midterm_review import record_answer
    from optimlab.review.exercise import reference_answer

    questions = load_exercise("11_midterm_review")
    q = next(q for q in REVIEW.questions if q["kind"] == "matching")
    question, right = questions[q["id"]], reference_answer(q)
    first, *rest = list(right)
    half_right = {**right, first: right[rest[0]]} if right[rest[0]] != right[first] else {**right, first: "Z"}
    record = record_answer(half_right, question.signature, {})
    passed = {check: evaluate(question, check, [record]).passed for check in question.checks}
    assert sum(passed.values()) == len(right) - 1
    failed = next(check for check, ok in passed.items() if not ok)
    assert evaluate(question, failed, [record]).finding.hint == q["why_wrong"][first].strip()
