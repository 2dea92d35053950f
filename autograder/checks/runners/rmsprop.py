"""Exercise 07_rmsprop's runner: the "steps" runner, with the graded function's own defaults where a case asks
for them.

`rmsprop_step(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0)` must have PyTorch's defaults.
A case step that gives a trailing parameter as the string `DEFAULT` calls the function without it (and
without the parameters after it), so that the function's own default decides it; the case still names every
parameter, so that feedback can show the call. Like `records`, this module imports only the standard library,
torch and `records`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..records import RUNNERS, Signature, runner

DEFAULT = "default"


@runner("steps_with_defaults")
def run_case_with_defaults(fn: Callable, signature: Signature, case: dict) -> dict:
    """The "steps" runner, calling `fn` with the parameters before the first one the case gives as `DEFAULT`."""
    first = case["steps"][0]
    count = next((i for i, name in enumerate(signature.params) if first.get(name) == DEFAULT), len(signature.params))
    return RUNNERS["steps"](fn, dataclasses.replace(signature, params=signature.params[:count]), case)
