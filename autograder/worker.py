"""`python -m autograder.worker`: a pre-warmed process that runs each submission in a forked, limited child.

The grader (`autograder.sandbox.Sandbox`) starts one worker per job. The worker imports
torch and IPython once, then for each request (one JSON line on stdin: the submission's
code cells, the graded functions' signatures and hidden cases, the limits) forks a child
that, in a session of its own:

- sets its limits (address space, CPU seconds, file size) and moves to an empty scratch folder;
- makes `optimlab`, `autograder`, `otter` and `nbgrader` unimportable and drops them from `sys.modules`;
- runs the cells in order in an IPython shell, recording each cell's error and going on;
- calls each graded function on its cases and sends the records back, as JSON lines on a pipe.

The worker enforces the wall-clock limit (killing the child's process group), collects what
the child sent, and answers the grader with one JSON line. It never runs student code
itself; the child never sees a hidden test file, the reference or the grader's state.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import Iterator

import numpy  # noqa: F401  (imported here once, so that each child starts with it loaded)
import torch
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from .checks.records import Signature, describe_exception, run_case

BLOCKED_PACKAGES = ("optimlab", "autograder", "otter", "nbgrader")
MAX_EVENTS_BYTES = 32 * 2**20  # what a child may send back; the rest is dropped
OUTPUT_CAP_CHARS = 2**20  # printed output kept per submission; the rest is counted, not stored
FILE_SIZE_LIMIT = 64 * 2**20
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
GRADING_HEADROOM = 512 * 2**20  # address space kept back from the cells for calling the graded functions
# Soft time limits, as shares of the submission's limit: a looping cell is interrupted and the
# next cells run; a looping function fails its question only. The worker's hard limit stays.
CELL_SHARE, QUESTION_SHARE = 0.5, 0.25


class TimeLimit(Exception):
    """Raised in the child by SIGALRM when a cell or a graded function runs past its soft limit."""


def main() -> int:
    torch.set_num_threads(1)  # `--jobs N` runs N workers on N cores
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the protocol
    shell = _make_shell()
    for line in sys.stdin:
        channel.write(json.dumps(run_request(json.loads(line), shell)) + "\n")
        channel.flush()
    return 0


def _make_shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.enabled = False  # no sqlite history file
    config.InteractiveShell.colors = "NoColor"
    return InteractiveShell.instance(config=config)


def run_request(request: dict, shell: InteractiveShell) -> dict:
    """Fork a child for `request`; its events (JSON lines), and how it ended: done, timeout, exited or signal.

    The child works in `PRIVATE/work`, so that neither its folder nor the one above holds
    anything but what it wrote itself; both go when it ends.
    """
    private = tempfile.mkdtemp(prefix="autograder-sandbox-")
    scratch = os.path.join(private, "work")
    os.mkdir(scratch)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into this loop
        code = 0
        try:
            os.close(read_end)
            _child(request, shell, scratch, write_end)
        except BaseException:  # noqa: BLE001  the grader reads the missing "done" event
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    data, timed_out, status = _collect(read_end, pid, request["timeout"])
    os.close(read_end)
    try:
        os.killpg(pid, signal.SIGKILL)  # whatever the child started dies with it
    except (ProcessLookupError, PermissionError):
        pass
    if status is None:
        _, status = os.waitpid(pid, 0)
    shutil.rmtree(private, ignore_errors=True)
    ending = {"timeout": timed_out}
    if os.WIFEXITED(status):
        ending["exit_code"] = os.WEXITSTATUS(status)
    elif os.WIFSIGNALED(status):
        ending["signal"] = signal.Signals(os.WTERMSIG(status)).name
    return {"events": data.decode("utf-8", errors="replace"), **ending}


def _collect(read_end: int, pid: int, timeout: float) -> tuple[bytes, bool, int | None]:
    """Read the child's events until it closes the pipe, exits, or runs out of time; kill it in the last case.

    Returns the bytes read, whether it timed out, and its wait status if it was reaped here.
    """
    deadline = time.monotonic() + timeout
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill(pid)
            return b"".join(chunks), True, None
        ready, _, _ = select.select([read_end], [], [], min(left, 0.5))
        if ready:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                return b"".join(chunks), False, None
            if size < MAX_EVENTS_BYTES:
                chunks.append(chunk)
                size += len(chunk)
        else:
            reaped, status = os.waitpid(pid, os.WNOHANG)
            if reaped:  # exited, though something it started may hold the pipe open
                return b"".join(chunks), False, status


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------- the child

class _CappedOutput:
    """sys.stdout/stderr for the child: keeps nothing, counts what was printed beyond OUTPUT_CAP_CHARS."""

    def __init__(self, counter: list[int]):
        self.counter = counter

    def write(self, text) -> int:
        self.counter[0] += len(text) if isinstance(text, str) else 0
        return len(text) if isinstance(text, str) else 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Blocker:
    """A meta-path finder that refuses BLOCKED_PACKAGES, so a submission cannot reach the grader or a reference."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in BLOCKED_PACKAGES:
            raise ImportError(f"{name} cannot be imported while your notebook is graded")
        return None


def _child(request: dict, shell: InteractiveShell, scratch: str, channel: int) -> None:
    printed = _enter_sandbox(request, scratch, channel)
    emit = _Emitter(channel)
    timer = _SoftTimer()
    for index, source in enumerate(request["cells"]):
        emit({"event": "cell", "index": index})
        with timer(request["timeout"] * CELL_SHARE):
            result = shell.run_cell(source, store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            emit({"event": "cell_error", "index": index, "error": _cell_error(error)})
    emit({"event": "output", "chars": printed[0]})
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))  # headroom to grade a notebook that filled its memory
    for name, question in request["questions"].items():
        emit({"event": "question", "name": name})
        fn = shell.user_ns.get(name)
        if not callable(fn):
            emit({"event": "records", "name": name, "missing": True})
            continue
        signature = Signature(name, tuple(question["params"]), tuple(question["returns"]))
        with timer(request["timeout"] * QUESTION_SHARE):
            records = {check: [run_case(fn, signature, case) for case in cases]
                       for check, cases in question["cases"].items()}
        emit({"event": "records", "name": name, "checks": records})
    emit({"event": "done"})


def _enter_sandbox(request: dict, scratch: str, channel: int) -> list[int]:
    """Cut the child off from the worker and the grader; returns the counter of characters printed."""
    os.setsid()
    _close_inherited_descriptors(keep=channel)  # e.g. the worker's own line to the grader
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the worker, even if the grader kills it
    _limit(request)
    os.chdir(scratch)
    os.environ.clear()
    os.environ.update(HOME=scratch, TMPDIR=scratch, PATH="/usr/bin:/bin", MPLBACKEND="Agg")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # C-level output goes nowhere; Python-level output is counted
        os.dup2(null, fd)
    printed = [0]
    sys.stdout = sys.stderr = _CappedOutput(printed)
    sys.meta_path.insert(0, _Blocker())
    for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED_PACKAGES]:
        del sys.modules[name]
    return printed


class _Emitter:
    """Writes events to the grader's pipe, one JSON line each."""

    def __init__(self, fd: int):
        self.fd = fd

    def __call__(self, event: dict) -> None:
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


class _SoftTimer:
    """`with timer(seconds):` raises TimeLimit inside the block (SIGALRM) when it runs past `seconds`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _on_alarm(self, signum, frame):
        raise TimeLimit(f"stopped after {self.seconds:g} s (an infinite loop?)")

    @contextlib.contextmanager
    def __call__(self, seconds: float) -> Iterator[None]:
        self.seconds = seconds
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _close_inherited_descriptors(keep: int) -> None:
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    limit = limit if 0 < limit < 1 << 16 else 1 << 16
    os.closerange(3, keep)
    os.closerange(keep + 1, limit)


def _cell_error(error: BaseException) -> str:
    if isinstance(error, TimeLimit):
        return f"was {error}"
    if isinstance(error, SyntaxError):
        return f"has a syntax error on line {error.lineno}: {error.msg}"
    return f"raised {describe_exception(error)}"


def _limit(request: dict) -> None:
    """Address space (on top of what torch already maps), CPU seconds, file size; no core files.

    The cells get the soft address-space limit; the hard one, GRADING_HEADROOM above, is
    for calling the graded functions afterwards (a cell could raise its own soft limit to
    it, no further).
    """
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    memory = mapped + int(request["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory + GRADING_HEADROOM))
    cpu = int(request["timeout"]) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing


if __name__ == "__main__":
    sys.exit(main())
