"""Hidden checks for exercise 11_midterm_review, written from the review's data file (`optimlab/review`).

Each question of `questions.yaml` is a graded answer variable (see `optimlab.review.exercise`
for the formats). A matching question has one check per pair, so each correct pair earns its
share of the points; every other question has one check. The judge reads the student's answer
and, when it is wrong, gives the data file's explanation of that misconception: the chosen
option's, the item's, or the question's `why_wrong`. Every question links to its section.
"""

from __future__ import annotations

import math
import re
from typing import Any

from optimlab.review import load_review, normalize_output
from optimlab.review.exercise import LETTERS, options, properties, reference_answer

from .grading import Check, Mistake, Question
from .records import Signature, decode

REVIEW = load_review()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "item"


def _answer(record: dict) -> Any:
    return decode(record["steps"][0]["out"][0])


def _unanswered(question: dict) -> str:
    return f"`{question['id']}` is not answered yet (it is still None): set it to an answer"


def _wrong_form(question: dict, value: Any, expected: str) -> str:
    shown = value.get("repr") if isinstance(value, dict) and "repr" in value else repr(value)
    return f"`{question['id']}` is {str(shown)[:80]}, which is not {expected}"


def _letter(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and len(value.strip()) == 1 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _judge_whole(question: dict):
    """The judge of a question with one answer: '' when right, else what is wrong with it."""
    kind = question["kind"]

    def judge(case: dict, record: dict) -> str:
        value = _answer(record)
        if value is None:
            return _unanswered(question)
        if kind == "true_false":
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                value = value.strip().lower() == "true"
            if not isinstance(value, bool):
                return _wrong_form(question, value, "True or False")
            return "" if value == question["answer"] else question["why_wrong"].strip()
        if kind == "multiple_choice":
            shown = options(question)
            letter = _letter(value)
            if letter is None or letter not in LETTERS[: len(shown)]:
                return _wrong_form(question, value, f"one of the letters {', '.join(LETTERS[: len(shown)])}")
            chosen = shown[LETTERS.index(letter)]
            return "" if chosen.get("correct") else chosen["why_wrong"].strip()
        if kind == "derivation":
            number = _number(value)
            if number is None or not math.isfinite(number):
                return _wrong_form(question, value, "a number")
            return (
                ""
                if abs(number - float(question["answer"])) <= float(question["tolerance"])
                else (question["why_wrong"].strip())
            )
        if not isinstance(value, str):  # code: what it prints
            return _wrong_form(question, value, "a string (what the code prints)")
        return (
            ""
            if normalize_output(value) == normalize_output(reference_answer(question))
            else (question["why_wrong"].strip())
        )

    return judge


def _judge_pair(question: dict):
    """The judge of one pair of a matching question (the case names the item)."""
    shown = properties(question)

    def judge(case: dict, record: dict) -> str:
        value, item = _answer(record), case["item"]
        if value is None:
            return _unanswered(question)
        if not isinstance(value, dict):
            return _wrong_form(question, value, "a dict from each item to a letter")
        letter = _letter(value.get(item))
        if letter is None:
            return f"`{question['id']}` gives no letter for {item!r}"
        chosen = shown[LETTERS.index(letter)] if letter in LETTERS[: len(shown)] else None
        return "" if chosen == question["answer"][item] else question["why_wrong"][item].strip()

    return judge


def _mistakes(question: dict) -> tuple[Mistake, ...]:
    """The wrong answers the data file explains, as answers: each wrong option, the other truth value, and so on."""
    kind, right = question["kind"], reference_answer(question)
    if kind == "multiple_choice":
        return tuple(
            Mistake(f"option_{LETTERS[i]}", option["why_wrong"].strip(), LETTERS[i])
            for i, option in enumerate(options(question))
            if not option.get("correct")
        )
    if kind == "true_false":
        return (Mistake("opposite", question["why_wrong"].strip(), not right),)
    if kind == "derivation":
        return (Mistake("off_by_far", question["why_wrong"].strip(), 2 * right + 10 * float(question["tolerance"])),)
    if kind == "code":
        return (Mistake("nothing_printed", question["why_wrong"].strip(), ""),)
    items = list(right)
    rotated = {item: right[items[(i + 1) % len(items)]] for i, item in enumerate(items)}
    return tuple(Mistake(f"swapped_{_slug(item)}", question["why_wrong"][item].strip(), rotated) for item in items)


def _question(question: dict) -> Question:
    signature = Signature(question["id"], (), (question["id"],), ("any",))
    common = dict(
        signature=signature,
        reference=reference_answer(question),
        mistakes=_mistakes(question),
        label=question["section"],
        runner="answer",
    )
    if question["kind"] != "matching":
        checks = {"answer": Check(lambda: [{"state": {}, "steps": [{}]}])}
        return Question(checks=checks, judge=_judge_whole(question), **common)
    checks = {
        f"pair_{_slug(item)}": Check(lambda item=item: [{"state": {}, "steps": [{}], "item": item}])
        for item in question["answer"]
    }
    return Question(checks=checks, judge=_judge_pair(question), **common)


QUESTIONS = {question["id"]: _question(question) for question in REVIEW.questions}
