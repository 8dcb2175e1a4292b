"""Make this machine's cgroup layout one the OCI runtime accepts, once per boot.

On hybrid hosts (v1 controllers plus a v2 hierarchy at /sys/fs/cgroup/unified) with
controllers left on the v2 mount (hugetlb on this kind of VM), crun 1.8 refuses to run
anything ("cgroups in hybrid mode not supported"). Mounting those controllers as v1
hierarchies moves them off the v2 mount, and crun then runs. runc needs nothing.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cais.errors import CaisError
from cais.fsutil import atomic_write
from cais.runtime.host import CGROUP_ROOT, CgroupLayout, cgroup_layout


@dataclass(frozen=True)
class HostPreparation:
    layout: CgroupLayout
    actions: tuple[str, ...]

    def describe(self) -> str:
        return "; ".join(self.actions) if self.actions else "nothing needed"


def prepare_host(runroot: Path, runtime: str, cgroup_root: Path = CGROUP_ROOT) -> HostPreparation:
    """Fix the cgroup layout for ``runtime`` if needed; remember what was done in ``runroot``."""
    layout = cgroup_layout(cgroup_root)
    actions: list[str] = []
    if runtime == "crun" and layout.mode == "hybrid" and layout.v2_controllers:
        for controller in layout.v2_controllers:
            target = cgroup_root / controller
            target.mkdir(exist_ok=True)
            proc = subprocess.run(
                ["mount", "-t", "cgroup", "-o", controller, "cgroup", str(target)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0 and controller in cgroup_layout(cgroup_root).v2_controllers:
                raise CaisError(
                    f"crun cannot run on this hybrid cgroup layout and mounting {controller} as "
                    f"a v1 hierarchy failed: {proc.stderr.strip()} (try --runtime runc)"
                )
            actions.append(
                f"mounted {controller} as a cgroup v1 hierarchy at {target} "
                "(crun refuses controllers left on the v2 mount in hybrid mode)"
            )
        layout = cgroup_layout(cgroup_root)
        record = runroot / "host-preparation.json"
        atomic_write(record, json.dumps({"actions": actions}).encode())
    return HostPreparation(layout, tuple(actions))


def previous_actions(runroot: Path) -> tuple[str, ...]:
    try:
        doc = json.loads((runroot / "host-preparation.json").read_text())
    except (OSError, ValueError):
        return ()
    return tuple(str(a) for a in doc.get("actions", ()))
