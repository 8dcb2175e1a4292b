"""Mounting snapshots and volumes (Linux only). Every mount(2) runs in a forked child.

The child may chdir to shorten overlay's ``lowerdir`` list (mount data is one page), which
is why this is not done in the calling process either.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from cais.errors import CaisError
from cais.snapshots.types import Mount

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2
_MAX_DATA = 4000
# overlay options an old kernel may not know; dropped, in this order, if it refuses them
_OPTIONAL_OVERLAY = ("metacopy=off", "redirect_dir=off")

_FLAGS = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "bind": MS_BIND,
    "rbind": MS_BIND | MS_REC,
}


class MountError(CaisError):
    pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _child(func: Callable[[], int]) -> int:
    """Run ``func`` (returns 0 or an errno) in a forked child; its result."""
    pid = os.fork()
    if pid == 0:  # child: no Python-level cleanup, just the syscall
        code = 1
        try:
            code = func()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _raise(action: str, code: int) -> None:
    if code != 0:
        raise MountError(f"{action}: {os.strerror(code) if code > 0 else 'failed'}")


def _in_child(action: str, func: Callable[[], int]) -> None:
    _raise(action, _child(func))


def overlay_attempts(data: list[str]) -> list[list[str]]:
    """The option lists to try for an overlay mount, best first.

    ``metacopy=off`` and ``redirect_dir=off`` keep an upper directory a plain diff (no
    metadata-only copies, no renamed directories pointing into a lower). A kernel that
    refuses them (EINVAL) predates the feature, so it is safe to mount without them.
    """
    attempts = [data]
    for option in _OPTIONAL_OVERLAY:
        if option in attempts[-1]:
            attempts.append([o for o in attempts[-1] if o != option])
    return attempts


def mount(mounts: Sequence[Mount], target: Path) -> None:
    """Mount ``mounts`` (as a snapshotter returns them) at ``target``, in order."""
    libc = _libc()
    target.mkdir(parents=True, exist_ok=True)
    for m in mounts:
        flags = 0
        data: list[str] = []
        for opt in m.options:
            if opt in _FLAGS:
                flags |= _FLAGS[opt]
            elif opt != "rw":
                data.append(opt)
        fstype = None if flags & MS_BIND else m.type
        readonly_bind = bool(flags & MS_BIND and flags & MS_RDONLY)
        attempts = overlay_attempts(data) if m.type == "overlay" else [data]
        code = 0
        for options in attempts:
            code = _child(
                _mount_call(
                    libc,
                    m,
                    target,
                    flags=flags,
                    fstype=fstype,
                    options=options,
                    readonly_bind=readonly_bind,
                )
            )
            if code != errno.EINVAL:
                break
        _raise(f"mount {m.type} at {target}", code)


def _mount_call(
    libc: ctypes.CDLL,
    m: Mount,
    target: Path,
    *,
    flags: int,
    fstype: str | None,
    options: list[str],
    readonly_bind: bool,
) -> Callable[[], int]:
    """The mount(2) call (and a read-only remount of a bind) for a forked child."""
    chdir = None
    text = ",".join(options)
    if m.type == "overlay" and len(text) > _MAX_DATA:
        chdir, text = _shorten(options)

    def call() -> int:
        if chdir:
            os.chdir(chdir)
        rc = libc.mount(
            m.source.encode(),
            str(target).encode(),
            fstype.encode() if fstype else None,
            flags,
            text.encode() if text else None,
        )
        if rc != 0:
            return int(ctypes.get_errno())
        if readonly_bind:
            remount = MS_BIND | MS_REMOUNT | MS_RDONLY
            rc = libc.mount(None, str(target).encode(), None, remount, None)
            if rc != 0:
                return int(ctypes.get_errno())
        return 0

    return call


def _shorten(options: list[str]) -> tuple[str, str]:
    """Make overlay's directories relative to their common parent, which becomes the cwd."""
    dirs = []
    for opt in options:
        key, _, value = opt.partition("=")
        if key in ("lowerdir", "upperdir", "workdir"):
            dirs.extend(value.split(":"))
    base = os.path.commonpath(dirs)
    out = []
    for opt in options:
        key, eq, value = opt.partition("=")
        if key in ("lowerdir", "upperdir", "workdir"):
            value = ":".join(os.path.relpath(v, base) for v in value.split(":"))
        out.append(f"{key}{eq}{value}")
    return base, ",".join(out)


def unmount(target: Path, *, lazy: bool = False) -> None:
    """Unmount ``target``; a target that is not mounted is fine."""
    libc = _libc()

    def call() -> int:
        rc = libc.umount2(str(target).encode(), MNT_DETACH if lazy else 0)
        if rc != 0:
            err = ctypes.get_errno()
            return 0 if err in (errno.EINVAL, errno.ENOENT) else int(err)
        return 0

    _in_child(f"unmount {target}", call)


def is_mounted(target: Path) -> bool:
    wanted = str(target)
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4 and fields[4].replace("\\040", " ") == wanted:
                    return True
    except OSError:
        return False
    return False
