"""The student notebook in a Colab-like environment: only what Colab ships, plus what the notebook installs.

A fresh virtual environment sees the packages of tests/colab_packages.txt (torch, numpy,
matplotlib, ipywidgets, ipykernel at requirements.txt's versions) and nothing of this
repository. The notebook runs top to bottom in an IPython kernel of that environment; its
first cell installs otter-grader itself, from the local wheelhouse `make wheelhouse` fills
(PIP_NO_INDEX and PIP_FIND_LINKS point pip there, so the test needs no network).

Installing torch takes most of a minute, so the Colab packages live in one environment
cached under _build/ (keyed on the requirement files); each run layers a new, empty
environment on top of it, which is where the notebook's own install lands.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from notebook_fill import EXERCISE, QUESTIONS, REFERENCE, filled

REPO = Path(__file__).resolve().parent.parent
STUDENT_NOTEBOOK = REPO / "_build" / "exercises" / "student" / f"{EXERCISE}.ipynb"  # written by `make book`
COLAB_PACKAGES = REPO / "tests" / "colab_packages.txt"
REQUIREMENTS = REPO / "requirements.txt"
WHEELHOUSE = REPO / "_build" / "wheelhouse"  # written by `make wheelhouse`
ENV_CACHE = REPO / "_build" / "colab-env"
KERNEL_NAME = "colab-like"
CELL_TIMEOUT_S = 300  # the first cell installs otter-grader and its dependencies

pytestmark = pytest.mark.slow


def _run(*command) -> None:
    done = subprocess.run([str(c) for c in command], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stdout}{done.stderr}")


def _site_packages(env: Path) -> Path:
    [site] = (env / "lib").glob("python3*/site-packages")
    return site


def _colab_base_env() -> Path:
    """The cached environment holding exactly the Colab packages, built from the wheelhouse when missing."""
    if not WHEELHOUSE.is_dir():
        raise FileNotFoundError(f"no wheelhouse at {WHEELHOUSE}: run `make wheelhouse` (needs the package index)")
    key = hashlib.sha256(COLAB_PACKAGES.read_bytes() + REQUIREMENTS.read_bytes()).hexdigest()[:12]
    env = ENV_CACHE / key
    if not (env / ".complete").exists():
        shutil.rmtree(ENV_CACHE, ignore_errors=True)  # environments for older requirements too
        _run(sys.executable, "-m", "venv", env)
        _run(
            env / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            WHEELHOUSE,
            "-r",
            COLAB_PACKAGES,
            "-c",
            REQUIREMENTS,
        )
        (env / ".complete").touch()
    return env


@pytest.fixture(scope="module")
def colab_kernel(tmp_path_factory) -> Path:
    """A kernel named KERNEL_NAME in a new environment layered on the Colab packages; returns its python."""
    root = tmp_path_factory.mktemp("colab")
    env = root / "env"
    _run(sys.executable, "-m", "venv", env)
    # The layer sees the cached Colab packages after its own (a .pth line adds a folder to sys.path).
    (_site_packages(env) / "colab_packages.pth").write_text(f"{_site_packages(_colab_base_env())}\n")
    python = env / "bin" / "python"
    _run(python, "-m", "ipykernel", "install", "--prefix", root / "kernels", "--name", KERNEL_NAME)

    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(root / "kernels" / "share" / "jupyter"))
    patch.setenv("PIP_NO_INDEX", "1")  # the notebook's install may use the wheelhouse only
    patch.setenv("PIP_FIND_LINKS", str(WHEELHOUSE))
    patch.delenv("PYTHONPATH", raising=False)
    yield python
    patch.undo()


def run_notebook(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run `nb` top to bottom in the Colab-like kernel, in `folder`; raises on the first cell that raises."""
    folder.mkdir()
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(folder)}}
    )
    return client.execute()


def check_reports(nb: nbformat.NotebookNode) -> dict[str, str]:
    """question -> the text of the output of its `grader.check(...)` cell."""
    reports = {}
    for cell in nb.cells:
        for question in QUESTIONS:
            if cell.cell_type == "code" and cell.source.strip() == f'grader.check("{question}")':
                reports[question] = "".join(
                    o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs
                )
    assert set(reports) == set(QUESTIONS), f"no grader.check cell for {set(QUESTIONS) - set(reports)}"
    return reports


def test_environment_has_the_colab_packages_and_nothing_of_this_repository(colab_kernel):
    probe = (
        "import importlib.util as u; import torch, numpy, matplotlib, ipywidgets; "
        "print([m for m in ('optimlab', 'autograder') if u.find_spec(m)])"
    )
    done = subprocess.run(
        [colab_kernel, "-c", probe], check=False, capture_output=True, text=True, cwd=colab_kernel.parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert not list(_site_packages(_colab_base_env()).glob("otter_grader-*")), "Colab does not ship otter"


def test_handed_out_notebook_runs_top_to_bottom(colab_kernel, tmp_path):
    nb = run_notebook(nbformat.read(STUDENT_NOTEBOOK, as_version=4), tmp_path / "work")
    # the first cell installed the grader into the new environment, not next to Colab's packages
    assert list(_site_packages(colab_kernel.parent.parent).glob("otter_grader-*.dist-info"))
    for question, report in check_reports(nb).items():
        assert "Test case failed" in report, f"the stub of {question} passed:\n{report}"


def test_filled_in_notebook_passes_every_public_check(colab_kernel, tmp_path):
    nb = run_notebook(filled(nbformat.read(STUDENT_NOTEBOOK, as_version=4), REFERENCE), tmp_path / "work")
    for question, report in check_reports(nb).items():
        assert "All test cases passed" in report, f"{question}:\n{report}"
