"""A user's Jupyter server, driven over its REST and kernel websocket APIs as JupyterLab drives it.

Only the documented server APIs: /api/contents (read and write files), /api/sessions (a kernel
for a notebook, started in the notebook's folder) and /api/kernels/<id>/channels (the kernel
messaging protocol over a websocket).
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import nbformat
import requests
import websocket

RUN_TIMEOUT_S = 120  # one cell, or one shell command the cell runs (nbgrader's autograde of a class)


class CellError(RuntimeError):
    """Code run in the kernel raised; the message carries the traceback the kernel sent."""


@dataclass
class JupyterServer:
    base_url: str  # e.g. http://127.0.0.1:8000/user/alice
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.headers["Authorization"] = f"token {self.token}"

    def _api(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.base_url}/api/{path}", timeout=30, **kwargs)
        if not response.ok:
            raise RuntimeError(f"{method} {response.url}: {response.status_code} {response.text[:500]}")
        return response

    # ------------------------------------------------------------ contents

    def list_dir(self, path: str) -> list[str]:
        return [item["name"] for item in self._api("GET", f"contents/{path}").json()["content"]]

    def read_text(self, path: str) -> str:
        return self._api("GET", f"contents/{path}", params={"type": "file", "format": "text"}).json()["content"]

    def read_notebook(self, path: str) -> nbformat.NotebookNode:
        model = self._api("GET", f"contents/{path}", params={"type": "notebook"}).json()
        return nbformat.from_dict(model["content"])

    def write_notebook(self, path: str, nb: nbformat.NotebookNode) -> None:
        self._api("PUT", f"contents/{path}", json={"type": "notebook", "format": "json", "content": nb})

    # ------------------------------------------------------------ kernels

    @contextmanager
    def kernel(self, notebook_path: str = "", kernel_name: str = "python3"):
        """A kernel session for `notebook_path` (its folder is the kernel's working folder), deleted afterwards."""
        model = self._api(
            "POST",
            "sessions",
            json={
                "path": notebook_path or f"scratch-{uuid.uuid4().hex}",
                "type": "notebook",
                "kernel": {"name": kernel_name},
            },
        ).json()
        url = f"{self.base_url.replace('http', 'ws', 1)}/api/kernels/{model['kernel']['id']}/channels"
        channel = websocket.create_connection(url, header=[f"Authorization: token {self.token}"], timeout=RUN_TIMEOUT_S)
        try:
            yield KernelChannel(channel)
        finally:
            channel.close()
            self._api("DELETE", f"sessions/{model['id']}")

    def run_notebook(self, path: str) -> nbformat.NotebookNode:
        """Run every code cell of the notebook at `path` in a new kernel, as "Run All" with errors
        allowed does, save the outputs back and return the notebook."""
        nb = self.read_notebook(path)
        with self.kernel(path) as kernel:
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = kernel.execute(cell.source)
        self.write_notebook(path, nb)
        return nb

    def run_code(self, code: str) -> str:
        """Run `code` in a new kernel in the server's root folder; returns what it printed, raises CellError."""
        with self.kernel() as kernel:
            outputs, _ = kernel.execute(code)
        errors = [o for o in outputs if o.output_type == "error"]
        if errors:
            raise CellError("\n".join(errors[0].traceback))
        return "".join(o.get("text", "") for o in outputs)


@dataclass
class KernelChannel:
    channel: websocket.WebSocket

    def execute(self, code: str) -> tuple[list[nbformat.NotebookNode], int | None]:
        """Run `code`; once the kernel is idle again, the notebook outputs it produced (errors included)
        and its execution count."""
        msg_id = uuid.uuid4().hex
        self.channel.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "",
                        "session": "",
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": False,
                    },
                }
            )
        )
        outputs, execution_count = [], None
        while True:
            message = json.loads(self.channel.recv())
            if message["parent_header"].get("msg_id") != msg_id or message["channel"] != "iopub":
                continue
            kind = message["msg_type"]
            if kind == "status" and message["content"]["execution_state"] == "idle":
                return outputs, execution_count
            if kind == "execute_input":
                execution_count = message["content"]["execution_count"]
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(message))
