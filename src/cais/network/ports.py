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


def reserve(mapping: PortMapping) -> socket.socket:
    """Bind the host port and keep it: the socket goes to conmon, which holds it as long as
    the container runs, so no other program can take the port (podman does the same)."""
    kind = socket.SOCK_DGRAM if mapping.protocol == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in mapping.host_ip else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((mapping.host_ip or "0.0.0.0", mapping.host_port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1)  # a listener: a second SO_REUSEADDR bind is refused too
    except OSError:
        close_quietly(sock)
        raise _in_use(mapping) from None
    return sock


def reserve_free(
    container_port: int, protocol: str, host_ip: str, taken: set[tuple[int, str]]
) -> tuple[PortMapping, socket.socket]:
    """A free host port chosen by the kernel, already reserved."""
    for _ in range(64):
        sock = reserve(PortMapping(container_port, 0, protocol, host_ip))
        port = int(sock.getsockname()[1])
        if (port, protocol) not in taken:
            return PortMapping(container_port, port, protocol, host_ip), sock
        close_quietly(sock)
    raise ConflictError("no free host port found")


def check_taken(mapping: PortMapping, taken: set[tuple[int, str]]) -> None:
    """A port another container of this root publishes (it may be between restarts)."""
    if (mapping.host_port, mapping.protocol) in taken:
        raise _in_use(mapping)


def _in_use(mapping: PortMapping) -> ConflictError:
    address = f"{mapping.host_ip or '0.0.0.0'}:{mapping.host_port}"
    return ConflictError(
        f"failed to bind port {address}/{mapping.protocol}: address already in use"
    )


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
