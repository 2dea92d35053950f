"""Where things are: the repository, its exercises, and the fixed artifact paths under a build root."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXERCISES = REPO / "exercises"
DEFAULT_ROOT = REPO / "_build"


def discover_exercises(exercises_dir: Path = EXERCISES) -> list[str]:
    """Names of the source notebooks in `exercises_dir` (files starting with `_` or `.` are not exercises)."""
    return sorted(p.stem for p in exercises_dir.glob("*.ipynb") if not p.name.startswith(("_", ".")))


def student_notebook(root: Path, exercise: str) -> Path:
    return root / "exercises" / "student" / f"{exercise}.ipynb"


def otter_zip(root: Path, exercise: str) -> Path:
    return root / "exercises" / "otter" / f"{exercise}-autograder.zip"


def nbgrader_course(root: Path) -> Path:
    return root / "nbgrader"


def nbgrader_notebook(root: Path, stage: str, exercise: str) -> Path:
    """`stage` is nbgrader's folder: source, release, submitted, autograded."""
    return nbgrader_course(root) / stage / exercise / f"{exercise}.ipynb"


def pinned_requirement(name: str) -> str:
    """The `name==version` line of the repository's requirements.txt, the one place versions are pinned."""
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name.lower():
            return line.strip()
    raise LookupError(f"{name} is not pinned in {REPO / 'requirements.txt'}")


def tool_environment() -> dict[str, str]:
    """os.environ with this interpreter's bin folder first on PATH.

    nbgrader runs the `alembic` command and Jupyter finds kernels through PATH; an
    un-activated virtual environment would otherwise hand them the wrong (or no) tools.
    """
    import os
    import sys

    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
