"""Rows of the ECS tables ⇄ the domain's values."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from cais.ecs.model import (
    Attribute,
    Cluster,
    ClusterStatus,
    Container,
    ContainerInstance,
    NetworkBinding,
    Resources,
    Scope,
    Task,
    TaskDefinition,
    TaskDefinitionStatus,
)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def ports_text(ports: Iterable[int]) -> str:
    return dumps(sorted(ports))


_NO_PORTS: frozenset[int] = frozenset()


def ports_of(text: str) -> frozenset[int]:
    if text == "[]":  # most tasks take no fixed port: skip the parse
        return _NO_PORTS
    return frozenset(int(p) for p in json.loads(text))


def scope_of(row: sqlite3.Row) -> Scope:
    return Scope(row["account"], row["region"])


def cluster(row: sqlite3.Row) -> Cluster:
    return Cluster(
        arn=row["arn"],
        name=row["name"],
        scope=scope_of(row),
        status=ClusterStatus(row["status"]),
        created_at=row["created_at"],
        settings=tuple((k, v) for k, v in json.loads(row["settings"])),
        configuration=json.loads(row["configuration"]) if row["configuration"] else None,
    )


def task_definition(row: sqlite3.Row) -> TaskDefinition:
    return TaskDefinition(
        arn=row["arn"],
        family=row["family"],
        revision=row["revision"],
        scope=scope_of(row),
        status=TaskDefinitionStatus(row["status"]),
        registered_at=row["registered_at"],
        registered_by=row["registered_by"],
        body=json.loads(row["body"]),
        deregistered_at=row["deregistered_at"],
        delete_requested_at=row["delete_requested_at"],
    )


def instance(
    row: sqlite3.Row,
    attributes: Sequence[Attribute],
    reserved: Resources,
    running: int,
    pending: int,
) -> ContainerInstance:
    return ContainerInstance(
        arn=row["arn"],
        id=row["id"],
        cluster_arn=row["cluster_arn"],
        scope=scope_of(row),
        ec2_instance_id=row["ec2_instance_id"],
        hostname=row["hostname"],
        status=row["status"],
        status_reason=row["status_reason"],
        registered_at=row["registered_at"],
        last_seen=row["last_seen"],
        has_agent=bool(row["has_agent"]),
        registered=Resources(
            cpu=row["cpu"],
            memory=row["memory"],
            tcp_ports=ports_of(row["tcp_ports"]),
            udp_ports=ports_of(row["udp_ports"]),
        ),
        reserved=reserved,
        attributes=tuple(attributes),
        agent_version=row["agent_version"],
        agent_hash=row["agent_hash"],
        docker_version=row["docker_version"],
        version=row["version"],
        running_tasks_count=running,
        pending_tasks_count=pending,
        session=row["session"],
    )


def instance_values(i: ContainerInstance) -> tuple[Any, ...]:
    return (
        i.arn,
        i.id,
        i.cluster_arn,
        i.scope.account,
        i.scope.region,
        i.ec2_instance_id,
        i.hostname,
        i.status,
        i.status_reason,
        i.registered_at,
        i.last_seen,
        int(i.has_agent),
        i.registered.cpu,
        i.registered.memory,
        ports_text(i.registered.tcp_ports),
        ports_text(i.registered.udp_ports),
        i.agent_version,
        i.agent_hash,
        i.docker_version,
        i.version,
        i.session,
    )


INSTANCE_COLUMNS = (
    "arn, id, cluster_arn, account, region, ec2_instance_id, hostname, status, status_reason,"
    " registered_at, last_seen, has_agent, cpu, memory, tcp_ports, udp_ports, agent_version,"
    " agent_hash, docker_version, version, session"
)

TASK_COLUMNS = (
    "arn, id, cluster_arn, account, region, task_definition_arn, family, revision,"
    " instance_arn, group_name, started_by, launch_type, desired_status, last_status,"
    " health_status, created_at, pull_started_at, pull_stopped_at, started_at, stopping_at,"
    " execution_stopped_at, stopped_at, connectivity_at, stop_code, stopped_reason, overrides,"
    " cpu, memory, reserved_cpu, reserved_memory, reserved_tcp, reserved_udp, private_ipv4,"
    " availability_zone, access_key_id, version"
)


def task_values(t: Task) -> tuple[Any, ...]:
    return (
        t.arn,
        t.id,
        t.cluster_arn,
        t.scope.account,
        t.scope.region,
        t.task_definition_arn,
        t.family,
        t.revision,
        t.container_instance_arn,
        t.group,
        t.started_by,
        t.launch_type,
        t.desired_status,
        t.last_status,
        t.health_status,
        t.created_at,
        t.pull_started_at,
        t.pull_stopped_at,
        t.started_at,
        t.stopping_at,
        t.execution_stopped_at,
        t.stopped_at,
        t.connectivity_at,
        t.stop_code,
        t.stopped_reason,
        dumps(dict(t.overrides)),
        t.cpu,
        t.memory,
        t.reserved.cpu,
        t.reserved.memory,
        ports_text(t.reserved.tcp_ports),
        ports_text(t.reserved.udp_ports),
        t.private_ipv4,
        t.availability_zone,
        t.access_key_id,
        t.version,
    )


CONTAINER_COLUMNS = (
    "task_arn, ordinal, name, arn, image, essential, has_health_check, last_status,"
    " image_digest, runtime_id, exit_code, reason, health_status, network_bindings, cpu,"
    " memory, memory_reservation"
)


def container_values(task_arn: str, ordinal: int, c: Container) -> tuple[Any, ...]:
    return (
        task_arn,
        ordinal,
        c.name,
        c.arn,
        c.image,
        int(c.essential),
        int(c.has_health_check),
        c.last_status,
        c.image_digest,
        c.runtime_id,
        c.exit_code,
        c.reason,
        c.health_status,
        dumps([[b.container_port, b.host_port, b.protocol, b.bind_ip] for b in c.network_bindings]),
        c.cpu,
        c.memory,
        c.memory_reservation,
    )


def container(row: sqlite3.Row) -> Container:
    return Container(
        name=row["name"],
        arn=row["arn"],
        image=row["image"],
        essential=bool(row["essential"]),
        has_health_check=bool(row["has_health_check"]),
        last_status=row["last_status"],
        image_digest=row["image_digest"],
        runtime_id=row["runtime_id"],
        exit_code=row["exit_code"],
        reason=row["reason"],
        health_status=row["health_status"],
        network_bindings=tuple(
            NetworkBinding(int(c), int(h), str(p), str(ip))
            for c, h, p, ip in (
                json.loads(row["network_bindings"]) if row["network_bindings"] != "[]" else ()
            )
        ),
        cpu=row["cpu"],
        memory=row["memory"],
        memory_reservation=row["memory_reservation"],
    )


def task(row: sqlite3.Row, containers: Sequence[Container]) -> Task:
    return Task(
        arn=row["arn"],
        id=row["id"],
        cluster_arn=row["cluster_arn"],
        scope=scope_of(row),
        task_definition_arn=row["task_definition_arn"],
        family=row["family"],
        revision=row["revision"],
        container_instance_arn=row["instance_arn"],
        group=row["group_name"],
        started_by=row["started_by"],
        launch_type=row["launch_type"],
        desired_status=row["desired_status"],
        last_status=row["last_status"],
        health_status=row["health_status"],
        created_at=row["created_at"],
        pull_started_at=row["pull_started_at"],
        pull_stopped_at=row["pull_stopped_at"],
        started_at=row["started_at"],
        stopping_at=row["stopping_at"],
        execution_stopped_at=row["execution_stopped_at"],
        stopped_at=row["stopped_at"],
        connectivity_at=row["connectivity_at"],
        stop_code=row["stop_code"],
        stopped_reason=row["stopped_reason"],
        overrides=json.loads(row["overrides"]) if row["overrides"] != "{}" else {},
        cpu=row["cpu"],
        memory=row["memory"],
        reserved=Resources(
            cpu=row["reserved_cpu"],
            memory=row["reserved_memory"],
            tcp_ports=ports_of(row["reserved_tcp"]),
            udp_ports=ports_of(row["reserved_udp"]),
        ),
        containers=tuple(containers),
        private_ipv4=row["private_ipv4"],
        availability_zone=row["availability_zone"],
        access_key_id=row["access_key_id"],
        version=row["version"],
    )


def placeholders(count: int) -> str:
    return ",".join("?" * count)


def upsert(table: str, columns: str, key: str) -> str:
    """``INSERT … ON CONFLICT (key) DO UPDATE``: unlike ``INSERT OR REPLACE`` it keeps the
    row, so rows that reference it (attributes, containers) are not cascaded away."""
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != key)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders(len(names))})"
        f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
