"""Docker-shaped views of containers: ``ps`` rows and ``inspect`` documents."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cais.cli.output import ago, human_duration

if TYPE_CHECKING:
    from cais.engine import Engine
    from cais.runtime.model import Container


def iso(epoch: float) -> str:
    if not epoch:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_text(c: Container, now: float | None = None) -> str:
    now = now or time.time()
    s = c.state
    if s.status in ("running", "paused"):
        text = f"Up {human_duration(now - s.started_at)}"
        if s.status == "paused":
            return text + " (Paused)"
        if s.health is not None:
            text += f" ({'health: starting' if s.health.status == 'starting' else s.health.status})"
        return text
    if s.status == "restarting":
        return f"Restarting ({s.exit_code}) {ago(s.finished_at, now)}"
    if s.status == "exited":
        return f"Exited ({s.exit_code}) {ago(s.finished_at, now)}"
    if s.status == "created":
        return "Created"
    return s.status.capitalize()


def command_text(c: Container, *, no_trunc: bool) -> str:
    text = " ".join(c.config.args)
    if not no_trunc and len(text) > 20:
        text = text[:19] + "…"
    return f'"{text}"'


def ps_row(c: Container, *, no_trunc: bool, ports: str = "") -> dict[str, Any]:
    image = c.config.image
    return {
        "Command": command_text(c, no_trunc=no_trunc),
        "CreatedAt": datetime.fromtimestamp(c.created, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "ID": c.id if no_trunc else c.short_id,
        "Image": image,
        "Labels": ",".join(f"{k}={v}" for k, v in c.config.labels.items()),
        "Mounts": ",".join(m.source or m.target for m in c.config.mounts),
        "Names": c.name,
        "Networks": c.config.network,
        "Ports": ports,
        "RunningFor": ago(c.created),
        "State": c.state.status,
        "Status": status_text(c),
    }


def sizes(engine: Engine, c: Container) -> tuple[int, int]:
    """Docker's SizeRw (the container's own layer) and SizeRootFs (that plus its image)."""
    from cais.cli.system_df import container_size
    from cais.errors import CaisError
    from cais.oci.digest import Digest

    rw = container_size(engine, c)
    try:
        image = engine.image_store.get(Digest.parse(c.config.image_id)).size
    except (CaisError, ValueError):
        image = 0  # the image was removed (``rmi -f``) after the container was made
    return rw, rw + image


def size_text(engine: Engine, c: Container) -> str:
    """``ps -s``: ``2B (virtual 2.14MB)``."""
    from cais.cli.output import human_size

    rw, root = sizes(engine, c)
    return f"{human_size(rw)} (virtual {human_size(root)})"


def inspect_document(engine: Engine, c: Container) -> dict[str, Any]:
    cfg = c.config
    s = c.state
    service = engine.containers
    health = None
    if s.health is not None:
        health = {
            "Status": s.health.status,
            "FailingStreak": s.health.failing_streak,
            "Log": [
                {"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output}
                for r in s.health.log
            ],
        }
    mounts = []
    for m in cfg.mounts:
        mounts.append(
            {
                "Type": m.type,
                "Source": m.source,
                "Destination": m.target,
                "RW": not m.readonly,
                "Name": m.source if m.type == "volume" else "",
            }
        )
    res = cfg.resources
    doc: dict[str, Any] = {
        "Id": c.id,
        "Created": iso(c.created),
        "Path": cfg.args[0],
        "Args": list(cfg.args[1:]),
        "State": {
            "Status": s.status,
            "Running": s.status in ("running", "paused"),
            "Paused": s.status == "paused",
            "Restarting": s.status == "restarting",
            "OOMKilled": s.oom_killed,
            "Dead": s.status == "dead",
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": iso(s.started_at),
            "FinishedAt": iso(s.finished_at),
            **({"Health": health} if health else {}),
        },
        "Image": cfg.image_id,
        "ResolvConfPath": str(service.state_dir(c.id) / "resolv.conf"),
        "HostnamePath": str(service.state_dir(c.id) / "hostname"),
        "HostsPath": str(service.state_dir(c.id) / "hosts"),
        "LogPath": str(service.log_path(c.id)),
        "Name": "/" + c.name,
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": [
                f"{m.source}:{m.target}{':ro' if m.readonly else ''}"
                for m in cfg.mounts
                if m.type == "bind"
            ],
            "NetworkMode": cfg.network,
            "RestartPolicy": {
                "Name": cfg.restart.name,
                "MaximumRetryCount": cfg.restart.max_retries,
            },
            "AutoRemove": cfg.auto_remove,
            "CapAdd": list(cfg.cap_add) or None,
            "CapDrop": list(cfg.cap_drop) or None,
            "Privileged": cfg.privileged,
            "ReadonlyRootfs": cfg.read_only,
            "SecurityOpt": ([f"seccomp={cfg.seccomp}"] if cfg.seccomp else [])
            + (["no-new-privileges"] if cfg.no_new_privileges else [])
            or None,
            "Memory": res.memory or 0,
            "MemorySwap": res.memory_swap or 0,
            "MemoryReservation": res.memory_reservation or 0,
            "NanoCpus": int(res.cpu_quota * 1e9 / (res.cpu_period or 100_000))
            if res.cpu_quota
            else 0,
            "CpuShares": res.cpu_shares or 0,
            "CpusetCpus": res.cpuset_cpus or "",
            "PidsLimit": res.pids_limit,
            "Init": cfg.init,
            "Runtime": cfg.runtime,
            "Dns": list(cfg.dns),
            "ExtraHosts": list(cfg.extra_hosts) or None,
            "PortBindings": {p: [] for p in c.config.publish} or {},
        },
        "GraphDriver": {"Name": "overlay", "Data": {"MergedDir": str(service.rootfs(c.id))}},
        "Mounts": mounts,
        "Config": {
            "Hostname": cfg.hostname,
            "Domainname": cfg.domainname,
            "User": cfg.user,
            "Tty": cfg.tty,
            "OpenStdin": cfg.stdin_open,
            "Env": list(cfg.env),
            "Cmd": list(cfg.cmd) if cfg.cmd else None,
            "Image": cfg.image,
            "Volumes": {m.target: {} for m in cfg.mounts if m.type == "volume"} or None,
            "WorkingDir": cfg.working_dir,
            "Entrypoint": list(cfg.entrypoint) if cfg.entrypoint else None,
            "Labels": dict(cfg.labels),
            "StopSignal": cfg.stop_signal,
            "StopTimeout": cfg.stop_timeout,
            "ExposedPorts": {p: {} for p in cfg.exposed_ports} or None,
            **(
                {
                    "Healthcheck": {
                        "Test": list(cfg.healthcheck.test),
                        "Interval": int(cfg.healthcheck.interval * 1e9),
                        "Timeout": int(cfg.healthcheck.timeout * 1e9),
                        "StartPeriod": int(cfg.healthcheck.start_period * 1e9),
                        "Retries": cfg.healthcheck.retries,
                    }
                }
                if cfg.healthcheck
                else {}
            ),
        },
        "NetworkSettings": network_settings(engine, c),
    }
    return doc


def network_settings(engine: Engine, c: Container) -> dict[str, Any]:
    networks: dict[str, Any] = {}
    ports: dict[str, Any] = {}
    if c.state.status in ("running", "paused") and c.config.network not in ("host",):
        for ep in engine.networks.store.endpoints(container_id=c.id):
            networks[ep.network] = {
                "IPAddress": ep.ip,
                "IPPrefixLen": ep.prefix,
                "Gateway": ep.gateway,
                "MacAddress": ep.mac,
                "Aliases": list(ep.aliases) or None,
            }
            for m in ep.ports:
                ports.setdefault(f"{m.container_port}/{m.protocol}", []).append(
                    {"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)}
                )
    first: dict[str, Any] = next(iter(networks.values()), {})
    return {
        "Networks": networks,
        "Ports": ports,
        "IPAddress": first.get("IPAddress", ""),
        "Gateway": first.get("Gateway", ""),
        "MacAddress": first.get("MacAddress", ""),
        "SandboxKey": str(engine.networks.netns_path(c.id)) if c.state.status == "running" else "",
    }
