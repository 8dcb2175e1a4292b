"""Networks, endpoints and port mappings as values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_NETWORK = "bridge"


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    subnet: str
    gateway: str
    bridge: str
    created: float
    driver: str = "bridge"
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def dns(self) -> bool:
        """Docker resolves names on user networks, not on the default bridge."""
        return self.name != DEFAULT_NETWORK


@dataclass(frozen=True)
class PortMapping:
    """``-p [host_ip:]host_port:container_port[/protocol]``; host_port 0 means any free one."""

    container_port: int
    host_port: int = 0
    protocol: str = "tcp"
    host_ip: str = ""

    def to_cni(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hostPort": self.host_port,
            "containerPort": self.container_port,
            "protocol": self.protocol,
        }
        if self.host_ip:
            out["hostIP"] = self.host_ip
        return out

    def __str__(self) -> str:
        host = f"{self.host_ip or '0.0.0.0'}:{self.host_port}"
        return f"{host}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class Endpoint:
    container_id: str
    network: str
    interface: str
    ip: str
    prefix: int
    mac: str
    gateway: str
    aliases: tuple[str, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    cni_result: dict[str, Any] = field(default_factory=dict)
    plugins: tuple[str, ...] = ("bridge", "portmap", "firewall")  # what ADD ran: DEL runs them
