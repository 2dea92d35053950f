"""Every chapter executes top to bottom in a fresh kernel, and shows its explorable."""

import shutil
import time
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("*.md"))


def _html_outputs(notebook) -> list[str]:
    return [
        "".join(output["data"]["text/html"])
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {})
    ]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[chapter.stem for chapter in CHAPTERS])
def test_chapter_executes_without_errors(chapter, tmp_path):
    # Run from a copy, so nothing a chapter writes lands in the repository.
    copy = shutil.copy(chapter, tmp_path / chapter.name)
    notebook = jupytext.read(copy)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    print(f"{chapter.name} executed in {time.perf_counter() - started:.1f} s")
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors, f"{chapter.name}: {errors[0].ename}: {errors[0].evalue}"
    assert any('<div class="explorable">' in html and 'type="range"' in html for html in _html_outputs(notebook)), (
        f"{chapter.name} shows no explorable (an HTML output with a range slider in a div.explorable)"
    )
