"""Network namespaces cais creates for containers (Linux only).

A namespace is made in a forked child (``unshare(CLONE_NEWNET)``) and kept alive by
bind-mounting ``/proc/self/ns/net`` onto a file under ``<runroot>/netns``; crun joins it
by path. Removing it unmounts and unlinks the file.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
from pathlib import Path

from cais.errors import CaisError

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
MS_BIND = 0x1000
MNT_DETACH = 0x2


class NetnsError(CaisError):
    pass


def create(path: Path) -> Path:
    """A new network namespace pinned at ``path``, with loopback up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o444)
    libc = ctypes.CDLL(None, use_errno=True)
    target = str(path).encode()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if libc.unshare(CLONE_NEWNET) != 0:
                code = ctypes.get_errno() or 1
            else:
                _loopback_up()
                if libc.mount(b"/proc/self/ns/net", target, None, MS_BIND, None) != 0:
                    code = ctypes.get_errno() or 1
        except OSError as exc:
            code = exc.errno or 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        path.unlink(missing_ok=True)
        raise NetnsError(f"cannot create network namespace {path}: {os.strerror(code)}")
    return path


def _loopback_up() -> None:
    """Bring ``lo`` up in the (new) namespace this process is in."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def remove(path: Path) -> None:
    if not path.exists():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if libc.umount2(str(path).encode(), MNT_DETACH) != 0:
                err = ctypes.get_errno()
                code = 0 if err in (errno.EINVAL, errno.ENOENT) else err
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise NetnsError(f"cannot remove network namespace {path}: {os.strerror(code)}")
    path.unlink(missing_ok=True)
