"""Networks as a Docker user sees them: names, published ports, isolation, clean-up."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cais.engine import Engine
from helpers import Cli


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def wait_http(url_host: str, port: int, path: str = "/hostname", timeout: float = 10) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((url_host, port), timeout=2) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return data
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def peer() -> Iterator[str]:
    """A second 'machine': a network namespace joined to the host by a veth pair."""
    name = f"cais-peer-{secrets.token_hex(3)}"
    host_if, peer_if = f"cph{name[-6:]}", f"cpp{name[-6:]}"
    third = 100 + secrets.randbelow(100)
    sh("ip", "netns", "add", name)
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if)
    sh("ip", "link", "set", peer_if, "netns", name)
    sh("ip", "addr", "add", f"198.51.{third}.1/24", "dev", host_if)
    sh("ip", "link", "set", host_if, "up")
    sh("ip", "-n", name, "addr", "add", f"198.51.{third}.2/24", "dev", peer_if)
    sh("ip", "-n", name, "link", "set", peer_if, "up")
    sh("ip", "-n", name, "link", "set", "lo", "up")
    yield f"{name} 198.51.{third}.1"
    sh("ip", "link", "del", host_if, check=False)
    sh("ip", "netns", "del", name, check=False)


def test_names_aliases_and_late_joiners(ccli: Cli) -> None:
    ccli("network", "create", "appnet")
    ccli(
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "appnet",
        "--network-alias",
        "www",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    )
    ccli("run", "-d", "--name", "client", "--network", "appnet", "busybox", "sleep", "100")
    web_id = ccli("inspect", "-f", "{{.Id}}", "web").out.strip()
    for name in ("web", "www"):
        assert (
            ccli("exec", "client", "wget", "-qO-", f"http://{name}/hostname").out
            == f"{web_id[:12]}\n"
        )
    ccli("run", "-d", "--name", "late", "--network", "appnet", "busybox", "sleep", "100")
    hosts = ccli("exec", "web", "cat", "/etc/hosts").out
    assert re.search(r"\d+\.\d+\.\d+\.\d+\tlate ", hosts)  # the running peer sees the newcomer
    assert ccli("exec", "web", "ping", "-c", "1", "-W", "2", "late").code == 0
    ccli("rm", "-f", "late")
    assert "late" not in ccli("exec", "web", "cat", "/etc/hosts").out
    # the default bridge has no name resolution (as Docker's)
    ccli("run", "-d", "--name", "lonely", "busybox", "sleep", "100")
    assert ccli("exec", "lonely", "ping", "-c", "1", "-W", "1", "web", check=False).code != 0
    ccli("rm", "-f", "web", "client", "lonely")
    ccli("network", "rm", "appnet")


def test_networks_are_isolated_and_internal_has_no_way_out(ccli: Cli) -> None:
    ccli("network", "create", "net-a")
    ccli("network", "create", "net-b")
    ccli("network", "create", "--internal", "sealed")
    ccli(
        "run",
        "-d",
        "--name",
        "in-a",
        "--network",
        "net-a",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    )
    ip_a = ccli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "in-a").out.strip()
    ccli("run", "-d", "--name", "in-b", "--network", "net-b", "busybox", "sleep", "100")
    assert (
        ccli(
            "exec", "in-b", "timeout", "3", "wget", "-qO-", f"http://{ip_a}/hostname", check=False
        ).code
        != 0
    )
    ccli("run", "-d", "--name", "in-sealed", "--network", "sealed", "busybox", "sleep", "100")
    routes = ccli("exec", "in-sealed", "ip", "route").out
    assert "default" not in routes
    assert (
        ccli(
            "exec",
            "in-sealed",
            "timeout",
            "3",
            "wget",
            "-qO-",
            f"http://{ip_a}/hostname",
            check=False,
        ).code
        != 0
    )
    ccli("network", "connect", "--alias", "bee", "net-a", "in-b")
    assert ccli("exec", "in-b", "timeout", "5", "wget", "-qO-", f"http://{ip_a}/hostname").code == 0
    assert "bee" in ccli("exec", "in-a", "cat", "/etc/hosts").out
    ccli("network", "disconnect", "net-a", "in-b")
    assert (
        ccli(
            "exec", "in-b", "timeout", "3", "wget", "-qO-", f"http://{ip_a}/hostname", check=False
        ).code
        != 0
    )
    busy = ccli("network", "rm", "net-a", check=False)
    assert busy.code == 1 and "has active endpoints" in busy.err
    ccli("rm", "-f", "in-a", "in-b", "in-sealed")
    assert ccli("network", "prune", "-f").out.split()[2:] == ["net-a", "net-b", "sealed"]


@pytest.fixture(scope="module")
def udpecho(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static UDP echo server (busybox's nc has no UDP here), built with the host's gcc."""
    out = tmp_path_factory.mktemp("udpecho") / "udpecho"
    sh("gcc", "-static", "-O2", "-o", str(out), str(Path(__file__).parent / "udpecho.c"))
    return out


def udp_ask(address: str, port: int, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        for _ in range(20):
            udp.sendto(message, (address, port))
            try:
                return udp.recv(2048)
            except TimeoutError:
                continue
    return b""


def test_published_ports_tcp_and_udp(ccli: Cli, peer: str, udpecho: Path) -> None:
    netns_name, host_addr = peer.split()
    ccli(
        "run",
        "-d",
        "--name",
        "srv",
        "-p",
        "18080:80",
        "-p",
        "15353:5353/udp",
        "-v",
        f"{udpecho}:/udpecho:ro",
        "busybox",
        "sh",
        "-c",
        "httpd -p 80 -h /etc; /udpecho 5353",
    )
    cid = ccli("inspect", "-f", "{{.Id}}", "srv").out.strip()
    assert cid[:12].encode() in wait_http("127.0.0.1", 18080)
    assert udp_ask("127.0.0.1", 15353, b"hello-udp") == b"echo:hello-udp"
    # from "another machine", to one of the host's other addresses
    out = sh(
        "ip",
        "netns",
        "exec",
        netns_name,
        "python3",
        "-c",
        f"import socket; s=socket.create_connection(('{host_addr}', 18080), timeout=5); "
        "s.sendall(b'GET /hostname HTTP/1.0\\r\\n\\r\\n'); "
        "print(b''.join(iter(lambda: s.recv(4096), b'')).decode()); "
        "u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5); "
        f"u.sendto(b'from-peer', ('{host_addr}', 15353)); print(u.recv(100).decode())",
    )
    assert cid[:12] in out.stdout
    assert "echo:from-peer" in out.stdout
    assert "0.0.0.0:18080->80/tcp" in ccli("ps").out
    assert ccli("port", "srv").out.splitlines() == [
        "80/tcp -> 0.0.0.0:18080",
        "5353/udp -> 0.0.0.0:15353",
    ]
    assert ccli("port", "srv", "80").out == "0.0.0.0:18080\n"
    # the networking needs no cais process: kill the monitor, traffic still flows
    pid_file = ccli.settings.runroot / "monitor.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), 9)
    assert cid[:12].encode() in wait_http("127.0.0.1", 18080)
    # a host port already in use is refused, and nothing of the new container is left
    taken = ccli(
        "run", "-d", "--name", "clash", "-p", "18080:80", "busybox", "sleep", "9", check=False
    )
    assert taken.code != 0 and "address already in use" in taken.err
    ccli("rm", "-f", "srv", "clash")


def _unused_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _can_bind(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_published_ports_are_held_while_the_container_runs(ccli: Cli) -> None:
    tcp, udp = _unused_port(socket.SOCK_STREAM), _unused_port(socket.SOCK_DGRAM)
    ccli(
        "run",
        "-d",
        "--name",
        "holder",
        "-p",
        f"{tcp}:80",
        "-p",
        f"{udp}:81/udp",
        "busybox",
        "sleep",
        "60",
    )
    # no other program can take the ports (conmon keeps them, as with podman) ...
    assert not _can_bind(tcp, socket.SOCK_STREAM)
    assert not _can_bind(udp, socket.SOCK_DGRAM)
    # ... and the container's process does not inherit the host's sockets
    pid = ccli("inspect", "-f", "{{.State.Pid}}", "holder").out.strip()
    targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    assert not [t for t in targets if t.startswith("socket:")]
    ccli("rm", "-f", "holder")
    assert _can_bind(tcp, socket.SOCK_STREAM)
    assert _can_bind(udp, socket.SOCK_DGRAM)


def test_a_port_a_host_program_holds_is_refused_and_nothing_is_left(ccli: Cli) -> None:
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen(1)
        port = int(squatter.getsockname()[1])
        taken = ccli(
            "run", "-d", "--name", "late", "-p", f"{port}:80", "busybox", "sleep", "9", check=False
        )
        assert taken.code != 0
        assert f"0.0.0.0:{port}/tcp: address already in use" in taken.err
    netns_dir = ccli.settings.runroot / "netns"
    assert not (netns_dir.exists() and list(netns_dir.iterdir()))
    rules = sh("iptables-save").stdout
    assert f"--dport {port} " not in rules and f"dport {port}" not in rules
    assert ccli("inspect", "-f", "{{.State.Status}}", "late").out.strip() == "created"
    # the same container starts once the port is free again
    ccli("start", "late")
    assert ccli("port", "late", "80").out == f"0.0.0.0:{port}\n"
    ccli("rm", "-f", "late")


def test_random_ports_publish_all_and_options(ccli: Cli, tmp_path: Path) -> None:
    ccli("commit", "-c", "EXPOSE 80", ccli("create", "busybox", "true").out.strip(), "exposer:1")
    ccli(
        "run",
        "-d",
        "--name",
        "anyport",
        "-p",
        "80",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    )
    port = int(ccli("port", "anyport", "80").out.strip().rsplit(":", 1)[1])
    assert b"200 OK" in wait_http("127.0.0.1", port)
    ccli(
        "run",
        "-d",
        "--name",
        "allports",
        "-P",
        "exposer:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    )
    assert re.fullmatch(r"0\.0\.0\.0:\d+\n", ccli("port", "allports", "80/tcp").out)
    out = ccli(
        "run",
        "--rm",
        "--dns",
        "9.9.9.9",
        "--add-host",
        "db.local:10.1.2.3",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts; hostname",
    ).out
    assert "nameserver 9.9.9.9" in out and "10.1.2.3\tdb.local" in out
    assert out.strip().endswith("box")
    ccli("network", "create", "--subnet", "10.97.3.0/24", "fixed")
    ip = ccli(
        "run",
        "--rm",
        "--network",
        "fixed",
        "--ip",
        "10.97.3.77",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ).out
    assert "10.97.3.77/24" in ip
    ccli("rm", "-f", "anyport", "allports")
    ccli("network", "rm", "fixed")


def test_container_network_mode_shares_the_namespace(ccli: Cli) -> None:
    ccli("network", "create", "sharing")
    ccli("run", "-d", "--network", "sharing", "--name", "peerweb", "busybox", "sleep", "60")
    ccli(
        "run",
        "-d",
        "--network",
        "sharing",
        "--name",
        "main",
        "-h",
        "mainhost",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8081",
        "-h",
        "/etc",
    )
    sidecar = ccli(
        "run",
        "--rm",
        "--network",
        "container:main",
        "busybox",
        "wget",
        "-qO-",
        "http://127.0.0.1:8081/hostname",
    ).out
    assert sidecar == "mainhost\n"
    # Docker's rule: the joiner sees the owner's hostname, hosts and resolv.conf, so the
    # owner's network names resolve from the joiner too
    seen = ccli(
        "run",
        "--rm",
        "--network",
        "container:main",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/resolv.conf; ping -c1 -W2 peerweb >/dev/null && echo ok",
    ).out
    owner = ccli("exec", "main", "cat", "/etc/resolv.conf").out
    assert seen == f"mainhost\n{owner}ok\n"
    for flags, what in (
        (["-p", "80"], "port publishing"),
        (["-h", "x"], "hostname"),
        (["--dns", "9.9.9.9"], "dns"),
        (["--add-host", "a:1.2.3.4"], "custom host-to-IP mapping"),
    ):
        refused = ccli(
            "run", "--rm", "--network", "container:main", *flags, "busybox", "true", check=False
        )
        assert refused.code == 125 and f"conflicting options: {what}" in refused.err
    ip_main = ccli("exec", "main", "ip", "-4", "-o", "addr", "show", "eth0").out.split()[3]
    ip_side = ccli(
        "run",
        "--rm",
        "--network",
        "container:main",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ).out.split()[3]
    assert ip_main == ip_side
    stopped = ccli("run", "--rm", "--network", "container:nobody", "busybox", "true", check=False)
    assert stopped.code != 0
    ccli("rm", "-f", "main", "peerweb")
    ccli("network", "rm", "sharing")
    host = ccli("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").out
    assert "eth0" in host and len(host.splitlines()) > 2
    # ports mean nothing on the host's network: Docker warns and drops them
    ccli(
        "run",
        "-d",
        "--name",
        "onhost",
        "--network",
        "host",
        "-p",
        "8099:80",
        "busybox",
        "sleep",
        "30",
    )
    assert ccli("port", "onhost").out == ""
    ccli("rm", "-f", "onhost")
    warned = ccli("run", "--rm", "--network", "host", "-p", "8099:80", "busybox", "true")
    assert "Published ports are discarded when using host network mode" in warned.err
    alone = ccli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").out
    assert [line.split()[1] for line in alone.splitlines()] == ["lo:"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--subnet", "10.300.0.0/24", "bad1"], "invalid subnet"),
        (
            ["--subnet", "10.98.0.0/24", "--gateway", "10.99.0.1", "bad2"],
            "no matching subnet for gateway",
        ),
        (["--subnet", "10.98.0.0/24", "--gateway", "nonsense", "bad3"], "invalid gateway"),
        (["-d", "overlay", "bad4"], "driver 'overlay' is not available"),
        (["host"], "pre-defined network"),
    ],
)
def test_bad_network_input_changes_nothing(
    ccli: Cli, engine: Engine, args: list[str], needle: str
) -> None:
    def own_claims() -> dict[str, str]:
        """This test's subnet claims (other tests may claim beside it)."""
        path = Path("/run/cais-subnets.json")
        claims = json.loads(path.read_text()) if path.exists() else {}
        return {n: r for n, r in claims.items() if r == str(engine.settings.root)}

    before = [n.name for n in engine.networks.store.all()]
    claims = own_claims()
    result = ccli("network", "create", *args, check=False)
    assert result.code != 0 and needle in result.err
    assert [n.name for n in engine.networks.store.all()] == before
    assert own_claims() == claims


def test_overlapping_subnets_are_refused(ccli: Cli) -> None:
    ccli("network", "create", "--subnet", "10.96.5.0/24", "first")
    clash = ccli("network", "create", "--subnet", "10.96.5.128/25", "second", check=False)
    assert clash.code != 0 and "overlaps" in clash.err
    assert "second" not in ccli("network", "ls").out
    ccli("network", "rm", "first")


def _net_state(engine: Engine, ids: list[str]) -> dict[str, object]:
    """What this test's containers may leave on the host: firewall rules that name them, their
    network's subnet or bridge (other tests may run beside this one), veths on the bridge,
    namespaces under the run root."""
    network = engine.networks.default()
    prefix = network.subnet.rsplit(".", 1)[0] + "."
    marks = [network.bridge, prefix, *ids]
    rules = sorted(
        line
        for line in sh("iptables-save").stdout.splitlines()
        if not line.startswith("#") and any(m in line for m in marks)
    )
    veths = sorted(
        line.split(":")[1].strip().split("@")[0]
        for line in sh("ip", "-o", "link").stdout.splitlines()
        if f"master {network.bridge}" in line
    )
    root = engine.settings.runroot
    netns = sorted(os.listdir(root / "netns")) if (root / "netns").exists() else []
    return {"rules": rules, "veths": veths, "netns": netns}


def test_a_hundred_cycles_with_published_ports_leak_nothing(engine: Engine, busybox: str) -> None:
    from cais.runtime.attach import run_attached
    from cais.runtime.configure import RunOptions, configure

    image = engine.image_store.resolve("busybox")
    service = engine.containers
    warm = service.create(
        configure(
            image, "busybox", RunOptions(command=("true",), publish=("18099:80",), auto_remove=True)
        )
    )
    run_attached(service, warm, stdin=False, sig_proxy=False)
    live = service.create(
        configure(image, "busybox", RunOptions(command=("sleep", "60"), publish=("18098:80",)))
    )
    ids = [warm.id, live.id]
    before = _net_state(engine, ids)
    service.start(live.id)
    during = _net_state(engine, ids)  # the probe sees a live container's rules and veth
    assert len(during["rules"]) > len(before["rules"])  # type: ignore[arg-type]
    assert len(during["veths"]) == len(before["veths"]) + 1  # type: ignore[arg-type]
    service.remove(live.id, force=True)
    assert _net_state(engine, ids) == before
    for i in range(100):
        opts = RunOptions(
            command=("true",), publish=(f"{18100 + i % 7}:80", "9000/udp"), auto_remove=True
        )
        container = service.create(configure(image, "busybox", opts))
        ids.append(container.id)
        run_attached(service, container, stdin=False, sig_proxy=False)
    after = _net_state(engine, ids)
    assert after == before
    leases = engine.networks.ipam_dir / "bridge"
    assert [p.name for p in leases.iterdir() if p.name[0].isdigit()] == []


def test_host_and_none_are_listed_and_inspected_as_docker_does(ccli: Cli) -> None:
    ccli("network", "create", "zeta")
    rows = [line.split() for line in ccli("network", "ls").out.splitlines()[1:]]
    assert [(r[1], r[2]) for r in rows] == [
        ("bridge", "bridge"),
        ("host", "host"),
        ("none", "null"),
        ("zeta", "bridge"),
    ]
    assert ccli("network", "ls", "-f", "type=custom", "--format", "{{.Name}}").out == "zeta\n"
    builtin = ccli("network", "ls", "-f", "type=builtin", "--format", "{{.Name}}").out
    assert builtin.split() == ["bridge", "host", "none"]
    ccli("run", "-d", "--name", "isolated", "--network", "none", "busybox", "sleep", "60")
    (doc,) = json.loads(ccli("network", "inspect", "none").out)
    assert doc["Driver"] == "null" and doc["IPAM"]["Config"] == []
    assert [c["Name"] for c in doc["Containers"].values()] == ["isolated"]
    host_id = json.loads(ccli("network", "inspect", "host").out)[0]["Id"]
    assert ccli("network", "inspect", host_id[:12], "--format", "{{.Driver}}").out == "host\n"
    assert "pre-defined" in ccli("network", "rm", "host", check=False).err
    assert "pre-defined" in ccli("network", "create", "none", check=False).err
    ccli("rm", "-f", "isolated")
    ccli("network", "rm", "zeta")
