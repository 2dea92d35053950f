"""One table of the libraries a graded function may not call, read the same way by the source check and the watch."""

from __future__ import annotations

import pytest

from autograder.checks.grading import static_delegation
from autograder.checks.records import DELEGATE_LIBRARIES, delegate_library_of_file, delegate_library_of_module


@pytest.mark.parametrize("library", DELEGATE_LIBRARIES)
def test_the_source_check_and_the_watch_name_the_same_library(library):
    folder = library.replace(".", "/")
    assert delegate_library_of_module(library) == library
    assert delegate_library_of_module(f"{library}.Something") == library
    assert delegate_library_of_file(f"/venv/site-packages/{folder}/inner.py") == library
    assert delegate_library_of_file(f"/venv/site-packages/{folder}.py") == library
    source = f"import {library}\n\ndef step(w):\n    return {library}.step(w)\n"
    assert static_delegation(source, "step", {}) == [library]


@pytest.mark.parametrize(
    "name",
    ["torch", "torch.optimize_for_inference", "optimlabs", "transformers", "transformers.pipeline", "numpy.linalg"],
)
def test_names_outside_the_table_are_not_delegation(name):
    assert delegate_library_of_module(name) == ""
    assert delegate_library_of_file(f"/venv/site-packages/{name.replace('.', '/')}/inner.py") == ""
