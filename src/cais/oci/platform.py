"""Platforms (os/architecture/variant) and picking a manifest for one out of an index."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclass(frozen=True)
class Platform:
    """An OCI platform. ``variant`` is normalised (arm64 → v8 when empty)."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    @classmethod
    def parse(cls, value: str) -> Platform:
        """Parse ``os/arch[/variant]`` as ``--platform`` takes it."""
        parts = value.strip().lower().split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            raise ValueError(f"invalid platform {value!r}: expected os/arch[/variant]")
        return cls(parts[0], normalise_arch(parts[1]), parts[2] if len(parts) == 3 else "")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Platform:
        return cls(
            os=str(data.get("os", "")),
            architecture=normalise_arch(str(data.get("architecture", ""))),
            variant=str(data.get("variant", "")),
            os_version=str(data.get("os.version", "")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out

    def matches(self, other: Platform) -> bool:
        """Whether an image for ``other`` runs on this platform."""
        if self.os != other.os or self.architecture != other.architecture:
            return False
        mine = self.variant or _DEFAULT_VARIANT.get(self.architecture, "")
        theirs = other.variant or _DEFAULT_VARIANT.get(other.architecture, "")
        return not mine or not theirs or mine == theirs

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


def normalise_arch(arch: str) -> str:
    return _ARCH_ALIASES.get(arch, arch)


def host_platform() -> Platform:
    arch = normalise_arch(os.uname().machine.lower())
    return Platform("linux", arch, _DEFAULT_VARIANT.get(arch, "") if arch == "arm" else "")


def best_match(candidates: Iterable[tuple[Platform, Any]], wanted: Platform) -> Any | None:
    """The value whose platform matches ``wanted`` best (exact variant first), or None."""
    exact, loose = None, None
    for plat, value in candidates:
        if not wanted.matches(plat):
            continue
        if plat.variant == wanted.variant and exact is None:
            exact = value
        elif loose is None:
            loose = value
    return exact if exact is not None else loose
