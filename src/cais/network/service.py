"""Network operations: create and remove networks; attach containers at start, detach them
at stop; keep every container's /etc/hosts current with its peers (name resolution)."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from cais.errors import CaisError, ConflictError, InvalidArgumentError
from cais.network import cni, firewall, netns, subnets
from cais.network.model import DEFAULT_NETWORK, Endpoint, Network, PortMapping
from cais.network.ports import (
    check_taken,
    close_quietly,
    exposed_to_mappings,
    parse_publish,
    reserve,
    reserve_free,
)
from cais.network.store import NetworkNotFoundError, NetworkStore
from cais.runtime.model import Container
from cais.settings import DEFAULT_ROOT, Settings

_RESERVED = ("host", "none", "default")


class ContainerDirectory(Protocol):
    """How the network room looks up containers (it does not own them)."""

    def find(self, cid: str) -> Container | None: ...

    def all(self) -> list[Container]: ...


class NetworkService:
    def __init__(
        self, settings: Settings, store: NetworkStore, containers: ContainerDirectory
    ) -> None:
        self.settings = settings
        self.store = store
        self.containers = containers
        self._pending: dict[str, _Background] = {}
        # host ports bound at attach, until conmon (which keeps them) has its copies
        self._held: dict[str, list[socket.socket]] = {}

    # paths

    @property
    def ipam_dir(self) -> Path:
        return self.settings.root / "networks" / "ipam"

    def netns_path(self, cid: str) -> Path:
        return self.settings.runroot / "netns" / cid

    def hosts_path(self, cid: str) -> Path:
        return self.settings.root / "containers" / cid / "hosts"

    def _bridge_name(self, name: str) -> str:
        if name == DEFAULT_NETWORK and self.settings.root == DEFAULT_ROOT:
            return "cais0"
        digest = hashlib.sha256(f"{self.settings.root}\0{name}".encode()).hexdigest()
        return f"cais{digest[:10]}"

    # networks

    def create(
        self,
        name: str,
        *,
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        driver: str = "bridge",
    ) -> Network:
        if driver != "bridge":
            raise InvalidArgumentError(f"network driver {driver!r} is not available: use bridge")
        if name in _RESERVED:
            raise ConflictError(f"{name} is a pre-defined network and cannot be created")
        if not name or not all(c.isalnum() or c in "_.-" for c in name):
            raise InvalidArgumentError(f"invalid network name {name!r}")
        if self.store.find(name) is not None:
            raise ConflictError(f"network with name {name} already exists")
        if gateway is not None and subnet is None:
            raise InvalidArgumentError("a gateway needs a --subnet")
        if subnet is not None:
            try:
                net = ipaddress.ip_network(subnet)
            except ValueError as exc:
                raise InvalidArgumentError(f"invalid subnet {subnet!r}: {exc}") from None
            gw = subnets.gateway_for(str(net), gateway)
        known = [n.subnet for n in self.store.all()]
        claimed = subnets.claim(self.settings.root, known, subnet=subnet)
        try:
            gw = subnets.gateway_for(claimed, gateway)
            network = Network(
                id=os.urandom(32).hex(),
                name=name,
                subnet=claimed,
                gateway=gw,
                bridge=self._bridge_name(name),
                created=time.time(),
                internal=internal,
                labels=dict(labels or {}),
            )
            _reclaim_bridge(network.bridge)
            self.store.insert(network)
        except BaseException:
            subnets.release(claimed)
            raise
        return network

    def default(self) -> Network:
        found = self.store.find(DEFAULT_NETWORK)
        if found is not None:
            return found
        known = [n.subnet for n in self.store.all()]
        claimed = subnets.claim(self.settings.root, known)
        network = Network(
            id=os.urandom(32).hex(),
            name=DEFAULT_NETWORK,
            subnet=claimed,
            gateway=subnets.gateway_for(claimed, None),
            bridge=self._bridge_name(DEFAULT_NETWORK),
            created=time.time(),
        )
        _reclaim_bridge(network.bridge)
        try:
            self.store.insert(network)
        except ConflictError:
            subnets.release(claimed)
            return self.store.get(DEFAULT_NETWORK)
        return network

    def resolve(self, name: str) -> Network:
        if name in ("bridge", "default"):
            return self.default()
        return self.store.get(name)

    def remove(self, name: str) -> Network:
        network = self.store.get(name)
        users = [
            cid
            for cid in self.store.attached_to(network.name)
            if self.containers.find(cid) is not None
        ]
        if users:
            raise ConflictError(
                f"error while removing network: network {network.name} id "
                f"{network.id[:12]} has active endpoints"
            )
        self.store.delete(network.id)
        firewall.release(network.bridge, internal=network.internal)
        subprocess.run(["ip", "link", "del", network.bridge], capture_output=True, check=False)
        subnets.release(network.subnet)
        with contextlib.suppress(OSError):
            for path in (self.ipam_dir / network.name).glob("*"):
                path.unlink()
            (self.ipam_dir / network.name).rmdir()
        return network

    def prune(self) -> list[str]:
        removed = []
        for network in self.store.all():
            if network.name == DEFAULT_NETWORK:
                continue
            if not any(self.containers.find(c) for c in self.store.attached_to(network.name)):
                self.remove(network.name)
                removed.append(network.name)
        return removed

    def conflist(
        self, network: Network, plugins: tuple[str, ...] = cni.ALL_PLUGINS
    ) -> dict[str, Any]:
        return cni.bridge_conflist(
            name=network.name,
            bridge=network.bridge,
            subnet=network.subnet,
            gateway=network.gateway,
            internal=network.internal,
            ipam_dir=self.ipam_dir,
            plugins=plugins,
        )

    # containers

    def record(self, container: Container) -> None:
        """At create: remember which networks the container joins (``--network``)."""
        mode = container.config.network
        if mode in ("host", "none") or mode.startswith("container:"):
            if mode.startswith("container:"):
                other = mode.split(":", 1)[1]
                if not other:
                    raise InvalidArgumentError("--network container: needs a container name")
            return
        network = self.resolve(mode)
        if container.config.publish:
            for spec in container.config.publish:
                parse_publish(spec)
        self.store.attach(
            container.id,
            network.name,
            aliases=container.config.network_aliases,
            ip=container.config.ip,
        )

    def forget(self, container_id: str) -> None:
        self.store.detach(container_id)

    def attach(self, container: Container) -> str | None:
        """At start: the namespace path to give crun. None means no namespace of ours: the
        host's (``host``), or a fresh one crun makes with only loopback up (``none``).

        The CNI ADDs run in a thread while the runtime creates the container (they only
        need the namespace to exist); :meth:`ready` waits for them before it starts."""
        mode = container.config.network
        if mode in ("host", "none"):
            return None
        if mode.startswith("container:"):
            return self._shared_namespace(mode.split(":", 1)[1])
        attachments = self.store.attachments(container.id)
        mappings: list[PortMapping] = []
        if attachments:
            mappings, self._held[container.id] = self._reserve_ports(container)
        path = netns.create(self.netns_path(container.id))

        def join_all() -> None:
            for index, (name, aliases, ip) in enumerate(attachments):
                self._join(
                    container,
                    self.resolve(name),
                    path,
                    f"eth{index}",
                    aliases=aliases,
                    ip=ip,
                    mappings=mappings if index == 0 else [],
                )

        self._pending[container.id] = _Background(join_all)
        return str(path)

    def held_ports(self, container: Container) -> tuple[int, ...]:
        """File descriptors of the host ports :meth:`attach` reserved, for conmon to keep."""
        return tuple(sock.fileno() for sock in self._held.get(container.id, ()))

    def _release_held(self, container_id: str) -> None:
        for sock in self._held.pop(container_id, ()):
            close_quietly(sock)

    def ready(self, container: Container) -> None:
        """Wait for :meth:`attach`'s CNI ADDs; on failure, give everything back and raise."""
        self._release_held(container.id)  # conmon holds the ports from here on
        pending = self._pending.pop(container.id, None)
        if pending is None:
            return
        error = pending.wait()
        if error is not None:
            self.detach(container)
            raise error
        self._refresh_peers(container.id)

    def _shared_namespace(self, other_name: str) -> str:
        other = None
        for candidate in self.containers.all():
            if candidate.name == other_name or candidate.id.startswith(other_name):
                other = candidate
                break
        if other is None or other.state.status not in ("running", "paused"):
            raise ConflictError(
                f"cannot join the network namespace of container {other_name}: it is not running"
            )
        if other.config.network == "host":
            raise ConflictError("cannot join a container that uses the host's network")
        # the namespace of its first process: whatever made it (crun for ``none``, cais for
        # a network), it lives as long as that container runs
        return f"/proc/{other.state.pid}/ns/net"

    def _reserve_ports(self, container: Container) -> tuple[list[PortMapping], list[socket.socket]]:
        """The host ports of ``-p``/``-P``, each bound now so that it stays ours."""
        wanted: list[PortMapping] = []
        for spec in container.config.publish:
            wanted.extend(parse_publish(spec))
        if container.config.publish_all:
            published = {(m.container_port, m.protocol) for m in wanted}
            wanted.extend(
                m
                for m in exposed_to_mappings(container.config.exposed_ports)
                if (m.container_port, m.protocol) not in published
            )
        taken = {(p.host_port, p.protocol) for ep in self.store.endpoints() for p in ep.ports}
        out: list[PortMapping] = []
        held: list[socket.socket] = []
        try:
            for asked in wanted:
                if asked.host_port == 0:
                    mapping, sock = reserve_free(
                        asked.container_port, asked.protocol, asked.host_ip, taken
                    )
                else:
                    mapping = asked
                    check_taken(mapping, taken)
                    sock = reserve(mapping)
                held.append(sock)
                taken.add((mapping.host_port, mapping.protocol))
                out.append(mapping)
        except BaseException:
            for sock in held:
                close_quietly(sock)
            raise
        return out, held

    def _join(
        self,
        container: Container,
        network: Network,
        path: Path,
        ifname: str,
        *,
        aliases: tuple[str, ...],
        ip: str,
        mappings: list[PortMapping],
    ) -> Endpoint:
        args = {"IP": ip} if ip else {}
        request = cni.CniRequest(
            container.id, str(path), ifname, args, {"portMappings": [m.to_cni() for m in mappings]}
        )
        plugins = (
            ("bridge",)
            + (("portmap",) if mappings else ())
            + (("firewall",) if firewall.forward_drops() else ())
        )
        result = cni.add(self.conflist(network, plugins), request)
        firewall.isolate(network.bridge, internal=network.internal)
        address, prefix, mac, gateway = _address(result, ifname)
        endpoint = Endpoint(
            container.id,
            network.name,
            ifname,
            address,
            prefix,
            mac,
            gateway,
            aliases,
            tuple(mappings),
            result,
            plugins,
        )
        self.store.add_endpoint(endpoint)
        return endpoint

    def detach(self, container: Container) -> None:
        """At stop: CNI DEL for every endpoint (with its ADD result), drop the namespace."""
        self._release_held(container.id)
        pending = self._pending.pop(container.id, None)
        if pending is not None:
            pending.wait()  # an ADD still running must finish before its DEL
        path = self.netns_path(container.id)
        errors = []
        for endpoint in reversed(self.store.endpoints(container_id=container.id)):
            network = self.store.find(endpoint.network)
            if network is not None:
                request = cni.CniRequest(
                    container.id,
                    str(path),
                    endpoint.interface,
                    {},
                    {"portMappings": [m.to_cni() for m in endpoint.ports]},
                )
                errors += cni.delete(
                    self.conflist(network, endpoint.plugins), request, endpoint.cni_result
                )
            self.store.remove_endpoint(container.id, endpoint.network)
        if path.exists():
            netns.remove(path)
        self._refresh_peers(container.id)
        if errors:
            raise CaisError("; ".join(errors))

    def connect(
        self,
        container: Container,
        network_name: str,
        *,
        aliases: tuple[str, ...] = (),
        ip: str = "",
    ) -> None:
        network = self.resolve(network_name)
        if container.config.network in ("host", "none") or container.config.network.startswith(
            "container:"
        ):
            raise ConflictError(
                f"container cannot be connected to network {network.name}: it "
                f"uses network mode {container.config.network}"
            )
        current = [n for n, _, _ in self.store.attachments(container.id)]
        if network.name in current:
            raise ConflictError(
                f"endpoint with name {container.name} already exists in network {network.name}"
            )
        self.store.attach(container.id, network.name, aliases=aliases, ip=ip)
        if container.state.status in ("running", "paused"):
            try:
                self._join(
                    container,
                    network,
                    self.netns_path(container.id),
                    f"eth{len(current)}",
                    aliases=aliases,
                    ip=ip,
                    mappings=[],
                )
            except BaseException:
                self.store.detach(container.id, network.name)
                raise
            self._refresh_peers(container.id)

    def disconnect(self, container: Container, network_name: str) -> None:
        network = self.resolve(network_name)
        if network.name not in [n for n, _, _ in self.store.attachments(container.id)]:
            raise ConflictError(
                f"container {container.id[:12]} is not connected to network {network.name}"
            )
        for endpoint in self.store.endpoints(container_id=container.id, network=network.name):
            request = cni.CniRequest(
                container.id,
                str(self.netns_path(container.id)),
                endpoint.interface,
                {},
                {"portMappings": [m.to_cni() for m in endpoint.ports]},
            )
            cni.delete(self.conflist(network, endpoint.plugins), request, endpoint.cni_result)
            self.store.remove_endpoint(container.id, network.name)
        self.store.detach(container.id, network.name)
        self._refresh_peers(container.id)

    # names

    def hosts_lines(self, container: Container) -> str:
        """/etc/hosts entries: the container's own addresses, then its peers'."""
        lines = []
        own = self.store.endpoints(container_id=container.id)
        for endpoint in own:
            names = [container.config.hostname, container.name, *endpoint.aliases]
            lines.append(f"{endpoint.ip}\t{' '.join(dict.fromkeys(n for n in names if n))}")
        for endpoint in own:
            network = self.store.find(endpoint.network)
            if network is None or not network.dns:
                continue
            for peer in self.store.endpoints(network=endpoint.network):
                if peer.container_id == container.id:
                    continue
                other = self.containers.find(peer.container_id)
                if other is None:
                    continue
                names = [other.name, *peer.aliases, other.id[:12]]
                lines.append(f"{peer.ip}\t{' '.join(dict.fromkeys(names))}")
        return "\n".join(lines)

    def _refresh_peers(self, container_id: str) -> None:
        """Rewrite, in place, the hosts files of containers that share a network with it."""
        networks = {n for n, _, _ in self.store.attachments(container_id)}
        peers = {
            ep.container_id for name in networks for ep in self.store.endpoints(network=name)
        } - {container_id}
        for peer_id in peers:
            peer = self.containers.find(peer_id)
            if peer is None:
                continue
            path = self.hosts_path(peer_id)
            if not path.exists():
                continue
            base = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
            text = (
                "\n".join(
                    [
                        *base,
                        self.hosts_lines(peer),
                        *(
                            f"{ip}\t{host}"
                            for host, _, ip in (e.partition(":") for e in peer.config.extra_hosts)
                        ),
                    ]
                )
                + "\n"
            )
            # in place: the file is bind-mounted, a rename would not reach the container
            with open(path, "r+b") as fh:
                fh.seek(0)
                fh.write(text.encode())
                fh.truncate()

    def ports_of(self, container_id: str) -> list[PortMapping]:
        return [p for ep in self.store.endpoints(container_id=container_id) for p in ep.ports]

    def network_of(self, name: str) -> Network | None:
        try:
            return self.resolve(name)
        except NetworkNotFoundError:
            return None


class _Background:
    """A function running in a thread; :meth:`wait` returns the exception it raised."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:
            self._error = exc

    def wait(self) -> BaseException | None:
        self._thread.join()
        return self._error


def _reclaim_bridge(bridge: str) -> None:
    """A bridge of this name left by an earlier incarnation of this root (deleted without
    ``cais system reset``) would keep its old address: remove it and its rules first."""
    probe = subprocess.run(["ip", "link", "show", bridge], capture_output=True, check=False)
    if probe.returncode == 0:
        for internal in (False, True):
            firewall.release(bridge, internal=internal)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def _address(result: dict[str, Any], ifname: str) -> tuple[str, int, str, str]:
    interfaces = result.get("interfaces") or []
    index = next((i for i, x in enumerate(interfaces) if x.get("name") == ifname), None)
    mac = interfaces[index].get("mac", "") if index is not None else ""
    for ip in result.get("ips") or []:
        if index is None or ip.get("interface") == index:
            iface = ipaddress.ip_interface(ip["address"])
            return str(iface.ip), iface.network.prefixlen, mac, str(ip.get("gateway", ""))
    raise CaisError(f"CNI gave no address for {ifname}")
