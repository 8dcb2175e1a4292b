"""Parsing the values users give on the command line, with Docker's syntax and errors."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from cais.errors import InvalidArgumentError
from cais.runtime.model import MountRequest, RestartPolicy

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MIN_MEMORY = 6 << 20  # Docker refuses less than 6 MiB


def parse_bytes(value: str, flag: str) -> int:
    """``32m``, ``1g``, ``512k``, ``1048576`` → bytes (binary units, as Docker's RAMInBytes)."""
    match = _SIZE_RE.match(value.strip())
    if not match:
        raise InvalidArgumentError(f'invalid argument "{value}" for "{flag}" flag: invalid size')
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


def parse_memory(value: str, flag: str = "-m, --memory") -> int:
    size = parse_bytes(value, flag)
    if size < MIN_MEMORY:
        raise InvalidArgumentError("Minimum memory limit allowed is 6MB")
    return size


def parse_cpus(value: str, available: int | None = None) -> tuple[int, int] | None:
    """``--cpus 1.5`` → (quota, period) in microseconds; ``0`` means no limit (as Docker).

    ``available`` is the number of CPUs this process may run on (the host's by default)."""
    try:
        cpus = float(value)
    except ValueError:
        raise InvalidArgumentError(
            f'invalid argument "{value}" for "--cpus" flag: failed to parse {value} as a '
            "rational number"
        ) from None
    if cpus == 0:
        return None
    count = len(os.sched_getaffinity(0)) if available is None else available
    if not 0.01 <= cpus <= count:
        raise InvalidArgumentError(
            f"Range of CPUs is from 0.01 to {count}.00, as there are only {count} CPUs available"
        )
    period = 100_000
    return int(cpus * period), period


def parse_duration(value: str, flag: str) -> float:
    """Go durations (``30s``, ``1m30s``, ``500ms``) → seconds; a bare number means seconds."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise InvalidArgumentError(
            f'invalid argument "{value}" for "{flag}" flag: time: invalid duration "{value}"'
        )
    return total


def parse_restart(value: str) -> RestartPolicy:
    name, _, count = value.partition(":")
    if name not in ("no", "on-failure", "always", "unless-stopped"):
        raise InvalidArgumentError(
            f"invalid restart policy {value!r}: choose no, "
            "on-failure[:max-retries], always or unless-stopped"
        )
    if count:
        if name != "on-failure":
            raise InvalidArgumentError(
                f"maximum retry count cannot be used with restart policy '{name}'"
            )
        if not count.isdigit():
            raise InvalidArgumentError(f"maximum retry count must be an integer: {count!r}")
    return RestartPolicy(name, int(count or 0))


def parse_signal(value: str) -> str:
    """``TERM``, ``SIGTERM`` or ``15`` → ``SIGTERM``."""
    text = value.strip().upper()
    if text.isdigit():
        try:
            return signal.Signals(int(text)).name
        except ValueError:
            raise InvalidArgumentError(f"invalid signal: {value}") from None
    if not text.startswith("SIG"):
        text = "SIG" + text
    if text not in signal.Signals.__members__:
        raise InvalidArgumentError(f"invalid signal: {value}")
    return text


def signal_number(name: str) -> int:
    return int(signal.Signals[parse_signal(name)])


def parse_env(values: list[str] | None, files: list[str] | None) -> list[str]:
    """``-e K=V`` / ``-e K`` (taken from our environment) and ``--env-file`` lines."""
    import os

    out: list[str] = []
    for path in files or []:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidArgumentError(f"open {path}: {exc.strerror}") from None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, eq, _ = line.partition("=")
            if not key or any(c.isspace() for c in key):
                raise InvalidArgumentError(f"{path}:{lineno}: invalid variable name {key!r}")
            out.append(line if eq else f"{key}={os.environ.get(key, '')}")
    for item in values or []:
        key, eq, _ = item.partition("=")
        if not key:
            raise InvalidArgumentError(f"invalid environment variable: {item}")
        if eq:
            out.append(item)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def merge_env(base: tuple[str, ...], extra: list[str]) -> tuple[str, ...]:
    """Later values win; order is that of first appearance (as Docker)."""
    merged: dict[str, str] = {}
    for item in (*base, *extra):
        key, _, value = item.partition("=")
        merged[key] = value
    return tuple(f"{k}={v}" for k, v in merged.items())


def parse_volume(spec: str) -> MountRequest:
    """``-v HOST:CTR[:ro]``, ``-v NAME:CTR[:ro]`` or ``-v CTR`` (anonymous volume)."""
    parts = spec.split(":")
    if len(parts) == 1:
        target = parts[0]
        _check_target(target, spec)
        return MountRequest("volume", target, anonymous=True)
    if len(parts) > 3:
        raise InvalidArgumentError(f"invalid volume specification: '{spec}'")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    options = [o for o in mode.split(",") if o]
    for opt in options:
        if opt not in (
            "ro",
            "rw",
            "z",
            "Z",
            "shared",
            "slave",
            "private",
            "rshared",
            "rslave",
            "rprivate",
            "nocopy",
        ):
            raise InvalidArgumentError(f"invalid mode: {opt} in volume '{spec}'")
    _check_target(target, spec)
    readonly = "ro" in options
    if not source:
        raise InvalidArgumentError(f"invalid volume specification: '{spec}'")
    if source.startswith(("/", ".")):
        return MountRequest("bind", target, str(Path(source).absolute()), readonly)
    _check_volume_name(source)
    return MountRequest(
        "volume", target, source, readonly, options=("nocopy",) if "nocopy" in options else ()
    )


def parse_mount(spec: str) -> MountRequest:
    """``--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]``."""
    fields: dict[str, str] = {}
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro") and not eq:
            value = "true"
        fields[key] = value
    kind = fields.get("type", "volume")
    target = fields.get("target") or fields.get("destination") or fields.get("dst") or ""
    source = fields.get("source") or fields.get("src") or ""
    readonly = fields.get("readonly", fields.get("ro", "false")).lower() in ("true", "1", "")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgumentError(f"invalid mount type {kind!r}: choose bind, volume or tmpfs")
    if not target:
        raise InvalidArgumentError(f"invalid mount '{spec}': target is required")
    _check_target(target, spec)
    if kind == "bind":
        if not source:
            raise InvalidArgumentError(f"invalid mount '{spec}': source is required for bind")
        return MountRequest("bind", target, str(Path(source).absolute()), readonly)
    if kind == "tmpfs":
        options = []
        if "tmpfs-size" in fields:
            options.append(f"size={parse_bytes(fields['tmpfs-size'], '--mount tmpfs-size')}")
        if "tmpfs-mode" in fields:
            options.append(f"mode={fields['tmpfs-mode']}")
        return MountRequest("tmpfs", target, "tmpfs", readonly, tuple(options))
    if source:
        _check_volume_name(source)
    return MountRequest("volume", target, source, readonly, anonymous=not source)


def parse_tmpfs(spec: str) -> MountRequest:
    target, _, opts = spec.partition(":")
    _check_target(target, spec)
    return MountRequest("tmpfs", target, "tmpfs", False, tuple(o for o in opts.split(",") if o))


def _check_target(target: str, spec: str) -> None:
    if not target.startswith("/"):
        raise InvalidArgumentError(
            f"invalid mount config: the mount destination '{target}' in '{spec}' is not an "
            "absolute path"
        )
    if target == "/":
        raise InvalidArgumentError(f"invalid mount config: cannot mount over '/' ({spec})")


_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def _check_volume_name(name: str) -> None:
    if not _VOLUME_NAME.match(name):
        raise InvalidArgumentError(
            f'"{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )


_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def check_container_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidArgumentError(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.lstrip("/")


def parse_security_opts(values: list[str] | None) -> tuple[bool, str]:
    """``no-new-privileges[:true]`` and ``seccomp=unconfined|PATH`` → (nnp, seccomp)."""
    nnp, seccomp = False, ""
    for value in values or []:
        key, sep, rest = (
            value.replace(":", "=", 1).partition("=")
            if "=" in value or (":" in value)
            else (value, "", "")
        )
        if key == "no-new-privileges":
            nnp = rest.lower() in ("", "true") if sep else True
        elif key == "seccomp":
            seccomp = rest
            if not seccomp:
                raise InvalidArgumentError(
                    "invalid --security-opt seccomp: give unconfined or a profile path"
                )
        elif key in ("label", "apparmor"):
            continue  # no SELinux/AppArmor on this platform: accepted and ignored
        else:
            raise InvalidArgumentError(f"invalid --security-opt: {value!r}")
    return nnp, seccomp


def parse_capabilities(values: list[str] | None) -> tuple[str, ...]:
    from cais.oci.runtime_spec import ALL_CAPABILITIES

    out = []
    for value in values or []:
        for item in value.split(","):
            cap = item.strip().upper()
            if cap == "ALL":
                out.append("ALL")
                continue
            if not cap.startswith("CAP_"):
                cap = "CAP_" + cap
            if cap not in ALL_CAPABILITIES:
                raise InvalidArgumentError(f"unknown capability: {item!r}")
            out.append(cap)
    return tuple(out)
