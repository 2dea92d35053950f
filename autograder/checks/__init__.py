"""Hidden checks: per exercise, each graded function's hidden cases, reference and catalog of common mistakes.

`records` (cases and results as plain data) runs inside the student's sandbox; `grading`
decides a check from records; one module per exercise defines its questions. These
modules travel in the otter autograder zip, so they import only numpy, torch, `optimlab`
and each other, and this file imports nothing.
"""

# Exercise name -> the module (in this package) whose QUESTIONS define its graded functions.
EXERCISES = {"04_momentum": "momentum"}
