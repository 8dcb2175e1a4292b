"""Build layer tars (benign and malicious) for tests."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field


@dataclass
class Entry:
    name: str
    kind: str = "file"  # file, dir, symlink, hardlink, fifo, chr
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_700_000_000
    link: str = ""
    pax: dict[str, str] = field(default_factory=dict)


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chr": tarfile.CHRTYPE,
}


def make_tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TYPES[e.kind]
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.mtime = e.mtime
            info.linkname = e.link
            info.pax_headers = dict(e.pax)
            if e.kind == "file":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def file(name: str, data: bytes = b"x", **kw: object) -> Entry:
    return Entry(name, "file", data, **kw)  # type: ignore[arg-type]


def directory(name: str, **kw: object) -> Entry:
    return Entry(name, "dir", mode=0o755, **kw)  # type: ignore[arg-type]


def symlink(name: str, target: str) -> Entry:
    return Entry(name, "symlink", link=target, mode=0o777)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, "hardlink", link=target)


MALICIOUS = {
    "dotdot": [file("../../etc/x", b"pwned")],
    "dotdot-inside": [directory("a"), file("a/../../x", b"pwned")],
    "absolute-symlink-write": [symlink("etc", "/etc"), file("etc/cais-pwned", b"pwned")],
    "relative-symlink-write": [symlink("up", "../../.."), file("up/cais-pwned", b"pwned")],
    "hardlink-to-shadow": [hardlink("shadow", "/etc/shadow")],
    "hardlink-dotdot": [hardlink("x", "../../../etc/passwd")],
    "symlink-then-dir": [symlink("d", "/tmp"), directory("d/sub")],
}
