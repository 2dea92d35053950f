"""Writing decided grades: OUT/grades.csv, one feedback page per submission, and the same feedback as text.

A question's feedback states each hint once: the failing checks that share a hint are
listed under it, each with its first failing case. The HTML page (`feedback_page`) and the
plain text of Gradescope's results (`question_feedback_text`) are two renderings of the same
groups (`hint_groups`), so a submission reads the same advice wherever it is graded.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import re
from pathlib import Path

from .checks.grading import Finding
from .decide import Outcome, Plan, QuestionResult


@dataclasses.dataclass
class HintGroup:
    """One hint, and the failing checks it explains (empty for a hint about the whole question)."""

    hint: str
    findings: list[Finding]


def write_report(out: Path, plan: Plan, graded: list[tuple[str, Outcome]]) -> list[dict]:
    """Write OUT/grades.csv and OUT/feedback/STUDENT.html for each (student id, outcome); returns the CSV's rows."""
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for (student, outcome), page in zip(graded, feedback_file_names([student for student, _ in graded])):
        rows.append(grades_row(student, outcome, plan))
        (folder / page).write_text(feedback_page(student, outcome, plan, folder), encoding="utf-8")
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["submission", *plan.questions, "total", "possible", "error"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def feedback_file_names(students: list[str]) -> list[str]:
    """The feedback page's file name of each student, in order (OUT/feedback/NAME)."""
    used: set[str] = set()
    return [feedback_file_name(student, used) for student in students]


def grades_row(student: str, outcome: Outcome, plan: Plan) -> dict:
    row = {"submission": student}
    for name in plan.questions:
        row[name] = f"{outcome.questions[name].score:.4g}"
    row["total"] = f"{sum(r.score for r in outcome.questions.values()):.4g}"
    row["possible"] = f"{sum(plan.possible(q) for q in plan.questions):.4g}"
    row["error"] = outcome.error
    return row


def feedback_file_name(student: str, used: set[str]) -> str:
    """A file name for the page: the student id with path separators and control characters replaced, unique."""
    base = re.sub(r"[/\\\x00-\x1f]", "_", student).lstrip(".") or "_no_name_"
    name, n = f"{base}.html", 1
    while name in used:
        n += 1
        name = f"{base}-{n}.html"
    used.add(name)
    return name


def hint_groups(result: QuestionResult) -> list[HintGroup]:
    """The question's findings grouped by hint, in the order the hints first appear.

    A check whose results match two cataloged mistakes (say, on a case where they coincide)
    is listed under both hints.
    """
    groups: dict[str, HintGroup] = {}
    for finding in result.findings:
        for hint in finding.hints:
            groups.setdefault(hint, HintGroup(hint, [])).findings.append(finding)
    return list(groups.values())


def check_title(finding: Finding) -> str:
    return finding.check.replace("_", " ")


def no_findings_text(result: QuestionResult) -> str:
    """What a question without findings says: it passed, or the notebook was not graded (the problem says why)."""
    return "All hidden tests passed." if result.score >= result.possible else "Not graded: see the problem above."


def question_feedback_text(result: QuestionResult) -> str:
    """The question's feedback as plain text: each hint once, then its checks and their first failing cases."""
    if not result.findings:
        return no_findings_text(result)
    lines = []
    for group in hint_groups(result):
        lines.append(group.hint)
        for finding in group.findings:
            if not finding.check:
                continue
            lines.append(
                f"- {check_title(finding)}" + (f": first failing case: {finding.case}" if finding.case else "")
            )
            if finding.expected or finding.got:
                lines.append(f"  expected: {finding.expected}")
                lines.append(f"  got: {finding.got}")
    return "\n".join(lines)


def feedback_page(student: str, outcome: Outcome, plan: Plan, folder: Path = Path(".")) -> str:
    """Per question: the points, each hint once with a link to the book section that teaches the fix, and under it
    the failing checks with their first failing case. `folder` is where the page goes (for relative links)."""
    e = html.escape
    total = sum(r.score for r in outcome.questions.values())
    possible = sum(plan.possible(q) for q in plan.questions)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {e(student)}</title>"
        "<style>body{font-family:sans-serif;max-width:56em;margin:2em auto}li{margin:.6em 0}"
        ".error{color:#a00}code,.case{font-family:monospace}.case{font-size:90%;color:#333}</style></head><body>",
        f"<h1>Feedback for {e(student) or '(no name)'}: {plan.exercise}</h1>",
    ]
    if outcome.error:
        parts.append(f"<p class='error'><strong>Problem:</strong> {e(outcome.error)}</p>")
    parts.append(f"<p><strong>Total: {total:g} / {possible:g}</strong></p>")
    to_review = sections_to_review(outcome, plan)
    if to_review:
        links = "".join(f"<li>{book_link(label, folder)}</li>" for label in to_review)
        parts.append(
            f"<h2>To review</h2><p>The sections that teach what you missed, in the book's order:</p><ul>{links}</ul>"
        )
    for name, result in outcome.questions.items():
        parts.append(f"<h2><code>{e(name)}</code>: {result.score:g} / {result.possible:g}</h2>")
        if not result.findings:
            parts.append(f"<p>{no_findings_text(result)}</p>")
            continue
        items = []
        for group in hint_groups(result):
            checks = [_check_item(finding) for finding in group.findings if finding.check]
            link = book_link(plan.questions[name].label_of(group.hint), folder)
            items.append(f"<li>{e(group.hint)} {link}" + (f"<ul>{''.join(checks)}</ul>" if checks else "") + "</li>")
        parts.append("<ul>" + "".join(items) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def sections_to_review(outcome: Outcome, plan: Plan) -> list[str]:
    """The labels of the book sections behind every hint the submission got, once each, in the book's order."""
    from . import book

    labels = {}
    for name, result in outcome.questions.items():
        for group in hint_groups(result):
            labels.setdefault(plan.questions[name].label_of(group.hint), len(labels))
    return sorted(labels, key=lambda label: (book.target(label).page, labels[label]))


def book_link(label: str, folder: Path) -> str:
    """A link to `label`'s section of the book, for a page in `folder`, named by the section's title."""
    from . import book  # here: the Gradescope zip carries this module for its text feedback, not the book's sources

    return (
        f"<a class='book' href='{html.escape(book.url(label, folder))}'>"
        f"Read in the book: {html.escape(book.target(label).title)}</a>"
    )


def _check_item(finding: Finding) -> str:
    e = html.escape
    item = f"<strong>{e(check_title(finding))}</strong>"
    if finding.case:
        item += f"<div class='case'>First failing case: {e(finding.case)}</div>"
    if finding.expected or finding.got:
        item += f"<div class='case'>expected: {e(finding.expected)}</div><div class='case'>got: {e(finding.got)}</div>"
    return f"<li>{item}</li>"
