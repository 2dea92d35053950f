"""Runners and makers beyond `records`' own, one module per exercise that needs them.

Importing this package imports every module in it, so each registers its `@runner`s and
`@maker`s (`autograder.checks.records`). They run inside the student's sandbox (the worker
imports them before any student code) and in the otter autograder zip: like `records`, they
import only the standard library, numpy, torch and `records`.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
