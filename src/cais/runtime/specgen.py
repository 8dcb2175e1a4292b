"""A container's OCI spec, from its configuration and its mounted root filesystem."""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cais.errors import CaisError
from cais.oci import runtime_spec as rs
from cais.runtime.model import Container
from cais.runtime.seccomp import DEFAULT_PROFILE, load_profile, to_oci

INIT_PATH = "/run/cais-init"
INIT_BINARIES = ("/usr/bin/catatonit", "/usr/bin/tini-static", "/usr/bin/tini")
DEFAULT_NOFILE = 1_048_576


class UserLookupError(CaisError):
    exit_code = 126


def missing_seccomp(container: Container, profile: Path) -> str | None:
    """The warning to show when ``container`` would get the default seccomp profile but it
    is missing: it then runs without seccomp, which must not go unnoticed."""
    cfg = container.config
    if cfg.privileged or cfg.seccomp or profile.exists():
        return None
    return (
        f"WARNING: seccomp profile {profile} not found: containers run without seccomp "
        "(Debian package golang-github-containers-common)"
    )


@dataclass(frozen=True)
class ResolvedMount:
    """A mount whose source is a host path (volumes resolved, binds checked)."""

    target: str
    source: str
    type: str  # bind or tmpfs
    readonly: bool = False
    options: tuple[str, ...] = ()


def resolve_user(rootfs: Path, user: str) -> tuple[int, int, tuple[int, ...]]:
    """``name``, ``uid``, ``name:group``, ``uid:gid`` → (uid, gid, additional gids)."""
    name, _, group = user.partition(":")
    passwd = _read_db(rootfs, "etc/passwd")
    groups = _read_db(rootfs, "etc/group")
    uid = gid = None
    username = None
    if not name:
        uid, gid, username = 0, 0, "root"
    for entry in passwd:
        if len(entry) >= 4 and (entry[0] == name or (name.isdigit() and entry[2] == name)):
            uid, gid, username = int(entry[2]), int(entry[3]), entry[0]
            break
    if uid is None:
        if not name.isdigit():
            raise UserLookupError(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid = int(name), 0
    if group:
        found = None
        for entry in groups:
            if len(entry) >= 3 and (entry[0] == group or entry[2] == group):
                found = int(entry[2])
                break
        if found is None:
            if not group.isdigit():
                raise UserLookupError(
                    f"unable to find group {group}: no matching entries in group file"
                )
            found = int(group)
        gid = found
    extra = tuple(
        sorted(
            {
                int(e[2])
                for e in groups
                if len(e) >= 4 and username and username in e[3].split(",") and int(e[2]) != gid
            }
        )
    )
    return uid, int(gid or 0), extra


def _read_db(rootfs: Path, rel: str) -> list[list[str]]:
    """Read /etc/passwd-like files without following symlinks out of the root."""
    path = rootfs / rel
    try:
        if path.is_symlink() or not path.is_file():
            return []
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def host_capabilities() -> tuple[str, ...]:
    """The capabilities this process may hand on (its bounding set): ``ALL`` means these."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapBnd:"):
                mask = int(line.split()[1], 16)
                return tuple(c for i, c in enumerate(rs.ALL_CAPABILITIES) if mask & (1 << i))
    except (OSError, ValueError):
        pass
    return rs.ALL_CAPABILITIES


def capabilities(container: Container) -> tuple[str, ...]:
    cfg = container.config
    if cfg.privileged:
        return host_capabilities()
    caps = list(rs.DEFAULT_CAPABILITIES)
    if "ALL" in cfg.cap_add:
        caps = list(host_capabilities())
    for cap in cfg.cap_add:
        if cap != "ALL" and cap not in caps:
            caps.append(cap)
    if "ALL" in cfg.cap_drop:
        caps = [c for c in caps if c in cfg.cap_add]
    caps = [c for c in caps if c not in cfg.cap_drop]
    return tuple(caps)


def rlimits(
    ulimits: Sequence[tuple[str, int, int]] = (),
) -> tuple[tuple[str, int, int], ...]:
    """nofile as high as allowed (never above our own hard limit), then what ``--ulimit``
    asked for (``nofile``, ``nproc``, … with soft and hard values; a name given twice: the
    last one wins)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = DEFAULT_NOFILE if hard == resource.RLIM_INFINITY else min(DEFAULT_NOFILE, hard)
    out = {"RLIMIT_NOFILE": (limit, limit)}
    for name, soft, hard_limit in ulimits:
        out[rlimit_name(name)] = (soft, hard_limit)
    return tuple((name, soft, hard_limit) for name, (soft, hard_limit) in out.items())


RLIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


def rlimit_name(name: str) -> str:
    """``nofile`` (Docker's and ECS's spelling) → ``RLIMIT_NOFILE`` (the OCI spec's)."""
    short = name.lower().removeprefix("rlimit_")
    if short not in RLIMIT_NAMES:
        raise CaisError(f"invalid ulimit type: {name}")
    return f"RLIMIT_{short.upper()}"


def init_binary() -> str:
    for path in INIT_BINARIES:
        if os.path.exists(path):
            return path
    raise CaisError("--init needs catatonit or tini (Debian packages catatonit, tini)")


def build(
    container: Container,
    *,
    rootfs: Path,
    mounts: Sequence[ResolvedMount],
    files: dict[str, Path],
    netns: str | None,
    cgroup: str,
    seccomp_profile: Path = DEFAULT_PROFILE,
) -> dict[str, object]:
    """The config.json document for ``container`` with its root filesystem at ``rootfs``;
    ``seccomp_profile`` applies unless the container asks for another or none."""
    cfg = container.config
    uid, gid, extra = resolve_user(rootfs, cfg.user)
    caps = capabilities(container)
    args = cfg.args
    spec_mounts = list(rs.default_mounts(privileged=cfg.privileged))
    for dest, host in files.items():
        spec_mounts.append(rs.Mount(dest, "bind", str(host), ("rbind", "rprivate")))
    if cfg.init:
        spec_mounts.append(rs.Mount(INIT_PATH, "bind", init_binary(), ("bind", "ro")))
        args = (INIT_PATH, "--", *args)
    for m in mounts:
        if m.type == "tmpfs":
            opts = (
                "nosuid",
                "nodev",
                *(m.options or ("mode=1777",)),
                *(("ro",) if m.readonly else ()),
            )
            spec_mounts.append(rs.Mount(m.target, "tmpfs", "tmpfs", opts))
        else:
            spec_mounts.append(
                rs.Mount(
                    m.target, "bind", m.source, ("rbind", "rprivate", "ro" if m.readonly else "rw")
                )
            )
    seccomp = None
    if not cfg.privileged and cfg.seccomp != "unconfined":
        path = Path(cfg.seccomp) if cfg.seccomp else seccomp_profile
        if path.exists() or cfg.seccomp:  # a missing default profile: missing_seccomp warns
            seccomp = to_oci(load_profile(path), caps)
    namespaces: dict[str, str | None] = {}
    if cfg.network == "host":
        namespaces["network"] = "host"
    elif netns:
        namespaces["network"] = netns
    process = rs.Process(
        args=args,
        env=cfg.env,
        cwd=cfg.working_dir or "/",
        uid=uid,
        gid=gid,
        additional_gids=extra,
        terminal=cfg.tty,
        capabilities=caps,
        no_new_privileges=cfg.no_new_privileges,
        rlimits=rlimits(cfg.ulimits),
    )
    spec = rs.Spec(
        process=process,
        rootfs=str(rootfs),
        hostname=cfg.hostname if cfg.network != "host" else "",
        readonly_rootfs=cfg.read_only,
        mounts=tuple(spec_mounts),
        namespaces=namespaces,
        resources=cfg.resources,
        cgroups_path=cgroup,
        seccomp=seccomp,
        privileged=cfg.privileged,
        annotations=cfg.annotations,
    )
    return rs.build_spec(spec)
