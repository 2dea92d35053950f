"""The midterm review: questions read from one data file, turned into the chapter's quiz and cheat sheet.

``questions.yaml`` (next to this module) is the single source: topics in the lecture's
order, questions of five kinds, and the cheat sheet's optimizers. This module

- loads and checks it (:func:`load_review`);
- runs each "interpret this code" snippet and takes what it prints as the answer
  (:func:`run_snippet`), so the expected output is PyTorch's, never typed by hand;
- finds which section labels the book defines (:func:`book_labels`), so that a question
  links to its section only once that section exists;
- writes the static page's quiz (:func:`quiz_html`, checked in the browser by
  ``_assets/quiz.js``) and the cheat sheet (:func:`cheat_sheet_html`), whose defaults
  are read from the installed classes.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import inspect
import io
import json
import posixpath
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

QUESTIONS_FILE = Path(__file__).with_name("questions.yaml")
KINDS = ("true_false", "multiple_choice", "derivation", "matching", "code")
KIND_NAMES = {
    "true_false": "true or false",
    "multiple_choice": "multiple choice",
    "derivation": "derivation",
    "matching": "matching",
    "code": "interpret the code",
}
# The page that shows the quiz, as Sphinx names documents: links are made relative to it.
REVIEW_DOC = "chapters/11_midterm_review"
# Where the browser keeps the reader's answers (the review plan survives a reload).
STORAGE_KEY = "optimlab-midterm-review"
# A MyST target on a line of its own, as chapters write them: (sec-momentum-conventions)=
_LABEL_LINE = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=[ \t]*$", re.MULTILINE)
# The heading a label names, when one follows it (blank lines allowed in between).
_HEADING_NEXT = re.compile(r"\s*\n#+[ \t]+(.+?)[ \t]*$", re.MULTILINE)
# Switches of torch.optim's classes that choose an implementation, not the algorithm.
_IMPLEMENTATION_SWITCHES = {"foreach", "fused", "differentiable", "capturable", "maximize"}
_REQUIRED = {
    "true_false": {"answer", "reason", "why_wrong"},
    "multiple_choice": {"options"},
    "derivation": {"answer", "tolerance", "reason", "why_wrong"},
    "matching": {"answer", "distractors", "reason", "why_wrong"},
    "code": {"code", "reason", "why_wrong"},
}


@dataclass(frozen=True)
class Review:
    errata: dict[int, str]
    topics: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    cheat_sheet: list[dict[str, Any]]

    def topic(self, topic_id: str) -> dict[str, Any]:
        return next(t for t in self.topics if t["id"] == topic_id)


def load_review(path: Path = QUESTIONS_FILE) -> Review:
    """Read the data file and check that every question has what its kind needs; raise ``ValueError`` if not."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    review = Review(data["errata"], data["topics"], data["questions"], data["cheat_sheet"])
    topic_ids = {t["id"] for t in review.topics}
    seen = set()
    for q in review.questions:
        where = f"question {q.get('id')!r} in {path}"
        if q.get("id") in seen:
            raise ValueError(f"{where}: the id is used twice")
        seen.add(q["id"])
        if q.get("kind") not in KINDS:
            raise ValueError(f"{where}: kind {q.get('kind')!r} is not one of {KINDS}")
        if q.get("topic") not in topic_ids:
            raise ValueError(f"{where}: topic {q.get('topic')!r} is not one of {sorted(topic_ids)}")
        unknown = set(q.get("errata", [])) - set(review.errata)
        if unknown:
            raise ValueError(f"{where}: errata {sorted(unknown)} are not items of the errata list")
        missing = (_REQUIRED[q["kind"]] | {"prompt", "section"}) - set(q)
        if missing:
            raise ValueError(f"{where}: missing {sorted(missing)}")
        if q["kind"] == "code" and "answer" in q:
            raise ValueError(f"{where}: a code question's answer is what its code prints; do not type one")
        if q["kind"] == "multiple_choice":
            right = [o for o in q["options"] if o.get("correct")]
            if len(right) != 1 or not all("reason" in o or "why_wrong" in o for o in q["options"]):
                raise ValueError(f"{where}: needs exactly one correct option (with a reason), the others a why_wrong")
        if q["kind"] == "true_false" and not isinstance(q["answer"], bool):
            raise ValueError(f"{where}: the answer must be true or false unquoted, not {q['answer']!r}")
        if q["kind"] == "derivation" and not q["tolerance"] > 0:
            raise ValueError(f"{where}: the tolerance must be positive, not {q['tolerance']!r}")
        if q["kind"] == "matching":
            if set(q["why_wrong"]) != set(q["answer"]):
                raise ValueError(f"{where}: why_wrong must explain each item of the answer")
            if set(q.get("distractors", [])) & set(q["answer"].values()):
                raise ValueError(f"{where}: a distractor is also a correct property")
    return review


def run_snippet(code: str) -> str:
    """Run ``code`` in a fresh namespace and return what it prints (the answer of a code question)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<review snippet>", "exec"), {"__name__": "__review__"})
    return printed.getvalue()


def normalize_output(text: str) -> str:
    """Printed output as compared with a prediction: spaces and blank lines at either end do not count."""
    lines = [re.sub(r"\s+", "", line) for line in text.strip().splitlines()]
    return "\n".join(line for line in lines if line)


def book_labels(book_root: Path) -> dict[str, dict[str, str]]:
    """Every section label the book defines: ``{label: {"doc": "chapters/04_momentum", "title": heading}}``.

    Only documents listed in ``_toc.yml`` count: the book builds nothing else. The title is the
    heading right after the label (the label itself when none follows). An empty dict when there
    is no ``_toc.yml`` (the chapter run on its own, e.g. in Colab).
    """
    toc = Path(book_root) / "_toc.yml"
    if not toc.exists():
        return {}
    labels = {}
    for doc in _toc_documents(yaml.safe_load(toc.read_text(encoding="utf-8"))):
        source = Path(book_root) / f"{doc}.md"
        if not source.exists():
            continue
        text = source.read_text(encoding="utf-8")
        for target in _LABEL_LINE.finditer(text):
            heading = _HEADING_NEXT.match(text, target.end())
            labels[target.group(1)] = {"doc": doc, "title": heading.group(1) if heading else target.group(1)}
    return labels


def _toc_documents(entry: Any) -> list[str]:
    if isinstance(entry, list):
        return [doc for item in entry for doc in _toc_documents(item)]
    if not isinstance(entry, dict):
        return []
    own = [entry[key] for key in ("root", "file") if key in entry]
    return own + [doc for key in ("parts", "chapters", "sections") for doc in _toc_documents(entry.get(key, []))]


def section_href(label: str, labels: dict[str, dict[str, str]], from_doc: str = REVIEW_DOC) -> str | None:
    """The link from ``from_doc`` to the section labelled ``label``, or ``None`` while no page defines it."""
    if label not in labels:
        return None
    target = posixpath.relpath(f"{labels[label]['doc']}.html", posixpath.dirname(from_doc))
    return f"{target}#{label}"


def _shuffled(items: list, seed: str) -> list:
    """A fixed order that does not give the answer away (the data file lists the right option first)."""
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def page_data(review: Review, labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What ``quiz.js`` needs to check each answer and to build the review plan, keyed by question id."""
    questions = {}
    for number, q in enumerate(review.questions, start=1):
        topic = review.topic(q["topic"])
        entry = {
            "number": number,
            "kind": q["kind"],
            "topic": topic["id"],
            "section": q["section"],
            "href": section_href(q["section"], labels),
            "section_title": f"{labels[q['section']]['title']} ({topic['title']})" if q["section"] in labels else None,
            "reread": f"{topic['title']} (lecture notes, {topic['notes']})",
        }
        if q["kind"] == "multiple_choice":
            entry["options"] = [
                {"correct": bool(o.get("correct")), "feedback": o.get("reason") or o["why_wrong"]}
                for o in _shuffled(q["options"], q["id"])
            ]
        else:
            entry["reason"], entry["why_wrong"] = q["reason"], q["why_wrong"]
        if q["kind"] in ("true_false", "matching"):
            entry["answer"] = q["answer"]
        elif q["kind"] == "derivation":
            entry["answer"], entry["tolerance"] = float(q["answer"]), float(q["tolerance"])
        elif q["kind"] == "code":
            entry["answer"] = run_snippet(q["code"])
        questions[q["id"]] = entry
    return {"storage_key": STORAGE_KEY, "topics": [t["id"] for t in review.topics], "questions": questions}


def quiz_html(review: Review, labels: dict[str, dict[str, str]]) -> str:
    """The static quiz: every question with labelled controls, and the data ``quiz.js`` checks answers with."""
    data = page_data(review, labels)
    parts = ['<div class="quiz">']
    parts += [_question_html(q, data["questions"][q["id"]], review) for q in review.questions]
    data = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    parts.append(f'<script type="application/json" class="quiz-data">{data}</script></div>')
    return "\n".join(parts)


def _question_html(q: dict[str, Any], entry: dict[str, Any], review: Review) -> str:
    e = html.escape
    qid = f"q-{q['id']}"
    title = f"Question {entry['number']} · {review.topic(q['topic'])['title']} · {KIND_NAMES[q['kind']]}"
    # "Check question 7": a screen reader lists the buttons by name, and a page of "Check" says nothing.
    check_button = (
        f'<button type="button" class="quiz-check" aria-label="Check question {entry["number"]}">Check</button>'
    )
    out = [
        f'<section class="quiz-question" id="{qid}" data-question="{e(q["id"])}" aria-labelledby="{qid}-title">',
        f'<h3 class="quiz-title" id="{qid}-title">{e(title)}</h3>',
        f'<p class="quiz-prompt" id="{qid}-prompt">{e(q["prompt"])}</p>',
    ]
    if q["kind"] == "code":
        out.append(f'<pre class="quiz-code"><code>{e(q["code"].rstrip())}</code></pre>')
    if q["kind"] == "true_false":
        out.append(f'<div class="quiz-choices" role="group" aria-labelledby="{qid}-prompt">')
        out += [
            f'<button type="button" class="quiz-choice" data-answer="{v}">{t}</button>'
            for v, t in (("true", "True"), ("false", "False"))
        ]
        out.append("</div>")
    elif q["kind"] == "multiple_choice":
        out.append(f'<div class="quiz-choices quiz-options" role="group" aria-labelledby="{qid}-prompt">')
        out += [
            f'<button type="button" class="quiz-choice" data-option="{i}">{e(o["text"])}</button>'
            for i, o in enumerate(_shuffled(q["options"], q["id"]))
        ]
        out.append("</div>")
    elif q["kind"] == "derivation":
        out.append(
            f'<div class="quiz-answer"><label for="{qid}-input">Your answer (a number)</label>'
            f'<input type="text" inputmode="decimal" autocomplete="off" id="{qid}-input" class="quiz-input">'
            + check_button
            + "</div>"
        )
    elif q["kind"] == "matching":
        properties = _shuffled(sorted(set(q["answer"].values()) | set(q["distractors"])), q["id"])
        options = '<option value="">Choose…</option>' + "".join(
            f'<option value="{e(p)}">{e(p)}</option>' for p in properties
        )
        out.append(f'<div class="quiz-matching" role="group" aria-labelledby="{qid}-prompt">')
        for i, item in enumerate(q["answer"]):
            out.append(
                f'<div class="quiz-pair"><label for="{qid}-m{i}">{e(item)}</label>'
                f'<select id="{qid}-m{i}" class="quiz-select" data-item="{e(item)}">{options}</select></div>'
            )
        out.append(check_button + "</div>")
    elif q["kind"] == "code":
        rows = max(2, entry["answer"].count("\n"))
        out.append(
            f'<div class="quiz-answer"><label for="{qid}-input">What it prints</label>'
            f'<textarea id="{qid}-input" class="quiz-input" rows="{rows}" spellcheck="false"></textarea>'
            + check_button
            + "</div>"
        )
    out.append(f'<div class="quiz-feedback" id="{qid}-feedback" role="status" aria-live="polite"></div>')
    out.append("</section>")
    return "\n".join(out)


def review_plan_html() -> str:
    """The review plan's place on the page; ``quiz.js`` fills it from the answers kept in the browser."""
    return (
        '<section class="quiz-plan" aria-label="Your review plan">'
        '<div class="quiz-plan-list" role="status" aria-live="polite">'
        "<p>Answer the questions above: the sections to reread appear here, in the lecture's order.</p></div>"
        '<button type="button" class="quiz-reset">Start over</button></section>'
    )


def class_defaults(dotted_path: str) -> dict[str, Any]:
    """The hyperparameters of an optimizer class and their defaults, read from the installed library."""
    module, name = dotted_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    return {
        p.name: p.default
        for p in inspect.signature(cls).parameters.values()
        if p.name != "params" and p.name not in _IMPLEMENTATION_SWITCHES and p.default is not inspect.Parameter.empty
    }


def cheat_sheet_html(review: Review) -> str:
    """One card per optimizer: update rule (PyTorch form), state, class with its installed defaults, what it fixes."""
    e = html.escape
    cards = []
    for entry in review.cheat_sheet:
        defaults = ", ".join(f"{k}={v!r}" for k, v in class_defaults(entry["class"]).items())
        call = f"{entry['class']}({entry['options']})" if entry["options"] else entry["class"]
        rule = "<br>".join(e(line) for line in entry["rule"])
        cards.append(
            f'<article class="cheat-card" aria-label="{e(entry["name"])}"><h3>{e(entry["name"])}</h3><dl>'
            f'<dt>Update</dt><dd class="cheat-rule">{rule}</dd>'
            f"<dt>State</dt><dd>{e(entry['state'])}</dd>"
            f"<dt>Class</dt><dd><code>{e(call)}</code>; defaults: <code>{e(defaults)}</code></dd>"
            f"<dt>Fixes</dt><dd>{e(entry['fixes'])}</dd></dl></article>"
        )
    return '<div class="cheat-sheet">' + "".join(cards) + "</div>"
