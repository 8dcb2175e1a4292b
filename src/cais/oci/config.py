"""The image configuration (``application/vnd.oci.image.config.v1+json`` and Docker's).

Field names follow Docker's JSON (``Env``, ``Cmd``, ``Healthcheck`` …), which the OCI
config shares and extends; durations in Healthcheck are nanoseconds as Docker writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cais.oci.digest import Digest, DigestError
from cais.oci.manifest import ManifestError, canonical_json, load_json
from cais.oci.platform import Platform, normalise_arch


@dataclass(frozen=True)
class HealthConfig:
    """A HEALTHCHECK: ``test`` is ``["NONE"]``, ``["CMD", …]`` or ``["CMD-SHELL", cmd]``."""

    test: tuple[str, ...]
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HealthConfig:
        return cls(
            test=tuple(data.get("Test") or ()),
            interval_ns=int(data.get("Interval") or 0),
            timeout_ns=int(data.get("Timeout") or 0),
            start_period_ns=int(data.get("StartPeriod") or 0),
            start_interval_ns=int(data.get("StartInterval") or 0),
            retries=int(data.get("Retries") or 0),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (
            ("Interval", self.interval_ns),
            ("Timeout", self.timeout_ns),
            ("StartPeriod", self.start_period_ns),
            ("StartInterval", self.start_interval_ns),
            ("Retries", self.retries),
        ):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class ContainerConfig:
    """The execution defaults an image carries (the ``config`` member)."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    healthcheck: HealthConfig | None = None
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] = ()
    args_escaped: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ContainerConfig:
        if not data:
            return cls()

        def strings(key: str) -> tuple[str, ...] | None:
            value = data.get(key)
            if value is None:
                return None
            if isinstance(value, str):
                return (value,)
            return tuple(str(v) for v in value)

        health = data.get("Healthcheck")
        return cls(
            user=str(data.get("User") or ""),
            env=strings("Env") or (),
            entrypoint=strings("Entrypoint"),
            cmd=strings("Cmd"),
            working_dir=str(data.get("WorkingDir") or ""),
            exposed_ports=tuple(sorted((data.get("ExposedPorts") or {}).keys())),
            volumes=tuple(sorted((data.get("Volumes") or {}).keys())),
            labels=dict(data.get("Labels") or {}),
            stop_signal=str(data.get("StopSignal") or ""),
            healthcheck=HealthConfig.from_json(health) if health else None,
            shell=strings("Shell"),
            on_build=strings("OnBuild") or (),
            args_escaped=bool(data.get("ArgsEscaped", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.args_escaped:
            out["ArgsEscaped"] = True
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        return out

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out


@dataclass(frozen=True)
class HistoryEntry:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            created=str(data.get("created") or ""),
            created_by=str(data.get("created_by") or ""),
            author=str(data.get("author") or ""),
            comment=str(data.get("comment") or ""),
            empty_layer=bool(data.get("empty_layer", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class ImageConfig:
    """An image's configuration: platform, execution defaults, layer diff IDs, history."""

    architecture: str
    os: str
    config: ContainerConfig = field(default_factory=ContainerConfig)
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    created: str = ""
    author: str = ""
    variant: str = ""

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageConfig:
        doc = load_json(data, "image config")
        if not isinstance(doc, dict):
            raise ManifestError("image config: expected a JSON object")
        return cls.from_json(doc)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ImageConfig:
        rootfs = doc.get("rootfs") or {}
        if not isinstance(rootfs, dict):
            raise ManifestError("image config: rootfs must be an object")
        if rootfs and rootfs.get("type") != "layers":
            raise ManifestError("image config: rootfs.type must be 'layers'")
        try:
            diff_ids = tuple(Digest.parse(d) for d in rootfs.get("diff_ids") or ())
        except DigestError as exc:
            raise ManifestError(f"image config: rootfs.diff_ids: {exc}") from None
        return cls(
            architecture=normalise_arch(str(doc.get("architecture") or "")),
            os=str(doc.get("os") or ""),
            variant=str(doc.get("variant") or ""),
            config=ContainerConfig.from_json(doc.get("config")),
            diff_ids=diff_ids,
            history=tuple(HistoryEntry.from_json(h) for h in doc.get("history") or ()),
            created=str(doc.get("created") or ""),
            author=str(doc.get("author") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        out["architecture"] = self.architecture
        if self.variant:
            out["variant"] = self.variant
        out["os"] = self.os
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]}
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def with_layer(self, diff_id: Digest, history: HistoryEntry) -> ImageConfig:
        return replace(self, diff_ids=(*self.diff_ids, diff_id), history=(*self.history, history))


def rfc3339(moment: datetime | None = None) -> str:
    """The timestamp format image configs use (UTC, nanosecond-free, trailing Z)."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(value: str) -> datetime | None:
    """Parse an RFC 3339 timestamp, tolerating nanoseconds; None when unparseable."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def chain_ids(diff_ids: tuple[Digest, ...]) -> tuple[Digest, ...]:
    """Chain IDs per the OCI spec: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(Digest.from_bytes(f"{out[-1]} {diff_id}".encode()))
    return tuple(out)
