"""Linux namespaces for one submission, from inside the sandbox worker: the kernel calls and a probe.

Python 3.11's `os` has no `unshare` or `mount`, so they are called through libc. This
module imports only the standard library and `protocol`: it runs inside the sandbox
(bubblewrap binds it there), and `python -m autograder.namespaces` is the probe that
`autograder.sandbox` runs to learn whether a submission can get namespaces of its own here.
"""

from __future__ import annotations

import ctypes
import os
import sys

from .protocol import SUBMISSION_ROOT

# From <sched.h> and <sys/mount.h>.
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 0x20, 0x400, 0x800, 0x1000
MS_REC, MS_PRIVATE, MS_RELATIME = 0x4000, 0x40000, 0x200000
ST_RELATIME = 0x1000  # statvfs's flag for relatime; the others share the mount flags' bits
# A user namespace first: it lets an unprivileged process create the others.
SUBMISSION_NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def enter_namespaces() -> None:
    """Move this (single-threaded) process into new namespaces, as the same user id, with a private mount tree.

    Its next child is process 1 of the new PID namespace: when that child ends, the
    kernel kills every process left in the namespace.
    """
    proc_self = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
    try:
        _unshare_as_same_user(SUBMISSION_NAMESPACES, proc_self)
    finally:
        os.close(proc_self)
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making the mount tree private")


def lock_mounts(proc_self: int) -> None:
    """Enter a further user and mount namespace, so that the mounts made so far can no longer be undone.

    The kernel locks mounts inherited from a more privileged user namespace: the notebook,
    which holds capabilities only in the new one, cannot unmount what hides a folder.
    `proc_self` is a descriptor of /proc/self opened before /proc was hidden.
    """
    _unshare_as_same_user(CLONE_NEWUSER | CLONE_NEWNS, proc_self)


def _unshare_as_same_user(flags: int, proc_self: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(flags), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        fd = os.open(name, os.O_WRONLY, dir_fd=proc_self)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def remount_read_only(target: str) -> None:
    """Make the mount at `target` read-only, keeping the flags it has (the kernel refuses to drop locked ones)."""
    current = os.statvfs(target).f_flag
    kept = current & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | kept | (MS_RELATIME if current & ST_RELATIME else 0)
    _check(_libc.mount(None, target.encode(), None, flags, None), f"making {target} read-only")


def mount_tmpfs(target: str, size_mb: int, *, read_only: bool = False) -> None:
    """A fresh, empty tmpfs over `target`, hiding what was there (read-only: a folder that looks empty)."""
    flags = MS_NOSUID | MS_NODEV | (MS_RDONLY | MS_NOEXEC if read_only else 0)
    options = f"size={size_mb}m,mode={'0555' if read_only else '0700'}".encode()
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", flags, options), f"mounting a tmpfs on {target}")


def probe() -> int:
    """Exit 0 when a submission could get its namespaces here, else 1 with the reason on stderr."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_namespaces()
            mount_tmpfs(SUBMISSION_ROOT, 1)
            remount_read_only("/dev")
            proc_self = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
            mount_tmpfs("/proc", 1, read_only=True)
            lock_mounts(proc_self)
        except OSError as error:
            print(error, file=sys.stderr)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(probe())
