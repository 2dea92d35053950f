"""The grader's side of a sandbox worker (`autograder.worker`): start it once, send it submissions one by one.

Starting Python and importing torch and IPython costs seconds; a worker pays that once per
job and forks a fresh, limited child per submission. A worker that stops answering is
killed and replaced, so one submission cannot take the next ones down with it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from . import paths

WORKER_GRACE_S = 30  # on top of a submission's own time limit, before the worker itself is presumed stuck


class WorkerFailed(RuntimeError):
    """The worker process died or stopped answering; the message says how."""


class Sandbox:
    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._home = tempfile.TemporaryDirectory(prefix="autograder-worker-")
        self._start()

    def _start(self) -> None:
        env = paths.tool_environment()
        env["PYTHONPATH"] = os.pathsep.join([str(paths.REPO), env.get("PYTHONPATH", "")])
        env["OMP_NUM_THREADS"] = "1"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker"], cwd=self._home.name, env=env, start_new_session=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

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

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
