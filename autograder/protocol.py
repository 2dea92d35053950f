"""What the sandbox worker and the grader agree on, beyond plain records: the delegation watch's two signals.

- Optimizer libraries are switched off in the worker before any student code runs (their
  functions raise `switched_off_message`), so a graded function that reaches one, by any
  name or route, fails with that message; `switched_off_libraries` finds it in records.
- An audit hook (which Python cannot remove) reports, as a `TAMPER_EVENT` on the grader's
  pipe, each attempt to switch off or get around the watch: profile and trace hooks, the
  garbage collector's object lists, ctypes, new code objects.

This module is bound into the sandbox: it imports only the standard library.
"""

from __future__ import annotations

import re

# Inside the sandbox: the worker's home (a tmpfs), and the folder on which each submission gets a tmpfs
# of its own, the only place it can write; its working folder is inside.
WORKER_HOME = "/worker"
SUBMISSION_ROOT = "/submission"
WORK_FOLDER = f"{SUBMISSION_ROOT}/work"
SUBMISSION_TIMEOUT_S = 300  # wall-clock seconds per submission, unless `grade --timeout` says otherwise
TAMPER_EVENT = "tamper"
SWITCHED_OFF = "is switched off while your notebook is graded"
# Audit events (see Python's audit events table) that a graded function has no reason to raise.
WATCHED_AUDIT_EVENTS = frozenset(
    {
        "sys.setprofile",
        "sys.settrace",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "code.__new__",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.call_function",
        "ctypes.cdata",
        "ctypes.addressof",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.set_errno",
    }
)
_SWITCHED_OFF_PATTERN = re.compile(rf"(\S+) {re.escape(SWITCHED_OFF)}")


def switched_off_message(library: str) -> str:
    return f"{library} {SWITCHED_OFF}: implement the update with tensor operations"


def switched_off_libraries(text: str) -> list[str]:
    """The libraries a step's error text says were called although switched off."""
    return sorted(set(_SWITCHED_OFF_PATTERN.findall(text)))
