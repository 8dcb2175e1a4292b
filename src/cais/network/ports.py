"""Port specs (``-p``) and host ports: parsing, free-port choice, in-use checks."""

from __future__ import annotations

import contextlib
import ipaddress
import socket

from cais.errors import ConflictError, InvalidArgumentError
from cais.network.model import PortMapping


def parse_publish(spec: str) -> list[PortMapping]:
    """``[IP:]HOST:CTR[/proto]``, ``[IP:]:CTR``, ``CTR``, and ranges ``8000-8001:80-81``."""
    text, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgumentError(f"invalid proto: {proto}")
    host_ip = ""
    if text.startswith("["):
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2 :]
    parts = text.split(":")
    if len(parts) == 3:
        host_ip, host, ctr = parts
    elif len(parts) == 2:
        host, ctr = parts
    elif len(parts) == 1:
        host, ctr = "", parts[0]
    else:
        raise InvalidArgumentError(f"invalid port format: {spec!r}")
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgumentError(f"invalid IP address in {spec!r}: {host_ip}") from None
    ctr_ports = _range(ctr, spec)
    host_ports = _range(host, spec) if host else [0] * len(ctr_ports)
    if len(host_ports) != len(ctr_ports):
        if len(host_ports) > 1:
            raise InvalidArgumentError(
                f"invalid ranges specified for container and host ports: {spec!r}"
            )
        host_ports = [host_ports[0] + i for i in range(len(ctr_ports))]
    return [PortMapping(c, h, proto, host_ip) for h, c in zip(host_ports, ctr_ports, strict=True)]


def _range(text: str, spec: str) -> list[int]:
    first, _, last = text.partition("-")
    try:
        start = int(first)
        end = int(last) if last else start
    except ValueError:
        raise InvalidArgumentError(f"invalid port format: {spec!r}") from None
    if not (0 < start <= end <= 65535):
        raise InvalidArgumentError(f"invalid port range in {spec!r}: ports are 1-65535")
    return list(range(start, end + 1))


def exposed_to_mappings(exposed: tuple[str, ...]) -> list[PortMapping]:
    """``-P``: every EXPOSEd port on a free host port."""
    out = []
    for item in exposed:
        port, _, proto = item.partition("/")
        out.append(PortMapping(int(port), 0, proto or "tcp"))
    return out


def port_free(port: int, protocol: str, host_ip: str = "") -> bool:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with socket.socket(family, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host_ip or "0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(protocol: str, taken: set[tuple[int, str]]) -> int:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    for _ in range(64):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("0.0.0.0", 0))
            port = int(sock.getsockname()[1])
        if (port, protocol) not in taken:
            return port
    raise ConflictError("no free host port found")


def check_host_port(mapping: PortMapping, taken: set[tuple[int, str]]) -> None:
    if (mapping.host_port, mapping.protocol) in taken or not port_free(
        mapping.host_port, mapping.protocol, mapping.host_ip
    ):
        address = f"{mapping.host_ip or '0.0.0.0'}:{mapping.host_port}"
        raise ConflictError(
            f"failed to bind port {address}/{mapping.protocol}: address already in use"
        )


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
