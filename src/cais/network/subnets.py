"""Choosing subnets for new networks: free on this host, and not claimed by another cais.

Claims live in ``/run/cais-subnets.json`` (shared by every cais root on the machine, so
two roots never pick the same subnet); a claim whose root is gone is stale and dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from cais.errors import ConflictError, InvalidArgumentError
from cais.fsutil import atomic_write

CLAIMS = Path("/run/cais-subnets.json")
POOL = ipaddress.ip_network("10.90.0.0/16")
POOL_PREFIX = 24


def host_networks() -> list[ipaddress.IPv4Network]:
    """Networks the host already routes to or has addresses in."""
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for args in (["-4", "-j", "route", "show", "table", "all"], ["-4", "-j", "addr"]):
        try:
            proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
            doc = json.loads(proc.stdout or "[]")
        except (OSError, ValueError):
            continue
        for entry in doc:
            if "dst" in entry and entry["dst"] not in ("default", ""):
                with contextlib.suppress(ValueError):
                    out.append(ipaddress.ip_network(entry["dst"], strict=False))
            for info in entry.get("addr_info", []):
                with contextlib.suppress(ValueError, KeyError):
                    out.append(
                        ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False)
                    )
    return [n for n in out if isinstance(n, ipaddress.IPv4Network) and n.prefixlen > 0]


@contextlib.contextmanager
def _claims() -> Iterator[dict[str, str]]:
    lock = CLAIMS.with_suffix(".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            claims: dict[str, str] = json.loads(CLAIMS.read_text())
        except (OSError, ValueError):
            claims = {}
        claims = {net: root for net, root in claims.items() if Path(root).exists()}
        yield claims
        atomic_write(CLAIMS, json.dumps(claims).encode())
    finally:
        os.close(fd)


def claim(root: Path, known: list[str], *, subnet: str | None = None) -> str:
    """Claim ``subnet`` (checked) or the first free /24 of the pool for a network of ``root``."""
    taken = [ipaddress.ip_network(n) for n in known]
    with _claims() as claims:
        others = [ipaddress.ip_network(n) for n, r in claims.items() if r != str(root)]
        if subnet is not None:
            try:
                wanted = ipaddress.ip_network(subnet)
            except ValueError as exc:
                raise InvalidArgumentError(f"invalid subnet {subnet!r}: {exc}") from None
            if not isinstance(wanted, ipaddress.IPv4Network):
                raise InvalidArgumentError(f"invalid subnet {subnet!r}: only IPv4 is supported")
            if wanted.prefixlen > 30:
                raise InvalidArgumentError(f"invalid subnet {subnet!r}: too small")
            for other in (*taken, *others):
                if wanted.overlaps(other):
                    raise ConflictError(
                        f"invalid pool request: Pool overlaps with other one "
                        f"on this address space ({other})"
                    )
            claims[str(wanted)] = str(root)
            return str(wanted)
        busy = [*taken, *others, *host_networks()]
        for candidate in POOL.subnets(new_prefix=POOL_PREFIX):
            if not any(candidate.overlaps(b) for b in busy):
                claims[str(candidate)] = str(root)
                return str(candidate)
    raise ConflictError(
        "could not find an available, non-overlapping IPv4 address pool "
        "among the defaults to assign to the network"
    )


def release(subnet: str) -> None:
    with _claims() as claims:
        claims.pop(subnet, None)


def gateway_for(subnet: str, gateway: str | None) -> str:
    net = ipaddress.ip_network(subnet)
    if gateway is None:
        return str(next(net.hosts()))
    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        raise InvalidArgumentError(f"invalid gateway {gateway!r}") from None
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise InvalidArgumentError(
            f"no matching subnet for gateway {gateway}: it is not in {subnet}"
        )
    return str(gw)
