"""The course's autograder: builds student and grader artifacts from `exercises/` and grades submissions.

`python -m autograder --help` lists the commands. This package's import is kept light
(no otter, nbgrader or torch) because `autograder.checks` travels inside the otter
autograder zip and is imported by hidden tests on Gradescope.
"""
