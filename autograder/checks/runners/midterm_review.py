"""The midterm review's runner: a question's answer is a value the notebook assigns, recorded as it is."""

from __future__ import annotations

import json

from ..records import Signature, encode, runner

MAX_ANSWER_CHARS = 2000


@runner("answer")
def record_answer(subject, signature: Signature, case: dict) -> dict:
    """The record of an answer variable: its value as plain data (None for `...` or None: not answered)."""
    return {"steps": [{"out": [answer_data(subject)], "modified": []}], "delegated": []}


def answer_data(value):
    """`value` as plain data: None, a bool, number or string, or a dict or list of those; anything else as its repr."""
    if value is Ellipsis:
        return None
    try:
        data = encode(value)
        json.dumps(data)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:MAX_ANSWER_CHARS]}
    if isinstance(data, str):
        return data[:MAX_ANSWER_CHARS]
    return data
