"""The midterm review as a graded notebook: one answer variable per question of ``questions.yaml``.

The notebook (``exercises/11_midterm_review.ipynb``) is written from the data file by
``python -m optimlab.review.exercise`` and never edited by hand; a test checks that the
committed file is what the data file gives. Each question becomes a variable named by its
id, in the format its kind asks for (:func:`answer_format`):

- true/false: ``True`` or ``False``;
- multiple choice: the option's letter, ``"A"`` to ``"D"``, in the order the book's page shows them;
- derivation: a number (checked with the question's tolerance);
- matching: a dict from each item to the letter of its property (one point per correct pair);
- interpreting code: what the code prints, as a string (spaces and blank lines do not count).

The reference answers (:func:`reference_answer`) are the data file's, and a code
question's is what its code prints when run, so the graded answers and the book's page
cannot disagree.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path
from typing import Any

import nbformat

from . import KIND_NAMES, Review, _shuffled, load_review, run_snippet

EXERCISE = "11_midterm_review"
NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / f"{EXERCISE}.ipynb"
LETTERS = string.ascii_uppercase


def options(question: dict[str, Any]) -> list[dict[str, Any]]:
    """A multiple-choice question's options in the order the page and the notebook show them."""
    return _shuffled(question["options"], question["id"])


def properties(question: dict[str, Any]) -> list[str]:
    """A matching question's properties (answers and distractors) in the order both show them."""
    return _shuffled(sorted(set(question["answer"].values()) | set(question["distractors"])), question["id"])


def reference_answer(question: dict[str, Any]) -> Any:
    """The right answer in the notebook's format (see the module docstring)."""
    kind = question["kind"]
    if kind == "multiple_choice":
        return next(LETTERS[i] for i, option in enumerate(options(question)) if option.get("correct"))
    if kind == "matching":
        letters = {prop: LETTERS[i] for i, prop in enumerate(properties(question))}
        return {item: letters[prop] for item, prop in question["answer"].items()}
    if kind == "derivation":
        return float(question["answer"])
    if kind == "code":
        return run_snippet(question["code"])
    return question["answer"]


def answer_format(question: dict[str, Any]) -> str:
    """How to write the answer, as the notebook tells the student."""
    return {
        "true_false": "`True` or `False`",
        "multiple_choice": 'the letter of the right option, as a string, e.g. `"B"`',
        "derivation": "a number",
        "matching": "the letter of each item's property (a letter may be left unused)",
        "code": "what the code prints, as a string (one line per printed line)",
    }[question["kind"]]


def question_markdown(number: int, question: dict[str, Any], review: Review) -> str:
    topic = review.topic(question["topic"])["title"]
    lines = [f"### Question {number} · {topic} · {KIND_NAMES[question['kind']]}", "", question["prompt"].strip(), ""]
    if question["kind"] == "code":
        lines += ["```python", question["code"].rstrip(), "```", ""]
    if question["kind"] == "multiple_choice":
        lines += [f"- **{LETTERS[i]}.** {option['text'].strip()}" for i, option in enumerate(options(question))]
        lines.append("")
    if question["kind"] == "matching":
        lines += ["Properties:", ""]
        lines += [f"- **{LETTERS[i]}.** {prop}" for i, prop in enumerate(properties(question))]
        lines.append("")
    lines.append(f"Answer in `{question['id']}`: {answer_format(question)}.")
    return "\n".join(lines)


def answer_cell_source(question: dict[str, Any]) -> str:
    """The answer cell: the blank the student fills in, then the reference between solution markers."""
    name = question["id"]
    if question["kind"] == "matching":
        blank = "{\n" + "".join(f"    {item!r}: None,\n" for item in question["answer"]) + "}"
        right = "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in reference_answer(question).items()) + "}"
    else:
        blank, right = "None", repr(reference_answer(question))
    return f"{name} = {blank}\n# BEGIN SOLUTION\n{name} = {right}\n# END SOLUTION"


def points(question: dict[str, Any]) -> int:
    """One point a question; a matching question, one per pair."""
    return len(question["answer"]) if question["kind"] == "matching" else 1


def build_notebook(review: Review) -> nbformat.NotebookNode:
    """The exercise's source notebook in otter-assign's format, with stable cell ids (so rebuilding changes nothing)."""
    cells = []

    def add(kind: str, source: str) -> None:
        maker = {
            "raw": nbformat.v4.new_raw_cell,
            "md": nbformat.v4.new_markdown_cell,
            "code": nbformat.v4.new_code_cell,
        }
        cell = maker[kind](source)
        cell.id = f"cell-{len(cells):03d}"
        cells.append(cell)

    add("raw", f"# ASSIGNMENT CONFIG\nname: {EXERCISE}")
    add(
        "md",
        "# Midterm review\n\n"
        f"{len(review.questions)} questions on the ten topics of the lecture, of the midterm's five kinds, the same "
        "as the book's midterm review page. Set each answer variable below; leave `None` where you do not know. "
        "The grader names, for each wrong answer, the misconception it shows and the section of the book to "
        "reread, and lists the topics to review. Run every cell before you submit.",
    )
    for number, question in enumerate(review.questions, start=1):
        add("raw", f"# BEGIN QUESTION\nname: {question['id']}\npoints: {points(question)}")
        add("md", question_markdown(number, question, review))
        add("raw", "# BEGIN SOLUTION")
        add("code", answer_cell_source(question))
        add("raw", "# END SOLUTION")
        add("raw", "# END QUESTION")
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return notebook


def notebook_text(review: Review) -> str:
    return nbformat.writes(build_notebook(review)) + "\n"


def main() -> int:
    NOTEBOOK.write_text(notebook_text(load_review()), encoding="utf-8")
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
