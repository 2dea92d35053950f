"""Command line for instructors: `python -m autograder build` and `python -m autograder grade`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import paths
from .protocol import SUBMISSION_TIMEOUT_S

DESCRIPTION = """\
Build the exercises and grade submissions.

  build   From each source notebook in exercises/, write under ROOT (default _build/):
            exercises/student/EXERCISE.ipynb         what students open (Colab, JupyterHub)
            exercises/otter/EXERCISE-autograder.zip  for `otter run` or Gradescope
            nbgrader/                                an nbgrader course: source/, release/, gradebook.db
  grade   Grade a folder of submitted notebooks (file name = student id), each in a sandboxed
          process with time and memory limits that sees no hidden test; the grade is decided
          outside it, against the reference. Writes OUT/grades.csv, OUT/feedback/*.html and the
          class report OUT/report.html (OUT/report.json): common mistakes, scores, errors, timing.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build student notebooks, otter zips and the nbgrader course")
    build.add_argument(
        "--root", "--out", dest="root", type=Path, default=paths.DEFAULT_ROOT, help="build root (default: %(default)s)"
    )
    build.add_argument("--exercises", type=Path, default=paths.EXERCISES, help="source folder (default: %(default)s)")

    grade = commands.add_parser(
        "grade",
        help="grade a folder of submissions",
        description="Grade every .ipynb in SUBMISSIONS_DIR. For --engine otter a submission is a filled-in "
        "student notebook; for --engine nbgrader, a filled-in nbgrader release notebook. "
        "A submission that is not a notebook or runs past --timeout gets a row with zeros; "
        "one whose cells raise, exit or loop (a cell is interrupted at half the limit) keeps the "
        "points its functions still earn. Either way the `error` column says what happened and "
        "the batch goes on.",
    )
    grade.add_argument("exercise", help="exercise name, e.g. 04_momentum")
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    grade.add_argument("--out", type=Path, required=True, metavar="OUT_DIR", help="where grades.csv and feedback/ go")
    grade.add_argument("--engine", choices=["otter", "nbgrader"], default="otter", help="default: %(default)s")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default: %(default)s)")
    grade.add_argument(
        "--timeout", type=float, default=SUBMISSION_TIMEOUT_S, help="seconds per submission (default: %(default)s)"
    )
    grade.add_argument(
        "--root", type=Path, default=paths.DEFAULT_ROOT, help="build root holding the artifacts (default: %(default)s)"
    )
    grade.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_false",
        help="grade where bubblewrap cannot start (not Linux, no user namespaces): the notebooks' "
        "code then runs as you, able to read and change your files",
    )

    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command == "build":
        from .build import build_all

        built = build_all(args.root, args.exercises)
        print(f"built {', '.join(built)} into {args.root} in {time.perf_counter() - start:.1f} s")
    else:
        from .grade import grade_folder
        from .sandbox import NO_SANDBOX_WARNING, SandboxUnavailable

        known = paths.discover_exercises()
        if args.exercise not in known:
            parser.error(f"unknown exercise {args.exercise!r}; the exercises are: {', '.join(known)}")
        if not args.submissions.is_dir():
            parser.error(f"no folder of submissions at {args.submissions}")
        if not paths.otter_zip(args.root, args.exercise).exists():
            parser.error(
                f"{args.exercise} is not built under {args.root}: run `make book` "
                "(or `python -m autograder build`) first"
            )
        if not args.sandbox:
            print(f"WARNING: {NO_SANDBOX_WARNING}", file=sys.stderr)
        try:
            rows = grade_folder(
                args.exercise,
                args.submissions,
                args.out,
                root=args.root,
                engine=args.engine,
                jobs=args.jobs,
                timeout=args.timeout,
                sandbox=args.sandbox,
            )
        except SandboxUnavailable as error:
            print(f"python -m autograder grade: {error}", file=sys.stderr)
            return 2
        failed = sum(1 for row in rows if row["error"])
        print(
            f"graded {len(rows)} submissions ({failed} with errors) in {time.perf_counter() - start:.1f} s; "
            f"grades in {args.out.resolve() / 'grades.csv'}, feedback pages in {args.out.resolve() / 'feedback'}"
        )
        print(f"class report: {args.out.resolve() / 'report.html'} (figures in {args.out.resolve() / 'report.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
