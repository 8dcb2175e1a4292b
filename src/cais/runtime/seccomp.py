"""Docker-format seccomp profiles (as /usr/share/containers/seccomp.json) → OCI seccomp.

The Docker format lists rules with ``includes``/``excludes`` on capabilities and
architectures; the OCI form the runtime takes has only the rules that apply to this
container on this machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cais.errors import InvalidArgumentError
from cais.settings import DEFAULT_SECCOMP_PROFILE

DEFAULT_PROFILE = DEFAULT_SECCOMP_PROFILE

_GO_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_SCMP_ARCH = {
    "amd64": "SCMP_ARCH_X86_64",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "386": "SCMP_ARCH_X86",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
}


def host_arch() -> str:
    machine = os.uname().machine
    return _GO_ARCH.get(machine, machine)


def load_profile(path: Path = DEFAULT_PROFILE) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidArgumentError(f"seccomp profile {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"seccomp profile {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or "defaultAction" not in doc:
        raise InvalidArgumentError(f"seccomp profile {path} has no defaultAction")
    return doc


def _applies(rule: Mapping[str, Any], caps: set[str], arch: str) -> bool:
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if includes.get("caps") and not set(includes["caps"]) <= caps:
        return False
    if excludes.get("arches") and arch in excludes["arches"]:
        return False
    return not (excludes.get("caps") and set(excludes["caps"]) & caps)


def to_oci(
    profile: Mapping[str, Any], capabilities: Iterable[str], arch: str | None = None
) -> dict[str, Any]:
    """The OCI ``linux.seccomp`` object for a container with ``capabilities`` on ``arch``."""
    arch = arch or host_arch()
    caps = set(capabilities)
    architectures: list[str] = []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == _SCMP_ARCH.get(arch):
            architectures = [entry["architecture"], *entry.get("subArchitectures", [])]
    if not architectures and profile.get("architectures"):
        architectures = list(profile["architectures"])
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule, caps, arch):
            continue
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        out: dict[str, Any] = {"names": list(names), "action": rule["action"]}
        if rule.get("args"):
            out["args"] = rule["args"]
        if rule.get("errnoRet") is not None:
            out["errnoRet"] = rule["errnoRet"]
        syscalls.append(out)
    doc: dict[str, Any] = {
        "defaultAction": profile["defaultAction"],
        "architectures": architectures,
        "syscalls": syscalls,
    }
    if profile.get("defaultErrnoRet") is not None:
        doc["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return doc
