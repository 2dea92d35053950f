"""The class's view of a graded batch: OUT/report.json (the figures) and OUT/report.html (the same, to read).

Per question: how the scores spread, the share with full marks, and the cataloged mistakes
ranked by how many submissions made them, each with its hint, a link to the book section
that teaches the fix, the first failing case of one submission (without its name) and the
submissions that made it; then the failing checks that matched no cataloged mistake, grouped
by check, which are the candidates for the catalog's next entry. For the batch: the
submissions with an error and why, and the time a submission took. The page is drawn from
the JSON's figures and needs nothing but itself: no script, no style sheet, no image file.
"""

from __future__ import annotations

import html
import json
import statistics
from pathlib import Path
from urllib.parse import quote

from . import book
from .checks.grading import Finding
from .decide import Outcome, Plan
from .report import book_link, feedback_file_names

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;color:#1a1a1a;background:#fff;line-height:1.45;max-width:60em;
margin:0 auto;padding:1em;overflow-wrap:anywhere}
a{color:#0b57a4}
h2{border-top:2px solid #ccc;padding-top:.6em;margin-top:2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;vertical-align:top;padding:.3em .5em;border-bottom:1px solid #ccc}
code,.case{font-family:ui-monospace,monospace;font-size:90%}
.case{color:#333;margin:.2em 0}
svg{max-width:100%;height:auto;display:block}
.mistakes>li{margin:1em 0}
.count{font-weight:bold}
"""


def class_figures(plan: Plan, graded: list[tuple[str, Outcome]], seconds: list[float]) -> dict:
    """The batch's figures: one object per question, then the errored submissions and the timing."""
    pages = feedback_file_names([student for student, _ in graded])
    submissions = [{"submission": student, "feedback": f"feedback/{page}"} for (student, _), page in zip(graded, pages)]
    slowest = max(range(len(seconds)), key=seconds.__getitem__) if seconds else None
    return {
        "exercise": plan.exercise,
        "submissions": len(graded),
        "questions": [_question_figures(plan, name, graded, submissions) for name in plan.questions],
        "errored": [
            {**link, "error": outcome.error} for link, (_, outcome) in zip(submissions, graded) if outcome.error
        ],
        "timing": {
            "median_s": round(statistics.median(seconds), 3) if seconds else None,
            "slowest_s": round(seconds[slowest], 3) if slowest is not None else None,
            "slowest_submission": submissions[slowest]["submission"] if slowest is not None else None,
            "total_s": round(sum(seconds), 3),
        },
    }


def _question_figures(plan: Plan, name: str, graded: list[tuple[str, Outcome]], submissions: list[dict]) -> dict:
    question, possible = plan.questions[name], plan.possible(name)
    scores = [outcome.questions[name].score for _, outcome in graded]
    mistakes: dict[str, dict] = {}
    unmatched: dict[str, dict] = {}
    for link, (_, outcome) in zip(submissions, graded):
        made: dict[str, Finding] = {}  # mistake -> its first failing check in this submission
        missed: dict[str, Finding] = {}  # check matching no mistake -> its finding
        for finding in outcome.questions[name].findings:
            if not finding.check:
                continue
            for mistake in question.mistakes_named_by(finding.mistake_hints):
                made.setdefault(mistake, finding)
            if not finding.mistake_hints:
                missed.setdefault(finding.check, finding)
        for mistake, finding in made.items():
            entry = mistakes.setdefault(mistake, {"mistake": mistake, "example": _example(finding), "submissions": []})
            entry["submissions"].append(link)
        for check, finding in missed.items():
            entry = unmatched.setdefault(check, {"check": check, "example": _example(finding), "submissions": []})
            entry["submissions"].append(link)
    by_name = {m.name: m for m in question.mistakes}
    catalog_order = list(by_name)
    ranked = sorted(mistakes.values(), key=lambda m: (-len(m["submissions"]), catalog_order.index(m["mistake"])))
    for entry in ranked:
        mistake = by_name[entry["mistake"]]
        label = question.label_of(mistake.hint)
        entry.update(
            count=len(entry["submissions"]), hint=mistake.hint, book_label=label, book_title=book.target(label).title
        )
    for entry in unmatched.values():
        entry["count"] = len(entry["submissions"])
    full = sum(1 for score in scores if score >= possible)
    return {
        "question": name,
        "book_label": question.label,  # for the hints of checks that match no cataloged mistake
        "possible": possible,
        "graded": len(scores),
        "full_marks": full,
        "full_marks_share": round(full / len(scores), 4) if scores else 0.0,
        "median_score": statistics.median(scores) if scores else None,
        "score_histogram": [{"score": s, "count": scores.count(s)} for s in sorted({0.0, possible, *scores})],
        "mistakes": [_ordered(entry) for entry in ranked],
        "unmatched_checks": sorted(unmatched.values(), key=lambda u: (-u["count"], u["check"])),
    }


def _ordered(entry: dict) -> dict:
    keys = ("mistake", "count", "hint", "book_label", "book_title", "example", "submissions")
    return {key: entry[key] for key in keys}


def _example(finding: Finding) -> dict:
    """The first failing case, with nothing of the submission's but its results."""
    return {
        "check": finding.check,
        "hint": finding.hint,
        "case": finding.case,
        "expected": finding.expected,
        "got": finding.got,
    }


def write_class_report(out: Path, plan: Plan, graded: list[tuple[str, Outcome]], seconds: list[float]) -> dict:
    """Write OUT/report.json and OUT/report.html; returns the figures."""
    figures = class_figures(plan, graded, seconds)
    (out / "report.json").write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "report.html").write_text(class_page(figures, out), encoding="utf-8")
    return figures


# ---------------------------------------------------------------- the page


def class_page(figures: dict, out: Path) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Class report: {e(figures['exercise'])}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>Class report: {e(figures['exercise'])}</h1>",
        f"<p>{figures['submissions']} submissions graded. Each submission's name links to its feedback page.</p>",
        "<table><caption>Questions at a glance</caption><thead><tr><th scope='col'>Question</th>"
        "<th scope='col'>Full marks</th><th scope='col'>Median score</th><th scope='col'>Most common mistake</th>"
        "</tr></thead><tbody>",
    ]
    for q in figures["questions"]:
        top = q["mistakes"][0] if q["mistakes"] else None
        common = f"<code>{e(top['mistake'])}</code> ({top['count']})" if top else "none"
        parts.append(
            f"<tr><th scope='row'><a href='#{e(q['question'])}'><code>{e(q['question'])}</code></a></th>"
            f"<td>{q['full_marks']} of {q['graded']} ({q['full_marks_share']:.0%})</td>"
            f"<td>{q['median_score']:g} / {q['possible']:g}</td>"
            f"<td>{common}</td></tr>"
        )
    parts.append("</tbody></table>")
    for q in figures["questions"]:
        parts.append(_question_section(q, out))
    parts.append(_errored_section(figures["errored"]))
    timing = figures["timing"]
    parts.append("<h2 id='timing'>Timing</h2>")
    if timing["median_s"] is not None:
        parts.append(
            f"<p>A submission took {timing['median_s']:.2f} s at the median; the slowest, "
            f"{e(timing['slowest_submission'] or '(no name)')}, took {timing['slowest_s']:.2f} s "
            f"({timing['total_s']:.1f} s of grading in all).</p>"
        )
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _question_section(q: dict, out: Path) -> str:
    e = html.escape
    name = q["question"]
    parts = [
        f"<section aria-labelledby='{e(name)}'><h2 id='{e(name)}'><code>{e(name)}</code></h2>",
        f"<p>{q['full_marks']} of {q['graded']} submissions ({q['full_marks_share']:.0%}) earned full marks "
        f"({q['possible']:g} points).</p>",
        _histogram(q),
        "<h3>Cataloged mistakes, most common first</h3>",
    ]
    if not q["mistakes"]:
        parts.append("<p>No submission made a cataloged mistake.</p>")
    else:
        items = []
        for m in q["mistakes"]:
            items.append(
                f"<li><span class='count'>{m['count']} {_plural(m['count'])}</span>: <code>{e(m['mistake'])}</code>"
                f"<p>Hint: {e(m['hint'])} {book_link(m['book_label'], out)}</p>"
                + _example_html(m["example"])
                + _submission_links(m["submissions"])
                + "</li>"
            )
        parts.append("<ol class='mistakes'>" + "".join(items) + "</ol>")
    parts.append("<h3>Failing checks that match no cataloged mistake</h3>")
    if not q["unmatched_checks"]:
        parts.append("<p>None: every failing check was named by the catalog.</p>")
    else:
        generic_link = book_link(q["book_label"], out)
        items = [
            f"<li><span class='count'>{u['count']} {_plural(u['count'])}</span> failed "
            f"<code>{e(u['check'])}</code><p>For example: {e(u['example']['hint'])} {generic_link}</p>"
            + _example_html(u["example"])
            + _submission_links(u["submissions"])
            + "</li>"
            for u in q["unmatched_checks"]
        ]
        parts.append("<ul class='mistakes'>" + "".join(items) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _plural(count: int) -> str:
    return "submission" if count == 1 else "submissions"


def _example_html(example: dict) -> str:
    e = html.escape
    parts = [f"<div class='case'>Check <code>{e(example['check'])}</code>, first failing case: {e(example['case'])}"]
    if example["expected"] or example["got"]:
        parts.append(f"<br>expected: {e(example['expected'])}<br>got: {e(example['got'])}")
    return "".join(parts) + "</div>"


def _submission_links(submissions: list[dict]) -> str:
    e = html.escape
    links = ", ".join(
        f"<a href='{e(quote(s['feedback']))}'>{e(s['submission']) or '(no name)'}</a>" for s in submissions
    )
    return f"<p>Made by: {links}</p>"


def _histogram(q: dict) -> str:
    """The scores' distribution as an inline SVG bar chart, described in words for screen readers."""
    bins = q["score_histogram"]
    tallest = max(b["count"] for b in bins) or 1
    bar, gap, height, label_space = 36, 12, 90, 34
    width = len(bins) * (bar + gap) + gap
    description = "; ".join(f"{b['count']} scored {b['score']:g}" for b in bins)
    shapes = []
    for index, b in enumerate(bins):
        x = gap + index * (bar + gap)
        h = round(height * b["count"] / tallest)
        y = 14 + height - h
        shapes.append(
            f"<rect x='{x}' y='{y}' width='{bar}' height='{h}' fill='#1f5f99'></rect>"
            f"<text x='{x + bar / 2}' y='{y - 3}' text-anchor='middle' font-size='11' fill='#1a1a1a'>"
            f"{b['count']}</text>"
            f"<text x='{x + bar / 2}' y='{14 + height + 14}' text-anchor='middle' font-size='11' "
            f"fill='#1a1a1a'>{b['score']:g}</text>"
        )
    return (
        f"<figure><svg width='{width}' viewBox='0 0 {width} {14 + height + label_space}' role='img' "
        f"aria-label='Scores of {html.escape(q['question'])}: {description}'>" + "".join(shapes) + "</svg>"
        "<figcaption>Number of submissions per score (points).</figcaption></figure>"
    )


def _errored_section(errored: list[dict]) -> str:
    e = html.escape
    parts = ["<h2 id='errors'>Submissions with an error</h2>"]
    if not errored:
        parts.append("<p>None.</p>")
        return "\n".join(parts)
    parts.append(
        f"<table><caption>{len(errored)} {_plural(len(errored))} with an error, and why</caption><thead><tr>"
        "<th scope='col'>Submission</th><th scope='col'>What happened</th></tr></thead><tbody>"
    )
    for entry in errored:
        parts.append(
            f"<tr><td><a href='{e(quote(entry['feedback']))}'>{e(entry['submission']) or '(no name)'}</a></td>"
            f"<td>{e(entry['error'])}</td></tr>"
        )
    parts.append("</tbody></table>")
    return "\n".join(parts)
