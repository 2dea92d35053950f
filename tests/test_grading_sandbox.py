"""Hostile notebooks against `python -m autograder grade`, each beside good ones in the same batch, in both engines.

The sandbox (bubblewrap, then namespaces per submission) must keep every file outside the
submission's working folder as it was, hide the project and the other submissions, stop
what a notebook starts when its grading ends, cut the network, bound the number of
processes, and keep the delegation watch on whatever the notebook does to it. Canary files
live in folders this test creates; the real home folder is never touched.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from fixtures.grading import (
    LECTURE,
    SGD,
    TORCH_OPTIM_SGD,
    built_root,
    filled,
    handed_out,
    lecture_answer_wrong_if,
    read_grades,
    with_cell,
    write,
)
from notebook_fill import EXERCISE, REFERENCE

from autograder import paths
from autograder.cli import main
from autograder.decide import make_plan
from autograder.sandbox import NO_SANDBOX_WARNING, sandbox_problem

pytestmark = pytest.mark.slow
needs_sandbox = pytest.mark.skipif(bool(sandbox_problem()), reason=f"no sandbox here: {sandbox_problem()}")
TIMEOUT_S = 10
DAEMON_MARKER = "autograder-test-daemon-7c1f"
CANARY_TEXT = "canary: must survive grading\n"

# Deletes every plain file it can in its working folder, the two folders above it and the
# folders the test names, then writes beside each; correct functions, so only a change outside counts.
VANDAL = """
import os, pathlib
TARGETS = {targets!r}
folders = [pathlib.Path.cwd(), pathlib.Path.cwd().parent, pathlib.Path.cwd().parent.parent]
folders += [pathlib.Path(t) for t in TARGETS]
for folder in folders:
    try:
        for entry in folder.iterdir():
            if entry.is_file():
                entry.unlink()
    except OSError:
        pass
    try:
        (folder / "written_by_a_notebook.txt").write_text("x")
    except OSError:
        pass
"""
# Full marks only if neither the hidden check module nor another submission can be read.
READER = """
SEEN = []
for path in {paths!r}:
    try:
        SEEN.append(open(path).read(100))
    except OSError:
        pass

""" + lecture_answer_wrong_if("SEEN")
# A double-forked process in a new session that keeps trying to rewrite grades.csv after the grader is done.
DAEMON = """
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        code = ("import time\\n"
                "for _ in range(100):\\n"
                "    time.sleep(0.1)\\n"
                "    try:\\n"
                "        open({grades!r}, 'w').write('PWNED')\\n"
                "    except OSError:\\n"
                "        pass\\n")
        os.execv(sys.executable, [sys.executable, "-c", code, {marker!r}])
    os._exit(0)
"""
# Full marks only if the connection to the test's listening port fails.
CONNECTOR = """
import socket
CONNECTED = False
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    CONNECTED = True
except OSError:
    pass

""" + lecture_answer_wrong_if("CONNECTED")
# Full marks only if undoing the sandbox's mounts (it holds capabilities in its own user namespace) fails.
UNMOUNTER = """
import ctypes, os, torch
HIDDEN = [os.path.dirname(torch.optim.__file__), "/worker", "/proc"]
libc = ctypes.CDLL(None)
for folder in HIDDEN + ["/dev", "/submission", "/"]:
    libc.umount2(folder.encode(), 2)
    libc.mount(None, folder.encode(), None, 0x20, None)  # remount read-write
SEEN = [folder for folder in HIDDEN if os.path.isdir(folder) and os.listdir(folder)]
for folder in ("/dev", "/usr", "/"):
    try:
        open(os.path.join(folder, "written_by_a_notebook.txt"), "w").close()
        SEEN.append(folder)
    except OSError:
        pass

""" + lecture_answer_wrong_if("SEEN")
# Leaves a file in every place it can write; the next submission of the same worker must find none.
PLACES_TO_LEAVE = '(".", "..", "/dev", "/dev/shm", "/tmp", "/worker", os.path.expanduser("~"))'
LEAVER = f"""
import os
for folder in {PLACES_TO_LEAVE}:
    try:
        open(os.path.join(folder, "left_by_a_notebook.txt"), "w").close()
    except OSError:
        pass
"""
FINDER = f"""
import os
FOUND = [folder for folder in {PLACES_TO_LEAVE} if os.path.exists(os.path.join(folder, "left_by_a_notebook.txt"))]

""" + lecture_answer_wrong_if("FOUND")
FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def _through_names_built_at_run_time(switch_off: str) -> str:
    """A delegating answer that first runs `switch_off` inside the graded function, then reaches torch.optim by
    a name the source check cannot see."""
    indented = "".join(f"    {line}\n" for line in switch_off.splitlines())
    body = TORCH_OPTIM_SGD.replace("import torch\n", "import torch\n" + indented, 1)
    return body.replace("torch.optim.SGD", "getattr(getattr(torch, 'op' + 'tim'), 'S' + 'GD')")


# Ways to switch off or get around the delegation watch, each inside the graded function.
WATCH_ATTACKS = {
    "watch_setprofile_off": "import sys\nsys.setprofile(None)",
    "watch_settrace_off": "import sys\nsys.settrace(None)",
    "watch_gc_finds_originals": "import gc\n_ = [o for o in gc.get_objects() if callable(o)][:1]",
    "watch_ctypes_profile_off": "import ctypes\nctypes.pythonapi.PyEval_SetProfile(None, None)",
    "watch_reload": "import importlib, torch\ntry:\n    importlib.reload(torch.optim.sgd)\nexcept Exception:\n    pass",
}
# The same, done in a cell before the graded call, or from a thread: the optimizer code must stay switched off.
PREPARED_ATTACKS = {
    "watch_off_in_a_cell": "import sys, importlib, torch\nsys.setprofile(None)\ntry:\n"
    "    importlib.reload(torch.optim.sgd)\nexcept Exception:\n    pass",
    "watch_bypassed_by_thread": None,
}
THREADED_SGD = """
def sgd_momentum_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    import threading
    import torch
    result = {}

    def run():
        param = w.clone().requires_grad_()
        optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        if buf is not None:
            optimizer.state[param]["momentum_buffer"] = buf.clone()
        param.grad = grad.clone()
        optimizer.step()
        result["out"] = (param.detach().clone(), optimizer.state[param]["momentum_buffer"].clone())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result["out"]
"""


def grade(submissions: Path, out: Path, *options: str) -> int:
    """`python -m autograder grade` on the built exercise, as an instructor types it; its exit code."""
    return main(["grade", EXERCISE, str(submissions), "--out", str(out), "--root", str(built_root()), *options])


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """Folders outside the sandbox, each holding a canary file: a fake home, the submissions' parent, the output."""
    base = tmp_path_factory.mktemp("sandbox-places")
    folders = {name: base / name for name in ("home", "class", "class/submissions_of_others")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "canary.txt").write_text(CANARY_TEXT)
    return base, folders


def _batch(engine: str, submissions: Path, out: Path, folders: dict[str, Path], port: int) -> dict[str, object]:
    root = built_root()
    blank = handed_out(root, engine)
    good = filled(blank, REFERENCE)
    hidden_checks, other = paths.REPO / "autograder" / "checks" / "momentum.py", submissions / "good.ipynb"
    targets = [str(folders["home"]), str(folders["class"]), str(submissions), str(out)]
    subs = {
        "good": good,
        "vandal": with_cell(good, VANDAL.format(targets=targets)),
        "reader": filled(blank, {**REFERENCE, LECTURE: READER.format(paths=[str(hidden_checks), str(other)])}),
        "daemon": with_cell(good, DAEMON.format(grades=str(out / "grades.csv"), marker=DAEMON_MARKER)),
        "connector": filled(blank, {**REFERENCE, LECTURE: CONNECTOR.format(port=port)}),
        "unmounter": filled(blank, {**REFERENCE, LECTURE: UNMOUNTER}),
        "watch_bypassed_by_thread": filled(blank, {**REFERENCE, SGD: THREADED_SGD}),
        "watch_off_in_a_cell": with_cell(
            filled(blank, {**REFERENCE, SGD: _through_names_built_at_run_time("")}),
            PREPARED_ATTACKS["watch_off_in_a_cell"],
            after=SGD,
        ),
        "zz good after them": good,
    }
    for name, attack in WATCH_ATTACKS.items():
        subs[name] = filled(blank, {**REFERENCE, SGD: _through_names_built_at_run_time(attack)})
    return subs


@pytest.fixture(scope="module", params=["otter", "nbgrader"])
def graded(request, places):
    if sandbox_problem():
        pytest.skip(f"no sandbox here: {sandbox_problem()}")
    engine = request.param
    base, folders = places
    submissions = folders["class"] / f"submissions-{engine}"
    out = base / f"out-{engine}"
    out.mkdir()
    (out / "canary.txt").write_text(CANARY_TEXT)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    try:
        subs = _batch(engine, submissions, out, folders, listener.getsockname()[1])
        write(submissions, {name: (nb, None) for name, nb in subs.items()})
        (submissions / "canary.txt").write_text(CANARY_TEXT)
        assert grade(submissions, out, "--engine", engine, "--jobs", "2", "--timeout", str(TIMEOUT_S)) == 0
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    grades_after_return = (out / "grades.csv").read_text(encoding="utf-8")
    points = {q: sum(checks.values()) for q, checks in make_plan(built_root(), EXERCISE).points.items()}
    return {
        "grades": read_grades(out),
        "out": out,
        "points": points,
        "folders": [*folders.values(), submissions, out],
        "grades_after_return": grades_after_return,
    }


def _full(graded, name: str, question: str) -> bool:
    return float(graded["grades"][name][question]) == graded["points"][question]


def _feedback(graded, name: str) -> str:
    page = (graded["out"] / "feedback" / f"{name}.html").read_text(encoding="utf-8")
    return page.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


@pytest.mark.parametrize("name", ["good", "zz good after them"])
def test_good_submissions_beside_hostile_ones_earn_full_marks(graded, name):
    row = graded["grades"][name]
    assert float(row["total"]) == float(row["possible"]) and row["error"] == "", row


def test_nothing_outside_the_working_folder_changes(graded):
    for folder in graded["folders"]:
        assert (folder / "canary.txt").read_text() == CANARY_TEXT, folder
        assert not (folder / "written_by_a_notebook.txt").exists(), folder
    assert all(_full(graded, "vandal", question) for question in graded["points"]), graded["grades"]["vandal"]


def test_the_hidden_checks_and_other_submissions_cannot_be_read(graded):
    assert _full(graded, "reader", LECTURE), graded["grades"]["reader"]


def test_what_a_notebook_starts_is_gone_when_grade_returns(graded):
    time.sleep(1.5)  # the daemon would have written by now
    assert "PWNED" not in graded["grades_after_return"]
    assert "PWNED" not in (graded["out"] / "grades.csv").read_text(encoding="utf-8")
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            running.append(cmdline.read_bytes())
        except OSError:
            pass
    assert not [c for c in running if DAEMON_MARKER.encode() in c]
    assert all(_full(graded, "daemon", question) for question in graded["points"]), graded["grades"]["daemon"]


def test_the_sandbox_mounts_cannot_be_undone(graded):
    assert _full(graded, "unmounter", LECTURE), graded["grades"]["unmounter"]


def test_a_connection_to_the_loopback_address_fails(graded):
    assert _full(graded, "connector", LECTURE), graded["grades"]["connector"]


@pytest.mark.parametrize("name", [*WATCH_ATTACKS, *PREPARED_ATTACKS])
def test_the_delegation_watch_cannot_be_switched_off(graded, name):
    row = graded["grades"][name]
    assert float(row[SGD]) == 0 and _full(graded, name, LECTURE), row
    page = _feedback(graded, name)
    assert re.search(r"calls torch\.optim for the update|switch off or get around the grader's watch", page), name


@needs_sandbox
def test_a_fork_bomb_is_bounded_and_the_batch_goes_on(tmp_path):
    blank = handed_out(built_root(), "otter")
    good = filled(blank, REFERENCE)
    submissions = write(tmp_path / "submissions", {"good": (good, None), "bomb": (with_cell(good, FORK_BOMB), None)})
    start = time.perf_counter()
    # --timeout 20: long enough for the good notebook while the machine is still busy with the bomb's processes
    # being torn down (graded first, the bomb's name sorts first), short enough to bound the bomb.
    assert grade(submissions, tmp_path / "out", "--jobs", "1", "--timeout", "20") == 0
    assert time.perf_counter() - start < 90
    grades = read_grades(tmp_path / "out")
    assert float(grades["good"]["total"]) == float(grades["good"]["possible"]), grades["good"]
    assert grades["bomb"]["error"], grades["bomb"]


@needs_sandbox
def test_nothing_a_submission_leaves_reaches_the_next_one(tmp_path):
    blank = handed_out(built_root(), "otter")
    leaver = with_cell(filled(blank, REFERENCE), LEAVER)
    finder = filled(blank, {**REFERENCE, LECTURE: FINDER})
    submissions = write(tmp_path / "submissions", {"1 leaver": (leaver, None), "2 finder": (finder, None)})
    # One worker grades both, in order.
    assert grade(submissions, tmp_path / "out", "--jobs", "1", "--timeout", str(TIMEOUT_S)) == 0
    row = read_grades(tmp_path / "out")["2 finder"]
    assert float(row["total"]) == float(row["possible"]), row


def _one_good_submission(tmp_path: Path) -> Path:
    return write(tmp_path / "submissions", {"good": (filled(handed_out(built_root(), "otter"), REFERENCE), None)})


def test_grade_refuses_without_a_sandbox_and_says_how_to_enable_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("autograder.sandbox.sandbox_problem", lambda: "user namespaces are disabled")
    submissions = _one_good_submission(tmp_path)
    assert grade(submissions, tmp_path / "out") == 2
    message = capsys.readouterr().err
    assert "cannot grade safely: user namespaces are disabled" in message
    assert "apt install bubblewrap" in message and "--no-sandbox" in message
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_no_sandbox_grades_with_a_warning_on_the_run_and_in_every_row(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("autograder.sandbox.sandbox_problem", lambda: "user namespaces are disabled")
    submissions = _one_good_submission(tmp_path)
    assert grade(submissions, tmp_path / "out", "--no-sandbox", "--timeout", str(TIMEOUT_S)) == 0
    assert NO_SANDBOX_WARNING in capsys.readouterr().err
    row = read_grades(tmp_path / "out")["good"]
    assert float(row["total"]) == float(row["possible"]) and row["error"] == NO_SANDBOX_WARNING, row


def test_a_graded_notebook_runs_the_same_cpu_kernels_as_the_reference():
    """PyTorch picks its CPU kernels from the CPU's vector instructions; with other kernels (as when the choice is
    made with /proc hidden) float32 rounding differs from the reference's, computed outside the sandbox."""
    import json

    import torch

    from autograder.sandbox import Sandbox
    from autograder.submission import sandbox_request

    plan = make_plan(built_root(), EXERCISE)
    cell = "import torch\nraise RuntimeError('capability ' + torch.backends.cpu.get_cpu_capability())"
    with Sandbox() as sandbox:
        answer = sandbox.run(sandbox_request(plan, [cell], 60))
    errors = [json.loads(line) for line in answer["events"].splitlines() if '"cell_error"' in line]
    assert errors and errors[0]["error"].endswith(f"capability {torch.backends.cpu.get_cpu_capability()}")
