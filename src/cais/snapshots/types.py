"""The snapshotter protocol and its values."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cais.errors import CaisError


class SnapshotError(CaisError):
    """A snapshot operation that cannot be done (missing parent, key in use, children)."""


class Kind(enum.StrEnum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Mount:
    """One mount(2) call: ``mount -t type -o options source <target>``."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    def option(self, name: str) -> str | None:
        prefix = name + "="
        for opt in self.options:
            if opt.startswith(prefix):
                return opt[len(prefix) :]
        return None


@dataclass(frozen=True)
class SnapshotInfo:
    key: str
    kind: Kind
    parent: str | None
    created: float
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    size: int
    inodes: int


class Snapshotter(Protocol):
    """Prepare / view / commit / remove snapshots and say how to mount them."""

    def stat(self, key: str) -> SnapshotInfo: ...

    def prepare(
        self, key: str, parent: str | None = None, *, labels: Mapping[str, str] | None = None
    ) -> list[Mount]: ...

    def view(
        self, key: str, parent: str, *, labels: Mapping[str, str] | None = None
    ) -> list[Mount]: ...

    def mounts(self, key: str) -> list[Mount]: ...

    def commit(self, name: str, key: str, *, labels: Mapping[str, str] | None = None) -> None: ...

    def remove(self, key: str) -> None: ...

    def walk(self) -> Iterator[SnapshotInfo]: ...

    def usage(self, key: str) -> Usage: ...

    def upper_dir(self, key: str) -> Path:
        """Where an active snapshot's own changes live (applying layers, diff, commit)."""
        ...

    def cleanup(self) -> int:
        """Remove storage that no snapshot record owns (left by a killed process)."""
        ...
