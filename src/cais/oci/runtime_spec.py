"""The OCI runtime spec (``config.json``) as crun and runc read it, built from plain values.

Pure: the caller decides every value (security defaults live here as constants, chosen to
match Docker's); :func:`build_spec` only assembles the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OCI_VERSION = "1.0.2"

# Docker's default capability set.
DEFAULT_CAPABILITIES = (
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
    "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
)  # fmt: skip

ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip

# Docker's masked and read-only paths.
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY_PATHS = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)  # fmt: skip

NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")

# The devices a container may use (Docker's default device cgroup rules).
_DEFAULT_DEVICE_RULES: tuple[dict[str, Any], ...] = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # zero
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # null
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},  # urandom
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},  # random
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},  # tty
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},  # console
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},  # ptmx
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},  # full
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # pts
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},  # fuse
)


@dataclass(frozen=True)
class Mount:
    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "type": self.type,
            "source": self.source,
            "options": list(self.options),
        }


@dataclass(frozen=True)
class Resources:
    """Cgroup limits; None means unlimited."""

    memory: int | None = None
    memory_swap: int | None = None
    memory_reservation: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset_cpus: str | None = None
    pids_limit: int | None = None


@dataclass(frozen=True)
class Process:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    terminal: bool = False
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    no_new_privileges: bool = False
    rlimits: tuple[tuple[str, int, int], ...] = ()
    oom_score_adj: int | None = None

    def to_json(self) -> dict[str, Any]:
        caps = list(self.capabilities)
        out: dict[str, Any] = {
            "terminal": self.terminal,
            "user": {"uid": self.uid, "gid": self.gid},
            "args": list(self.args),
            "env": list(self.env),
            "cwd": self.cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": t, "hard": h, "soft": s} for t, s, h in self.rlimits],
            "noNewPrivileges": self.no_new_privileges,
        }
        if self.additional_gids:
            out["user"]["additionalGids"] = list(self.additional_gids)
        if self.oom_score_adj is not None:
            out["oomScoreAdj"] = self.oom_score_adj
        return out


@dataclass(frozen=True)
class Spec:
    """Everything :func:`build_spec` needs to write a container's config.json."""

    process: Process
    rootfs: str
    hostname: str = ""
    readonly_rootfs: bool = False
    mounts: tuple[Mount, ...] = ()
    namespaces: Mapping[str, str | None] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    cgroups_path: str = ""
    seccomp: Mapping[str, Any] | None = None
    privileged: bool = False
    sysctl: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def default_mounts(*, privileged: bool = False) -> tuple[Mount, ...]:
    """/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and its cgroup view."""
    sys_mode = "rw" if privileged else "ro"
    return (
        Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        Mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        ),
        Mount(
            "/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")
        ),
        Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", sys_mode)),
        Mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            ("nosuid", "noexec", "nodev", "relatime", sys_mode),
        ),
    )


def _resources(res: Resources, *, privileged: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["devices"] = (
        [{"allow": True, "access": "rwm"}]
        if privileged
        else [dict(rule) for rule in _DEFAULT_DEVICE_RULES]
    )
    memory: dict[str, Any] = {}
    if res.memory is not None:
        memory["limit"] = res.memory
        memory["swap"] = res.memory_swap if res.memory_swap is not None else res.memory
    if res.memory_reservation is not None:
        memory["reservation"] = res.memory_reservation
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if res.cpu_shares is not None:
        cpu["shares"] = res.cpu_shares
    if res.cpu_quota is not None:
        cpu["quota"] = res.cpu_quota
        cpu["period"] = res.cpu_period or 100_000
    if res.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if cpu:
        out["cpu"] = cpu
    if res.pids_limit is not None:
        out["pids"] = {"limit": res.pids_limit}
    return out


def build_spec(spec: Spec) -> dict[str, Any]:
    """The config.json document."""
    namespaces = []
    for kind in NAMESPACES:
        if kind not in spec.namespaces:
            namespaces.append({"type": kind})
            continue
        path = spec.namespaces[kind]
        if path == "host":
            continue  # share the host's
        entry: dict[str, Any] = {"type": kind}
        if path:
            entry["path"] = path
        namespaces.append(entry)
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "resources": _resources(spec.resources, privileged=spec.privileged),
        "sysctl": dict(spec.sysctl),
    }
    if spec.cgroups_path:
        linux["cgroupsPath"] = spec.cgroups_path
    if not spec.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    if spec.seccomp is not None and not spec.privileged:
        linux["seccomp"] = dict(spec.seccomp)
    doc: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": spec.process.to_json(),
        "root": {"path": spec.rootfs, "readonly": spec.readonly_rootfs},
        "mounts": [m.to_json() for m in spec.mounts],
        "linux": linux,
    }
    if spec.hostname:
        doc["hostname"] = spec.hostname
    if spec.annotations:
        doc["annotations"] = dict(spec.annotations)
    return doc
