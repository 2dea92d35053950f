"""A JupyterHub on localhost with the nbgrader course `make book` built: one instructor, two students.

`make hub` runs it for a person to try (`python scripts/hub.py [WORKDIR]`); tests/test_hub.py
imports it and drives the same hub through its HTTP APIs. Everything it writes lives in one
working folder: the hub's database and logs, the nbgrader exchange, and each user's home.

For trying things only: the dummy authenticator takes any password, and every user's server
runs as the user who started the hub (JupyterHub's SimpleLocalProcessSpawner), so nothing
separates one user's files from another's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
COURSE_BUILD = REPO / "_build" / "nbgrader"  # written by `make book`
PROXY_COMMAND = REPO / "node_modules" / ".bin" / "configurable-http-proxy"  # `npm ci` installs it
BIN = Path(sys.executable).parent  # jupyterhub, jupyterhub-singleuser and nbgrader of this environment
COURSE_ID = "improving-optimization"
INSTRUCTOR = "instructor"
STUDENTS = ("alice", "bob")
ADMIN_SERVICE = "course-admin"  # holds the API token the instructor's scripts (and the test) use


@dataclass(frozen=True)
class Hub:
    workdir: Path
    url: str  # the public address, through the proxy
    api_token: str  # an admin token: manages users, their servers and their tokens
    ports: tuple[int, ...]  # the ports the hub and its proxy listen on

    @property
    def exchange(self) -> Path:
        return self.workdir / "exchange"

    def home(self, user: str) -> Path:
        return self.workdir / "home" / user

    @property
    def course_root(self) -> Path:
        return self.home(INSTRUCTOR) / "course"

    @property
    def log(self) -> Path:
        return self.workdir / "jupyterhub.log"


def free_port() -> int:
    """A port nothing listens on now: the kernel picks it when binding to port 0."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(workdir: Path, course_build: Path | None = None) -> Hub:
    """Write the hub's configuration, the users' homes and a copy of the course (default: `make book`'s)
    into `workdir`."""
    course_build = course_build or COURSE_BUILD
    if not (course_build / "nbgrader_config.py").is_file():
        raise FileNotFoundError(f"no nbgrader course in {course_build}: run `make book` first")
    if not PROXY_COMMAND.exists():
        raise FileNotFoundError(f"{PROXY_COMMAND} is missing: run `npm ci` (or `make install`), which needs node")
    workdir.mkdir(parents=True, exist_ok=True)
    public, hub_api, proxy_api = free_port(), free_port(), free_port()
    hub = Hub(
        workdir=workdir.resolve(),
        url=f"http://127.0.0.1:{public}",
        api_token=secrets.token_hex(32),
        ports=(public, hub_api, proxy_api),
    )

    if not hub.course_root.exists():  # a later start keeps the course's state: releases, grades
        shutil.copytree(course_build, hub.course_root)
    hub.exchange.mkdir(exist_ok=True)
    for user in (INSTRUCTOR, *STUDENTS):
        _write_nbgrader_config(hub, user)
    (hub.workdir / "jupyterhub_config.py").write_text(_hub_config(hub, hub_api, proxy_api))
    return hub


def _write_nbgrader_config(hub: Hub, user: str) -> None:
    """Each user's ~/.jupyter/nbgrader_config.py: the shared exchange and course; the instructor's course root."""
    lines = [
        "c = get_config()  # noqa: F821 (nbgrader provides it)",
        f"c.Exchange.root = {str(hub.exchange)!r}",
        f"c.CourseDirectory.course_id = {COURSE_ID!r}",
    ]
    # All users are one unix user here, and nbgrader names students by their unix user: so each
    # student's id is set, and the check that a submission's owner matches it is off.
    if user == INSTRUCTOR:
        lines.append(f"c.CourseDirectory.root = {str(hub.course_root)!r}")
        lines.append("c.ExchangeCollect.check_owner = False")
    else:
        lines.append(f"c.CourseDirectory.student_id = {user!r}")
    config = hub.home(user) / ".jupyter" / "nbgrader_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(lines) + "\n")


def _hub_config(hub: Hub, hub_api: int, proxy_api: int) -> str:
    return f"""\
# Written by scripts/hub.py; rewritten on every start.
c = get_config()  # noqa: F821 (JupyterHub provides it)
c.JupyterHub.bind_url = {hub.url!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_api}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{str(PROXY_COMMAND)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(hub.workdir / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{hub.workdir / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(hub.workdir / "cookie_secret")!r}

c.JupyterHub.authenticator_class = "dummy"  # any password
c.Authenticator.allowed_users = {set(STUDENTS)!r}
c.Authenticator.admin_users = {{{INSTRUCTOR!r}}}

# Every user's server runs as this unix user, with its home under the working folder.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(hub.workdir / "home" / "{username}")!r}
c.Spawner.cmd = [{str(BIN / "jupyterhub-singleuser")!r}]
c.Spawner.ip = "127.0.0.1"
c.Spawner.args = ["--allow-root"]  # Jupyter servers refuse root otherwise, and CI machines run as root
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

c.JupyterHub.services = [{{"name": {ADMIN_SERVICE!r}, "api_token": {hub.api_token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": {ADMIN_SERVICE!r},
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
    "services": [{ADMIN_SERVICE!r}],
}}]
"""


def start(hub: Hub) -> subprocess.Popen:
    """Start JupyterHub (which starts its proxy) and wait until it answers; its log goes to `hub.log`."""
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    with open(hub.log, "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(hub.workdir / "jupyterhub_config.py")],
            cwd=hub.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # its own process group: Ctrl-C reaches it once, from us
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {process.returncode}:\n{hub.log.read_text()[-4000:]}")
        try:
            if requests.get(f"{hub.url}/hub/api/", timeout=2).ok:
                return process
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    stop(process)
    raise TimeoutError(f"jupyterhub did not answer at {hub.url} within 60 s:\n{hub.log.read_text()[-4000:]}")


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop the hub; it stops the users' servers and its proxy on the way out (JupyterHub's cleanup_*)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group holds only what this hub started
            process.wait()


def main() -> None:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "_build" / "hub"
    hub = prepare(workdir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops the hub too, through `finally`
    process = start(hub)
    print(f"JupyterHub: {hub.url}/hub/login (any password)")
    print(f"  instructor: {INSTRUCTOR} (course at {hub.course_root}; nbgrader's formgrader is in the menu)")
    print(f"  students:   {', '.join(STUDENTS)}")
    print(f"  log: {hub.log}; Ctrl-C stops the hub and every server it started")
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(process)


if __name__ == "__main__":
    main()
