"""Hidden cases and what a step function did with them, as plain data.

A *case* is a sequence of calls to one step function: the initial state (say `w` and
`delta_w`) and, for each step, the fresh inputs (`grad`, `lr`, ...). Each side (the
student, the reference, a cataloged mistake) threads its own returned state into its next
call, as in training. `run_case` turns the calls into a *record*: per step the returned
tensors as data (dtype, shape, bytes), which inputs the call modified in place, or the
error it raised, in words. Records are JSON, so the student's sandbox sends them to the
grader without any object whose methods the student could have overridden.

This module runs inside the student's sandbox and inside the otter autograder zip: it
imports only the standard library, numpy and torch.
"""

from __future__ import annotations

import base64
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

# dtypes a record may carry; anything else is converted to float64 before it leaves the call.
ARRAY_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
MAX_ERROR_CHARS = 300
# The one table of code a graded update rule must not call: optimizer libraries and this course's own
# references, as they are imported. The source check (`grading.static_delegation`) matches a dotted name
# against it; the run-time watch and the worker's switch-off match a code object's file
# (`delegate_library_of_file`).
DELEGATE_LIBRARIES = (
    "torch.optim",
    "optimlab",
    "optax",
    "keras",
    "tensorflow",
    "timm.optim",
    "transformers.optimization",
)
# Each library's source as a fragment of a file path: its package folder, or its module file.
_DELEGATE_FILES = {
    library: (f"/{library.replace('.', '/')}/", f"/{library.replace('.', '/')}.py") for library in DELEGATE_LIBRARIES
}


@dataclass(frozen=True)
class Signature:
    """How a graded function is called: its positional parameters and the names of what it returns."""

    name: str
    params: tuple[str, ...]
    returns: tuple[str, ...]


def encode(value):
    """A tensor (or array) as {dtype, shape, data}; None and numbers as they are."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if str(value.dtype).removeprefix("torch.") not in ARRAY_DTYPES:
            value = value.to(torch.float64)
        value = value.numpy()
    array = np.asarray(value)  # not ascontiguousarray: it turns a 0-d array into shape (1,)
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}


def decode_array(data) -> np.ndarray:
    """The array an `encode`d dict stands for; refuses dtypes outside ARRAY_DTYPES (records may come from a student)."""
    if not isinstance(data, dict) or data.get("dtype") not in ARRAY_DTYPES:
        raise ValueError(f"not an encoded array: {str(data)[:80]}")
    shape = tuple(int(n) for n in data["shape"])
    return np.frombuffer(base64.b64decode(data["data"]), dtype=data["dtype"]).reshape(shape).copy()


def decode(value):
    """An encoded input back as a tensor (None and numbers unchanged)."""
    return torch.from_numpy(decode_array(value)) if isinstance(value, dict) else value


def run_case(fn: Callable, signature: Signature, case: dict) -> dict:
    """Call `fn` through `case`'s steps, threading its own returned state; the record of what it did.

    The record is {"steps": [...], "delegated": [...]}: each step is {"out": [encoded...],
    "modified": [input names]} or, for the step that failed (the last), {"error": "..."}.
    """
    state = {name: decode(value) for name, value in case["state"].items()}
    steps, delegated = [], set()
    for step in case["steps"]:
        args = {**state, **{name: decode(value) for name, value in step.items()}}
        before = {name: encode(value) for name, value in args.items() if isinstance(value, torch.Tensor)}
        try:
            with watch_for_delegation(delegated, inside=fn):
                result = fn(*(args[name] for name in signature.params))
        except (Exception, SystemExit) as error:  # any student bug: recorded in words, never re-raised
            steps.append({"error": f"calling {signature.name} raised {describe_exception(error)}"})
            break
        if delegated:  # the question scores 0 whatever it returns; the profiled library calls are slow
            break
        problem = _return_problem(result, signature)
        if problem:
            steps.append({"error": problem})
            break
        outputs = (result,) if len(signature.returns) == 1 else result
        modified = sorted(name for name, data in before.items() if encode(args[name]) != data)
        steps.append({"out": [encode(value) for value in outputs], "modified": modified})
        state.update({name: value for name, value in zip(signature.returns, outputs) if name in state})
    return {"steps": steps, "delegated": sorted(delegated)}


def describe_exception(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit (sys.exit({error.code!r}) was called)"
    text = f"{type(error).__name__}: {error}".strip().rstrip(":")
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def _return_problem(result, signature: Signature) -> str:
    """'' when `result` is as the signature names it, else what is wrong, in words.

    One name: a tensor. Several: a tuple of tensors, where None may stand for a state that
    does not exist (SGD's buffer at momentum 0); comparing with the reference judges it.
    """
    if len(signature.returns) == 1:
        if not isinstance(result, torch.Tensor):
            got = "None" if result is None else type(result).__name__
            return f"{signature.name} returned {got}; it must return the tensor `{signature.returns[0]}`"
        return ""
    pair = f"({', '.join(signature.returns)})"
    if result is None:
        return f"{signature.name} returned None; it must return {pair}"
    if not isinstance(result, tuple) or len(result) != len(signature.returns):
        return f"{signature.name} must return the tuple {pair}, got {type(result).__name__}"
    for name, value in zip(signature.returns, result):
        if value is not None and not isinstance(value, torch.Tensor):
            return f"{signature.name} returned {type(value).__name__} for `{name}`; it must be a tensor"
    return ""


def delegate_library_of_module(dotted: str) -> str:
    """The library of DELEGATE_LIBRARIES that the dotted name `dotted` (a module or one of its members) is in, or ''."""
    return next((library for library in DELEGATE_LIBRARIES if f"{dotted}.".startswith(f"{library}.")), "")


def delegate_library_of_file(filename: str) -> str:
    """The library of DELEGATE_LIBRARIES whose source `filename` is (a module file or a file of its package), or ''."""
    filename = filename.replace("\\", "/")
    return next(
        (
            library
            for library, (package, module) in _DELEGATE_FILES.items()
            if package in filename or module in filename
        ),
        "",
    )


@contextlib.contextmanager
def watch_for_delegation(found: set[str], inside: Callable) -> Iterator[None]:
    """Add to `found` each optimizer library (DELEGATE_LIBRARIES) whose Python code `inside` calls in the block."""
    previous = sys.getprofile()
    own_code = getattr(inside, "__code__", None)

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is not own_code:
            library = delegate_library_of_file(frame.f_code.co_filename)
            if library:
                found.add(library)

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)
