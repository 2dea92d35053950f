"""Regrading: the same folder graded twice gives byte-identical grades.csv and feedback pages, in both engines."""

from __future__ import annotations

import pytest
from fixtures.grading import EXERCISE, batch, built_root, write

from autograder.grade import grade_folder

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
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / run
        grade_folder(EXERCISE, folder, out, root=root, engine=engine, jobs=2, timeout=30)
        outputs.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert len(outputs[0]) == len(KINDS) + 1
    assert outputs[0] == outputs[1]
