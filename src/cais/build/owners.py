"""Owners named in a Dockerfile (``--chown``, USER), looked up in the image's own files.

``/etc/passwd`` and ``/etc/group`` are read from the step's root filesystem, following
its symlinks inside it. ``--chown=user`` without a group uses the same name or number
for the group, as Docker does; USER without a group uses the user's primary group.
"""

from __future__ import annotations

import os
from pathlib import Path

from cais.build.fsops import resolve_in_root
from cais.errors import CaisError


class OwnerError(CaisError):
    pass


def _entries(root: Path, name: str) -> list[list[str]]:
    rel = resolve_in_root(root, name)
    path = root / rel
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return []
    with os.fdopen(fd, "r", errors="replace") as fh:
        text = fh.read(1 << 22)
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _lookup(entries: list[list[str]], spec: str, what: str) -> tuple[int, list[str] | None]:
    for entry in entries:
        if len(entry) >= 3 and entry[0] == spec:
            try:
                return int(entry[2]), entry
            except ValueError:
                break
    if spec.isdigit():
        for entry in entries:
            if len(entry) >= 3 and entry[2] == spec:
                return int(spec), entry
        return int(spec), None
    raise OwnerError(
        f"unable to convert uid/gid chown string to host mapping: no such {what}: {spec}"
    )


def chown_ids(root: Path, spec: str) -> tuple[int, int]:
    """``--chown=user[:group]`` → (uid, gid)."""
    parts = spec.split(":")
    if len(parts) > 2 or not parts[0]:
        raise OwnerError(f"invalid chown string format: {spec}")
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    uid, _ = _lookup(_entries(root, "etc/passwd"), user, "user")
    gid, _ = _lookup(_entries(root, "etc/group"), group, "group")
    return uid, gid


def user_ids(root: Path, spec: str) -> tuple[int, int]:
    """USER's ``user[:group]`` → (uid, gid); the group defaults to the user's primary one."""
    user, _, group = spec.partition(":")
    uid, entry = _lookup(_entries(root, "etc/passwd"), user or "0", "user")
    gid = 0
    if entry is not None and len(entry) >= 4 and entry[3].isdigit():
        gid = int(entry[3])
    if group:
        gid, _ = _lookup(_entries(root, "etc/group"), group, "group")
    return uid, gid
