"""Base images made without a registry: busybox from Debian's busybox-static, Debian from
mmdebstrap. Both become ordinary images; busybox's is reproducible (same bytes each time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cais.errors import CaisError, InvalidArgumentError
from cais.images.importer import commit_image, import_rootfs, new_config, store_layer_from_dir
from cais.images.service import ImageService
from cais.images.store import Image
from cais.oci.config import ContainerConfig, HistoryEntry, rfc3339
from cais.oci.reference import Reference, parse_reference

BUSYBOX = Path("/bin/busybox")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SUPPORTED = ("busybox", "debian")

_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
"""


def _package_version(package: str) -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def busybox_rootfs(target: Path, busybox: Path = BUSYBOX) -> None:
    """A root filesystem with a static busybox and a link for every applet it has."""
    if not busybox.exists():
        raise CaisError(f"{busybox} is missing: install Debian's busybox-static")
    listing = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    for d, mode in (
        ("bin", 0o755),
        ("sbin", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("etc", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("var/www", 0o755),
        ("home", 0o755),
        ("dev", 0o755),
        ("proc", 0o755),
        ("sys", 0o755),
    ):
        path = target / d
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
    shutil.copyfile(busybox, target / "bin/busybox")
    (target / "bin/busybox").chmod(0o755)
    for applet in sorted(set(listing)):
        link = target / applet
        if applet == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (target / "etc/passwd").write_text(_PASSWD)
    (target / "etc/group").write_text(_GROUP)
    (target / "etc/hostname").write_text("")
    (target / "etc/hosts").write_text("")
    (target / "etc/resolv.conf").write_text("")


def bootstrap(
    service: ImageService, what: str, *, tag: str | None = None, scratch: Path | None = None
) -> Image:
    """``cais image bootstrap busybox|debian[:suite]``."""
    name, _, suite = what.partition(":")
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    if name == "busybox":
        return bootstrap_busybox(service, parse_reference(tag or "busybox:latest"), scratch)
    if name == "debian":
        suite = suite or "bookworm"
        return bootstrap_debian(service, suite, parse_reference(tag or f"debian:{suite}"), scratch)
    raise InvalidArgumentError(
        f"cannot bootstrap {what!r}: choose one of {', '.join(SUPPORTED)} (e.g. debian:bookworm)"
    )


def bootstrap_busybox(
    service: ImageService, name: Reference, scratch: Path | None = None, busybox: Path = BUSYBOX
) -> Image:
    version = _package_version("busybox-static")
    epoch = int(busybox.stat().st_mtime) if busybox.exists() else 0
    created = rfc3339(_utc(epoch))
    with tempfile.TemporaryDirectory(dir=scratch, prefix="cais-bootstrap-") as tmp:
        root = Path(tmp)
        busybox_rootfs(root, busybox)
        with service.ingest_session() as lease:
            layer = store_layer_from_dir(
                service, root, lease, overlay_whiteouts=False, owner=(0, 0), mtime=epoch
            )
            config = new_config(
                created=created,
                config=ContainerConfig(env=(DEFAULT_PATH,), cmd=("sh",)),
            ).with_layer(
                layer.diff_id,
                HistoryEntry(
                    created=created,
                    created_by=f"cais image bootstrap busybox (busybox-static {version})",
                ),
            )
            return commit_image(
                service,
                [(layer.digest, layer.size, layer.compression)],
                config,
                lease,
                names=[name],
            )


def bootstrap_debian(
    service: ImageService,
    suite: str,
    name: Reference,
    scratch: Path | None = None,
    mirror: str | None = None,
) -> Image:
    if shutil.which("mmdebstrap") is None:
        raise CaisError("mmdebstrap is missing: install Debian's mmdebstrap")
    mirror = mirror or host_debian_mirror()
    with tempfile.TemporaryDirectory(dir=scratch, prefix="cais-bootstrap-") as tmp:
        out = Path(tmp) / "rootfs.tar"
        env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "")}
        if not env["SOURCE_DATE_EPOCH"]:
            env.pop("SOURCE_DATE_EPOCH")
        proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below
            [
                "mmdebstrap",
                "--variant=minbase",
                "--mode=root",
                "--format=tar",
                "--quiet",
                suite,
                str(out),
                mirror,
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise CaisError(f"mmdebstrap {suite} failed: {tail}")
        with open(out, "rb") as fh:
            image = import_rootfs(
                service,
                fh,
                names=[name],
                changes=[f"ENV {DEFAULT_PATH}", 'CMD ["bash"]'],
                message=f"cais image bootstrap debian:{suite} (mmdebstrap minbase, {mirror})",
            )
    return image


def host_debian_mirror(apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt already uses on this machine (deb.debian.org otherwise)."""
    candidates = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            uri = None
            if words[:1] == ["URIs:"] and len(words) > 1:
                uri = words[1]
            elif words[:1] == ["deb"]:
                uri = next((w for w in words[1:] if "://" in w), None)
            if uri and uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEBIAN_MIRROR


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
