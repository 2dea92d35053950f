"""Hidden cases and what a step function did with them, as plain data.

A *case* is a sequence of calls to one step function: the initial state (say `w` and
`delta_w`) and, for each step, the fresh inputs (`grad`, `lr`, ...). Each side (the
student, the reference, a cataloged mistake) threads its own returned state into its next
call, as in training. `run_case` turns the calls into a *record*: per step the returned
values as data (a tensor's dtype, shape and bytes; numbers, strings, lists and dicts as
they are), which inputs the call modified in place, or the error it raised, in words.
Records are JSON, so the student's sandbox sends them to the grader without any object
whose methods the student could have overridden.

`run_case` is the runner named "steps". A question that is not a step function (a class
to train, a returned callable to probe, files to save and load, an answer to read) names
another runner, registered with `@runner` by a module of `autograder.checks.runners`;
an input that is not plain data (a seeded generator, a gradient function) is built in
the sandbox by a `@maker` from a `made(...)` description.

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


# What a returned value may be (`Signature.kinds`), and the words a feedback uses for it.
KINDS = {
    "tensor": "a tensor",
    "optional tensor": "a tensor (or None where there is no state yet)",
    "number": "a number",
    "tensors": "a list of tensors",
    "numbers": "a list of numbers",
    "any": "a value",
}
# `Signature.exempt` for an exercise about PyTorch's own optimizer API (`OPTIMIZERS_ALLOWED`): no call is delegation.
EXEMPT_ALL = ("/",)
RUNNERS: dict[str, Callable] = {}
MAKERS: dict[str, Callable] = {}


@dataclass(frozen=True)
class Signature:
    """How a graded function is called: its positional parameters, the names of what it returns, what each
    returned value must be (`KINDS`; by default a tensor, or an optional tensor when there are several), and
    the source files (path fragments) it may call without that counting as delegation."""

    name: str
    params: tuple[str, ...]
    returns: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()

    def kind_of(self, index: int) -> str:
        if self.kinds:
            return self.kinds[index]
        return "tensor" if len(self.returns) == 1 else "optional tensor"


def runner(name: str) -> Callable:
    """Register `fn(subject, signature, case) -> record` as the runner `name` (`Question.runner`)."""

    def register(fn: Callable) -> Callable:
        RUNNERS[name] = fn
        return fn

    return register


def maker(name: str) -> Callable:
    """Register `fn(**args) -> object` as the maker `name`: `made(name, **args)` in a case becomes its result."""

    def register(fn: Callable) -> Callable:
        MAKERS[name] = fn
        return fn

    return register


def made(name: str, **args) -> dict:
    """An input built in the sandbox by the maker `name` from `args` (tensors, numbers), as plain data."""
    return {"made": name, "args": {key: encode(value) for key, value in args.items()}}


@maker("generator")
def seeded_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def encode(value):
    """A tensor (or array) as {dtype, shape, data}; None, numbers and strings as they are; lists and dicts of
    those as lists and {"mapping": {...}} (keys as strings)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, dict) and set(value) == {"made", "args"}:
        return value  # already plain data: a `made` input
    if isinstance(value, dict):
        return {"mapping": {str(key): encode(item) for key, item in value.items()}}
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
    """An encoded input back as what it was: a tensor, a list, a dict, or the object a `made` input describes."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "made" in value:
        return MAKERS[value["made"]](**{key: decode(item) for key, item in value["args"].items()})
    if "mapping" in value:
        return {key: decode(item) for key, item in value["mapping"].items()}
    return torch.from_numpy(decode_array(value))


@runner("steps")
def run_case(fn: Callable, signature: Signature, case: dict) -> dict:
    """Call `fn` through `case`'s steps, threading its own returned state; the record of what it did.

    The record is {"steps": [...], "delegated": [...]}: each step is {"out": [encoded...],
    "modified": [input names]} or, for the step that failed (the last), {"error": "..."}.
    """
    state = {name: decode(value) for name, value in case["state"].items()}
    steps, delegated = [], set()
    for step in case["steps"]:
        args = {**state, **{name: decode(value) for name, value in step.items()}}
        recorded, outputs = call_and_record(fn, signature, args, delegated)
        steps.append(recorded)
        if "error" in recorded or delegated:  # after delegation the question scores 0 whatever it returns
            break
        state.update({name: value for name, value in zip(signature.returns, outputs) if name in state})
    return {"steps": steps, "delegated": sorted(delegated)}


def record_call(fn: Callable, signature: Signature, args: dict, delegated: set[str]) -> dict:
    """One call `fn(*args[p] for p in signature.params)` as a record step (see `call_and_record`)."""
    return call_and_record(fn, signature, args, delegated)[0]


def call_and_record(fn: Callable, signature: Signature, args: dict, delegated: set[str]) -> tuple[dict, tuple]:
    """One call as a record step, {"out": [...], "modified": [...]} or {"error": "..."}, and the returned values.

    The call runs under the delegation watch; an exception, or a returned value not of the signature's
    kinds, becomes the error in words (and no values).
    """
    before = {name: encode(value) for name, value in args.items() if isinstance(value, torch.Tensor)}
    try:
        with watch_for_delegation(delegated, inside=fn, exempt=signature.exempt):
            result = fn(*(args[name] for name in signature.params))
    except (Exception, SystemExit) as error:  # any student bug: recorded in words, never re-raised
        return {"error": f"calling {signature.name} raised {describe_exception(error)}"}, ()
    problem = _return_problem(result, signature)
    if problem:
        return {"error": problem}, ()
    outputs = (result,) if len(signature.returns) == 1 else tuple(result)
    modified = sorted(name for name, data in before.items() if encode(args[name]) != data)
    return {"out": [encode(value) for value in outputs], "modified": modified}, outputs


def describe_exception(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit (sys.exit({error.code!r}) was called)"
    text = f"{type(error).__name__}: {error}".strip().rstrip(":")
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def _return_problem(result, signature: Signature) -> str:
    """'' when `result` is as the signature names it (one value, or a tuple of them), else what is wrong, in words."""
    if len(signature.returns) == 1:
        return _kind_problem(result, signature.kind_of(0), signature.name, signature.returns[0])
    names = f"({', '.join(signature.returns)})"
    if result is None:
        return f"{signature.name} returned None; it must return {names}"
    if not isinstance(result, tuple) or len(result) != len(signature.returns):
        return f"{signature.name} must return the tuple {names}, got {type(result).__name__}"
    for index, (name, value) in enumerate(zip(signature.returns, result)):
        problem = _kind_problem(value, signature.kind_of(index), signature.name, name)
        if problem:
            return problem
    return ""


def _kind_problem(value, kind: str, function: str, name: str) -> str:
    def is_number(x) -> bool:
        return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool)

    fits = {
        "tensor": lambda: isinstance(value, torch.Tensor),
        "optional tensor": lambda: value is None or isinstance(value, torch.Tensor),
        "number": lambda: is_number(value),
        "tensors": lambda: isinstance(value, (list, tuple)) and all(isinstance(x, torch.Tensor) for x in value),
        "numbers": lambda: isinstance(value, (list, tuple)) and all(is_number(x) for x in value),
        "any": lambda: True,
    }[kind]
    if fits():
        return ""
    got = "None" if value is None else type(value).__name__
    if kind == "number" and isinstance(value, torch.Tensor):
        got += " (use float(...) or .item() to return a plain number)"
    return f"{function} returned {got} for `{name}`; it must be {KINDS[kind]}"


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
def watch_for_delegation(found: set[str], inside: Callable, exempt: tuple[str, ...] = ()) -> Iterator[None]:
    """Add to `found` each optimizer library (DELEGATE_LIBRARIES) whose Python code `inside` calls in the block,
    but for files whose path contains a fragment of `exempt`."""
    previous = sys.getprofile()
    own_code = getattr(inside, "__code__", None)

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is not own_code:
            filename = frame.f_code.co_filename
            library = delegate_library_of_file(filename)
            if library and not any(fragment in filename.replace("\\", "/") for fragment in exempt):
                found.add(library)

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)
