"""Helpers of the container lifecycle that touch files and processes, not records:
exit files, copy-up into new volumes, the hostname, hosts and resolv.conf a container gets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from cais.fsutil import atomic_write
from cais.runtime import conmon

if TYPE_CHECKING:
    from cais.runtime.model import ContainerConfig


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


def host_resolv(
    dns: tuple[str, ...], search: tuple[str, ...], host_file: Path = Path("/etc/resolv.conf")
) -> str:
    """The container's resolv.conf, as Docker makes it: the host's, where ``--dns`` replaces
    the nameservers and ``--dns-search`` the search domains (``.`` means none); loopback
    nameservers cannot be reached from a container's namespace and are dropped."""
    try:
        text = host_file.read_text()
    except OSError:
        text = ""
    host_servers: list[str] = []
    host_search: list[str] = []
    others: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and len(words) > 1:
            if not words[1].startswith("127.") and words[1] != "::1":
                host_servers.append(words[1])
        elif words[0] in ("search", "domain"):
            host_search = words[1:]
        else:
            others.append(line)
    servers = list(dns) or host_servers or ["8.8.8.8", "8.8.4.4"]
    domains = [d for d in search if d != "."] if search else host_search
    lines = [f"nameserver {server}" for server in servers]
    if domains:
        lines.append("search " + " ".join(domains))
    return "\n".join([*lines, *others]) + "\n"


ETC_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def hosts_text(extra_hosts: tuple[str, ...], network_lines: str) -> str:
    """A container's /etc/hosts: localhost, its networks' names, then ``--add-host``."""
    hosts = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    hosts += [line for line in network_lines.splitlines() if line]
    for entry in extra_hosts:
        host, _, ip = entry.partition(":")
        hosts.append(f"{ip}\t{host}")
    return "\n".join(hosts) + "\n"


def etc_files_of(base: Path) -> dict[str, Path]:
    """Where a container's hostname, hosts and resolv.conf live (bind-mounted into it)."""
    return {dest: base / Path(dest).name for dest in ETC_FILES}


def write_etc_files(base: Path, config: ContainerConfig, hosts: str) -> dict[str, Path]:
    base.mkdir(parents=True, exist_ok=True)
    contents = {
        "/etc/hostname": f"{config.hostname}\n",
        "/etc/hosts": hosts,
        "/etc/resolv.conf": host_resolv(config.dns, config.dns_search),
    }
    out = etc_files_of(base)
    for dest, text in contents.items():
        atomic_write(out[dest], text.encode(), durable=False)
    return out


def rewrite_in_place(path: Path, text: str) -> None:
    """Rewrite a bind-mounted file in place: a rename would not show inside the container."""
    with open(path, "r+b") as fh:
        fh.write(text.encode())
        fh.truncate()
