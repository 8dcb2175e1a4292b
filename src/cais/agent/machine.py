"""What this machine offers the cluster: resources and attributes, as the ECS agent says.

CPU units are 1024 per core; memory is the total less a reserve for the system (MiB); the
host ports in use are those something listens on now (the control plane never places a
task's fixed host port on them). Attributes carry ECS's names, so placement constraints
written for ECS (``attribute:ecs.availability-zone == eu-west-1a``) work unchanged, and the
capabilities are those of what the agent supports: a task definition whose
``requiresAttributes`` names one missing here (container ``secrets``, say) is not placed.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path

from cais.agent.protocol import Attribute, Resources

DEFAULT_MEMORY_RESERVE = 256  # MiB left to the system and the agent
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
CAPABILITIES = (
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.ecr-auth",
    "com.amazonaws.ecs.capability.privileged-container",
    "com.amazonaws.ecs.capability.task-iam-role",
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
    "ecs.capability.task-eni",
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.env-files.s3",  # read by the control plane (cais.ecs.envfiles)
    # The Docker Remote API versions the ECS agent registers for a current Docker; task
    # definitions require some of them (1.18 awsvpc, 1.19 awslogs, 1.24 health checks).
    *(f"com.amazonaws.ecs.capability.docker-remote-api.1.{minor}" for minor in range(17, 45)),
)


def resources(*, memory_reserve: int = DEFAULT_MEMORY_RESERVE) -> Resources:
    from cais.runtime.host import cpu_count, memory_total

    tcp, udp = listening_ports()
    memory = max(0, memory_total() // (1 << 20) - memory_reserve)
    return Resources(cpu=1024 * cpu_count(), memory=memory, ports_tcp=tcp, ports_udp=udp)


def listening_ports(proc: Path = Path("/proc/net")) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """TCP ports in LISTEN state and bound UDP ports (IPv4 and IPv6), sorted."""

    def read(names: Sequence[str], state: str) -> tuple[int, ...]:
        ports: set[int] = set()
        for name in names:
            try:
                lines = (proc / name).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 3 and fields[3] == state:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return tuple(sorted(ports))

    return read(("tcp", "tcp6"), "0A"), read(("udp", "udp6"), "07")


def attributes(
    *,
    availability_zone: str = "",
    instance_type: str = "",
    extra: Sequence[Attribute] = (),
) -> tuple[Attribute, ...]:
    machine = platform.machine()
    found = {
        "ecs.os-type": "linux",
        "ecs.cpu-architecture": _ARCH.get(machine, machine),
        "ecs.instance-type": instance_type or "cais.local",
        "ecs.availability-zone": availability_zone or "local",
        **dict.fromkeys(CAPABILITIES),
    }
    for attribute in extra:
        found[attribute.name] = attribute.value
    return tuple(Attribute(name, value) for name, value in found.items())


def parse_attribute(text: str) -> Attribute:
    """``name=value`` (or a bare ``name``) as given to ``--attribute``."""
    name, sep, value = text.partition("=")
    if not name:
        raise ValueError(f"invalid attribute {text!r}: use NAME=VALUE")
    return Attribute(name, value if sep else None)
