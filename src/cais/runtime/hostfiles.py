"""Helpers of the container lifecycle that touch files and processes, not records:
exit files, copy-up into new volumes, the resolv.conf a container gets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cais.runtime import conmon


def anonymous_volume_name(cid: str, target: str) -> str:
    from hashlib import sha256

    return sha256(f"{cid}:{target}".encode()).hexdigest()


def copy_up(rootfs: Path, target: str, volume: Path) -> None:
    """Docker's copy-up: an empty new volume gets what the image has at its mount point."""
    if any(volume.iterdir()):
        return
    source = rootfs / target.lstrip("/")
    if source.is_symlink() or not source.is_dir():
        return
    shutil.copytree(source, volume, symlinks=True, dirs_exist_ok=True)
    st = source.stat()
    os.chown(volume, st.st_uid, st.st_gid)
    os.chmod(volume, st.st_mode & 0o7777)


def read_exit(paths: conmon.Paths) -> tuple[int | None, float]:
    try:
        text = paths.exit_file.read_text().strip()
        mtime = paths.exit_file.stat().st_mtime
    except OSError:
        try:
            text = (paths.userdata / "exit").read_text().strip()
            mtime = (paths.userdata / "exit").stat().st_mtime
        except OSError:
            return None, 0.0
    try:
        return int(text), mtime
    except ValueError:
        return None, mtime


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def host_resolv(dns: tuple[str, ...], search: tuple[str, ...]) -> str:
    if dns or search:
        lines = [f"nameserver {d}" for d in dns]
        if search:
            lines.append("search " + " ".join(search))
        return "\n".join(lines) + "\n"
    try:
        text = Path("/etc/resolv.conf").read_text()
    except OSError:
        text = ""
    kept = [
        line
        for line in text.splitlines()
        if not (line.startswith("nameserver") and (" 127." in line or " ::1" in line))
    ]
    if not any(line.startswith("nameserver") for line in kept):
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"
