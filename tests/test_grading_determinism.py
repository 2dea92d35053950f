"""Regrading: the same folder graded twice gives byte-identical grades.csv and feedback pages, in both engines,
and a class report that differs only in how long the batch took."""

from __future__ import annotations

import json

import pytest
from fixtures.grading import EXERCISE, batch, built_root, write

from autograder.grade import grade_folder

CLASS_REPORT = ("report.html", "report.json")
# Rows of every kind that finish quickly: good, mistaken, broken, raising, exiting, odd names.
KINDS = [
    "good",
    "José Müller 2",
    "not_json",
    "empty_json",
    "syntax_error",
    "sys_exit",
    "exception_in_cell",
    "mistake sgd_momentum_step dampening_on_first_step",
    "mistake momentum_step_lecture lr_outside_velocity",
]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["otter", "nbgrader"])
def test_grading_twice_gives_identical_files(engine, tmp_path):
    root = built_root()
    folder = write(tmp_path / "submissions", {k: v for k, v in batch(engine, root).items() if k in KINDS})
    outputs, reports = [], []
    for run in ("first", "second"):
        out = tmp_path / run
        grade_folder(EXERCISE, folder, out, root=root, engine=engine, jobs=2, timeout=30)
        files = sorted(p for p in out.rglob("*") if p.is_file())
        outputs.append({p.relative_to(out): p.read_bytes() for p in files if p.name not in CLASS_REPORT})
        reports.append(json.loads((out / "report.json").read_text(encoding="utf-8")))
    assert len(outputs[0]) == len(KINDS) + 1
    assert outputs[0] == outputs[1]
    for report in reports:
        del report["timing"]
    assert reports[0] == reports[1]
