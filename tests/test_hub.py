"""The nbgrader path end to end on a real JupyterHub: release, fetch, fill, run, submit, grade, feedback.

The hub is scripts/hub.py's (the one `make hub` starts): configurable-http-proxy from
node_modules/, the dummy authenticator, a local-process spawner, an nbgrader exchange in a
temporary folder, one instructor and two students. Every user acts through their own
single-user server: files through the contents API, code in a real kernel over the kernel
websocket. nbgrader's own commands run in the user's kernel (`python -m nbgrader ...` in a
subprocess), so they see exactly the environment, home and config a person's server gives them.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import psutil
import pytest
import requests
from notebook_fill import EXERCISE, MISTAKE, MISTAKE_CODE, MISTAKE_QUESTION, REFERENCE, failing_checks, filled
from server_client import JupyterServer

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_hub", REPO / "scripts" / "hub.py")
course_hub = sys.modules["course_hub"] = importlib.util.module_from_spec(_spec)  # scripts/ is not a package
_spec.loader.exec_module(course_hub)

NOTEBOOK = f"{EXERCISE}/{EXERCISE}.ipynb"
SERVER_START_TIMEOUT_S = 90

pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(
        shutil.which("node") is None,
        reason="node is missing: the hub's proxy (configurable-http-proxy) runs on Node.js; "
        "install nodejs and npm, then `make install`",
    ),
]


# ---------------------------------------------------------------- the hub and its users' servers


def _hub_api(hub, method: str, path: str, **kwargs) -> requests.Response:
    response = requests.request(
        method, f"{hub.url}/hub/api/{path}", timeout=30, headers={"Authorization": f"token {hub.api_token}"}, **kwargs
    )
    if not response.ok:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
    return response


def _server_ready(hub, user: str) -> bool:
    return _hub_api(hub, "GET", f"users/{user}").json()["servers"].get("", {}).get("ready", False)


def _start_servers(hub, users) -> dict[str, JupyterServer]:
    """Start every user's server through the hub's REST API; each is driven with that user's own token."""
    for user in users:
        _hub_api(hub, "POST", f"users/{user}/server")
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    waiting = set(users)
    while waiting:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"servers of {sorted(waiting)} not ready after {SERVER_START_TIMEOUT_S} s:\n"
                f"{hub.log.read_text()[-4000:]}"
            )
        waiting = {u for u in waiting if not _server_ready(hub, u)}
        time.sleep(0.5)
    servers = {}
    for user in users:
        token = _hub_api(hub, "POST", f"users/{user}/tokens", json={"note": "test_hub", "expires_in": 3600}).json()
        servers[user] = JupyterServer(f"{hub.url}/user/{user}", token["token"])
    return servers


def _listening_ports(processes: list[psutil.Process]) -> set[int]:
    ports = set()
    for process in processes:
        try:
            ports |= {c.laddr.port for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return ports


def _is_listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_hub(workdir: Path):
    """The hub with every user's server started; yields (hub, servers, opened), where `opened` is
    filled on the way out with every port the hub and what it started listened on."""
    hub = course_hub.prepare(workdir)
    process = course_hub.start(hub)
    opened: set[int] = set(hub.ports)
    try:
        yield hub, _start_servers(hub, (course_hub.INSTRUCTOR, *course_hub.STUDENTS)), opened
    finally:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        opened |= _listening_ports(tree)
        course_hub.stop(process)
        survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        for leftover in survivors:  # only processes this hub started
            leftover.kill()
        assert not survivors, f"still running after the hub stopped: {[p.cmdline() for p in survivors]}"


# ---------------------------------------------------------------- nbgrader, run in a user's kernel


def nbgrader(server: JupyterServer, *commands: str, folder: str = "~") -> str:
    """Run `nbgrader COMMAND EXERCISE` for each command in a kernel of `server`, in `folder`."""
    code = f"""\
import os, subprocess, sys
for command in {list(commands)!r}:
    done = subprocess.run([sys.executable, "-m", "nbgrader", command, {EXERCISE!r}],
                          cwd=os.path.expanduser({folder!r}), capture_output=True, text=True, timeout=110)
    print(f"$ nbgrader {{command}}\\n{{done.stdout}}{{done.stderr}}")
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {{command}} exited with {{done.returncode}}")"""
    return server.run_code(code)


def feedback_scores(page: str) -> tuple[dict[str, float], float, float]:
    """Per test cell score, total and maximum, as nbgrader's feedback page states them."""
    cells = {
        grade_id: float(score)
        for grade_id, score, _ in re.findall(r'href="#([^"]+)">Test cell</a> \(Score: ([\d.]+) / ([\d.]+)\)', page)
    }
    total, maximum = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)</h4>", page).groups()
    return cells, float(total), float(maximum)


def points_by_test(course_root: Path) -> dict[str, float]:
    """grade_id -> points of every autograded cell of the course's source notebook."""
    nb = nbformat.read(course_root / "source" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    return {
        c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"])
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


# ---------------------------------------------------------------- the test


def test_nbgrader_round_trip_on_jupyterhub(tmp_path):
    reference_student, mistaken_student = course_hub.STUDENTS
    answers = {
        reference_student: REFERENCE,
        # one question with a typical mistake, the others left as handed out (stubs)
        mistaken_student: {MISTAKE_QUESTION: MISTAKE_CODE},
    }
    failing = {f"{MISTAKE_QUESTION}-test_{check}" for check in failing_checks(MISTAKE_QUESTION, MISTAKE)}

    with running_hub(tmp_path / "hub") as (hub, servers, opened):
        instructor = servers[course_hub.INSTRUCTOR]
        nbgrader(instructor, "release_assignment", folder="~/course")

        for student, answer in answers.items():
            server = servers[student]
            nbgrader(server, "fetch_assignment")
            server.write_notebook(NOTEBOOK, filled(server.read_notebook(NOTEBOOK), answer))
            ran = server.run_notebook(NOTEBOOK)
            errors = [
                o.ename for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
            ]
            if student == reference_student:
                assert not errors, f"the reference solution raised in {student}'s kernel: {errors}"
            else:
                assert "NotImplementedError" in errors, "the stub's public test should raise in the kernel"
            saved = server.read_notebook(NOTEBOOK)
            assert all(c.execution_count for c in saved.cells if c.cell_type == "code"), "the run was not saved"
            nbgrader(server, "submit")

        nbgrader(instructor, "collect", "autograde", "generate_feedback", "release_feedback", folder="~/course")

        points = points_by_test(hub.course_root)
        expected = {
            reference_student: points,
            mistaken_student: {
                grade_id: value if grade_id.startswith(f"{MISTAKE_QUESTION}-") and grade_id not in failing else 0.0
                for grade_id, value in points.items()
            },
        }
        for student in answers:
            server = servers[student]
            nbgrader(server, "fetch_feedback")
            [fetched_at] = server.list_dir(f"{EXERCISE}/feedback")
            page = server.read_text(f"{EXERCISE}/feedback/{fetched_at}/{EXERCISE}.html")
            cells, total, maximum = feedback_scores(page)
            # the page states scores to two decimals
            assert cells == {grade_id: round(value, 2) for grade_id, value in expected[student].items()}, student
            assert (total, maximum) == (round(sum(expected[student].values()), 2), round(sum(points.values()), 2))
            assert (MISTAKE.hint in html.unescape(page)) == (student == mistaken_student), student

    still_open = sorted(port for port in opened if _is_listening(port))
    assert not still_open, f"ports still listening after the hub stopped: {still_open}"
