"""Where cais keeps its state and what it runs with.

The cais root (``/var/lib/cais``; ``--root`` or ``CAIS_ROOT``) holds durable state: blobs,
snapshots, the database. The run root (``/run/cais``; ``--runroot`` or ``CAIS_RUNROOT``)
holds what dies with the machine: bundles, sockets, pid and exit files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/var/lib/cais")
DEFAULT_RUNROOT = Path("/run/cais")
DEFAULT_RUNTIME = "crun"
DEFAULT_CGROUP_PARENT = "cais"
# Docker's default seccomp profile as Debian ships it (package golang-github-containers-common)
DEFAULT_SECCOMP_PROFILE = Path("/usr/share/containers/seccomp.json")


@dataclass(frozen=True)
class Settings:
    root: Path = DEFAULT_ROOT
    runroot: Path = DEFAULT_RUNROOT
    runtime: str = DEFAULT_RUNTIME
    cgroup_parent: str = DEFAULT_CGROUP_PARENT  # containers' cgroups: /<parent>/<id>
    seccomp_profile: Path = DEFAULT_SECCOMP_PROFILE  # for containers without --security-opt

    @classmethod
    def load(
        cls,
        *,
        root: str | None = None,
        runroot: str | None = None,
        runtime: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Flags first, then ``CAIS_*`` environment variables, then the defaults."""
        env = os.environ if environ is None else environ
        return cls(
            root=Path(root or env.get("CAIS_ROOT") or DEFAULT_ROOT).absolute(),
            runroot=Path(runroot or env.get("CAIS_RUNROOT") or DEFAULT_RUNROOT).absolute(),
            runtime=runtime or env.get("CAIS_RUNTIME") or DEFAULT_RUNTIME,
            cgroup_parent=env.get("CAIS_CGROUP_PARENT") or DEFAULT_CGROUP_PARENT,
            seccomp_profile=Path(env.get("CAIS_SECCOMP_PROFILE") or DEFAULT_SECCOMP_PROFILE),
        )

    def cgroup_of(self, container_id: str, parent: str = "") -> str:
        """A container's cgroup path: under ``parent`` (``--cgroup-parent``) if given."""
        return f"/{(parent or self.cgroup_parent).strip('/')}/{container_id}"

    @property
    def database(self) -> Path:
        return self.root / "cais.db"
