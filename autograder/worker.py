"""`python -m autograder.worker`: a pre-warmed process that runs each submission in a forked, limited child.

The grader (`autograder.sandbox.Sandbox`) starts one worker per job, inside bubblewrap. The
worker imports torch and IPython once and switches off the optimizer libraries (every
function of theirs now raises), then for each request (one JSON line on stdin: the
submission's code cells, the graded functions' signatures and hidden cases, the limits)
forks a child that:

- enters namespaces of its own (`autograder.namespaces`): a fresh tmpfs on SUBMISSION_ROOT
  (and a private /dev/shm) as the only writable places; the worker's home, the optimizer
  libraries' source folders and /proc hidden, /dev read-only, and these mounts locked; a
  bound on the number of processes; a PID namespace whose first process runs the
  notebook, so that everything the notebook starts dies with it (`--no-namespaces`, for
  `grade --no-sandbox`, skips this step and works in a scratch folder of the grading user's);
- in a session of its own, sets its limits (address space, CPU seconds, file size) and
  moves to an empty working folder;
- makes `optimlab`, `autograder`, `otter` and `nbgrader` unimportable and drops them from `sys.modules`;
- installs an audit hook that reports attempts to get around the delegation watch (`autograder.protocol`);
- runs the cells in order in an IPython shell, recording each cell's error and going on;
- calls each graded function on its cases and sends the records back, as JSON lines on a pipe.

The worker enforces the wall-clock limit (killing the child's process group), collects what
the child sent, and answers the grader with one JSON line. It never runs student code
itself; the child never sees a hidden test file, the reference or the grader's state.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import types
from collections.abc import Iterator

import numpy  # noqa: F401  (imported here once, so that each child starts with it loaded)
import torch
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from . import namespaces
from .checks import runners  # noqa: F401  (registers every exercise's runners and makers before the blocker)
from .checks.records import (
    RUNNERS,
    Signature,
    delegate_library_of_file,
    describe_exception,
    watch_for_delegation,
)
from .protocol import (
    SUBMISSION_ROOT,
    TAMPER_EVENT,
    WATCHED_AUDIT_EVENTS,
    WORK_FOLDER,
    WORKER_HOME,
    switched_off_message,
)

BLOCKED_PACKAGES = ("optimlab", "autograder", "otter", "nbgrader")
MAX_EVENTS_BYTES = 32 * 2**20  # what a child may send back; the rest is dropped
OUTPUT_CAP_CHARS = 2**20  # printed output kept per submission; the rest is counted, not stored
FILE_SIZE_LIMIT = 64 * 2**20
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
GRADING_HEADROOM = 512 * 2**20  # address space kept back from the cells for calling the graded functions
# Soft time limits, as shares of the submission's limit: a looping cell is interrupted and the
# next cells run; a looping function fails its question only. The worker's hard limit stays.
CELL_SHARE, QUESTION_SHARE = 0.5, 0.25
TMPFS_MB = 256
SHM_MB = 64  # a private /dev/shm, for multiprocessing's semaphores
MAX_PROCESSES = 64  # per submission, threads included; a fork bomb stops there


class TimeLimit(Exception):
    """Raised in the child by SIGALRM when a cell or a graded function runs past its soft limit."""


def main(argv: list[str] | None = None) -> int:
    isolated = "--no-namespaces" not in (sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)  # `--jobs N` runs N workers on N cores
    # Which vector instructions the CPU has, decided now (PyTorch decides once, on first use): a child that
    # decided it with /proc hidden would run other kernels, whose float32 rounding differs from the reference's.
    torch.backends.cpu.get_cpu_capability()
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the protocol
    shell = _make_shell()
    SWITCHED_OFF.update(switch_off_optimizers())
    for line in sys.stdin:
        channel.write(json.dumps(run_request(json.loads(line), shell, isolated)) + "\n")
        channel.flush()
    return 0


# Each switched-off function's own code, kept by the worker only: a child restores it for an exercise on
# PyTorch's optimizer API (`optimizers_allowed`) and, in every case, drops the table before student code runs.
SWITCHED_OFF: dict[types.FunctionType, types.CodeType] = {}
# The base class an optimizer written from scratch subclasses: it stays working (calling it is not an update).
OPTIMIZER_BASE_FILE = "/torch/optim/optimizer.py"


def switch_off_optimizers() -> dict[types.FunctionType, types.CodeType]:
    """Give every loaded function of an optimizer library (DELEGATE_LIBRARIES) code that raises `switched_off_message`;
    returns each function's original code.

    Done once, before any student code runs: a child drops the originals before running a
    submission, so the original code objects are then unreachable (and, with namespaces,
    their source folders hidden): no name built at run time, no reload and no switched-off
    profile hook brings them back. The new code keeps the file name, so the profile watch of
    `records` still names the library when it is called. `torch.optim.Optimizer`'s own
    methods stay: `AdamFromScratch` subclasses it.
    """
    originals = {}
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType:  # not isinstance: some objects warn when asked their __class__
            filename = obj.__code__.co_filename
            library = delegate_library_of_file(filename)
            if library and not filename.replace("\\", "/").endswith(OPTIMIZER_BASE_FILE):
                originals[obj] = obj.__code__
                code = _switched_off_code(len(obj.__code__.co_freevars), library)
                obj.__code__ = code.replace(co_filename=filename, co_name=obj.__code__.co_name)
    return originals


def _settle_optimizers(allowed: bool) -> None:
    """In a child, before student code: give the optimizer libraries back their code when the exercise is about
    them, then forget the originals either way."""
    if allowed:
        for function, code in SWITCHED_OFF.items():
            function.__code__ = code
    SWITCHED_OFF.clear()


@functools.cache
def _switched_off_code(free_variables: int, library: str) -> types.CodeType:
    """Code that raises, with as many free variables as the function it replaces (Python checks the count)."""
    names = [f"free{i}" for i in range(free_variables)]
    source = (
        "def enclosing():\n"
        + "".join(f"    {name} = None\n" for name in names)
        + "    def switched_off(*args, **kwargs):\n"
        + (f"        {', '.join(names)}\n" if names else "")
        + f"        raise RuntimeError({switched_off_message(library)!r})\n"
        + "    return switched_off\n"
    )
    namespace: dict = {}
    exec(source, namespace)
    return namespace["enclosing"]().__code__


def _make_shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.enabled = False  # no sqlite history file
    config.InteractiveShell.colors = "NoColor"
    return InteractiveShell.instance(config=config)


def run_request(request: dict, shell: InteractiveShell, isolated: bool = True) -> dict:
    """Fork a child for `request`; its events (JSON lines), and how it ended: done, timeout, exited or signal.

    Isolated, the child works in WORK_FOLDER on a tmpfs of its own; otherwise in
    `PRIVATE/work`, so that neither its folder nor the one above holds anything but what
    it wrote itself; both go when it ends.
    """
    private = None if isolated else tempfile.mkdtemp(prefix="autograder-sandbox-")
    scratch = WORK_FOLDER if isolated else os.path.join(private, "work")
    if not isolated:
        os.mkdir(scratch)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into this loop
        code = 0
        try:
            os.close(read_end)
            if isolated:
                _isolated_child(request, shell, write_end)
            else:
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
    if private:
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


def _isolated_child(request: dict, shell: InteractiveShell, channel: int) -> None:
    """Enter the submission's namespaces, then run it in process 1 of its PID namespace; end as that process did.

    When process 1 ends, the kernel kills whatever else the notebook started in the namespace.
    """
    mapped = _mapped_bytes()
    namespaces.enter_namespaces()
    namespaces.mount_tmpfs(SUBMISSION_ROOT, TMPFS_MB)
    os.mkdir(WORK_FOLDER, 0o700)
    proc_self = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
    hidden = {WORKER_HOME, "/proc"} | (
        set() if request.get("optimizers_allowed") else {os.path.dirname(torch.optim.__file__)}
    )
    for folder in hidden:
        namespaces.mount_tmpfs(folder, 1, read_only=True)
    namespaces.remount_read_only("/dev")  # bubblewrap's /dev is one tmpfs for every submission of the worker
    namespaces.mount_tmpfs("/dev/shm", SHM_MB)
    namespaces.lock_mounts(proc_self)
    os.close(proc_self)
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    pid = os.fork()
    if pid == 0:
        _child(request, shell, WORK_FOLDER, channel, mapped)
        return
    os.close(channel)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):  # die of the same signal, so that the worker reports it
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))


def _child(request: dict, shell: InteractiveShell, scratch: str, channel: int, mapped: int | None = None) -> None:
    _settle_optimizers(bool(request.get("optimizers_allowed")))
    printed = _enter_sandbox(request, scratch, channel, _mapped_bytes() if mapped is None else mapped)
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
        if name not in shell.user_ns:
            emit({"event": "records", "name": name, "missing": True})
            continue
        subject = shell.user_ns[name]
        signature = Signature(
            name,
            tuple(question["params"]),
            tuple(question["returns"]),
            tuple(question["kinds"]),
            tuple(question["exempt"]),
        )
        run = RUNNERS[question["runner"]]
        with timer(request["timeout"] * QUESTION_SHARE):
            records = {
                check: [run(subject, signature, case) for case in cases] for check, cases in question["cases"].items()
            }
        emit({"event": "records", "name": name, "checks": records})
    emit({"event": "done"})


def _enter_sandbox(request: dict, scratch: str, channel: int, mapped: int) -> list[int]:
    """Cut the child off from the worker and the grader; returns the counter of characters printed."""
    os.setsid()
    _close_inherited_descriptors(keep=channel)  # e.g. the worker's own line to the grader
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the worker, even if the grader kills it
    _limit(request, mapped)
    os.chdir(scratch)
    os.environ.clear()
    os.environ.update(HOME=scratch, TMPDIR=scratch, PATH="/usr/bin:/bin", MPLBACKEND="Agg")
    tempfile.tempdir = scratch  # the worker may have cached its own
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # C-level output goes nowhere; Python-level output is counted
        os.dup2(null, fd)
    printed = [0]
    sys.stdout = sys.stderr = _CappedOutput(printed)
    sys.meta_path.insert(0, _Blocker())
    for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED_PACKAGES]:
        del sys.modules[name]
    _install_tamper_alarm(channel)
    return printed


def _install_tamper_alarm(channel: int) -> None:
    """An audit hook (Python has no way to remove one) that reports WATCHED_AUDIT_EVENTS on the grader's pipe.

    It keeps what it needs in its closure and writes each report on a line of its own, so a
    notebook can neither switch it off nor glue its report to a half-written line. The
    watch's own `sys.setprofile` calls (from `records.watch_for_delegation`) are not reported.
    """
    own_watch = watch_for_delegation.__wrapped__.__code__
    reports = {
        event: ("\n" + json.dumps({"event": TAMPER_EVENT, "what": event}) + "\n").encode()
        for event in WATCHED_AUDIT_EVENTS
    }
    write, frame = os.write, sys._getframe

    def report(event, args):
        if event not in reports:
            return
        if event == "sys.setprofile" and frame(1).f_code is own_watch:
            return
        try:
            write(channel, reports[event])
        except OSError:
            pass

    sys.addaudithook(report)


def _mapped_bytes() -> int:
    """The address space this process maps now (read before /proc is hidden)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


class _Emitter:
    """Writes events to the grader's pipe, one JSON line each."""

    def __init__(self, fd: int):
        self.fd = fd

    def __call__(self, event: dict) -> None:
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data) :]


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


def _limit(request: dict, mapped: int) -> None:
    """Address space (on top of what torch already maps), CPU seconds, file size; no core files.

    The cells get the soft address-space limit; the hard one, GRADING_HEADROOM above, is
    for calling the graded functions afterwards (a cell could raise its own soft limit to
    it, no further).
    """
    memory = mapped + int(request["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory + GRADING_HEADROOM))
    cpu = int(request["timeout"]) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing


if __name__ == "__main__":
    sys.exit(main())
