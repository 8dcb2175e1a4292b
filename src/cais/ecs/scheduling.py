"""The control plane's side of the scheduler: snapshots in, tasks out.

The scheduler (:mod:`cais.ecs.scheduler`) is pure; this module turns stored instances and
tasks into its :class:`ClusterState`, a task definition and RunTask's parameters into its
:class:`TaskRequest`, and a :class:`Plan`'s placements into new :class:`Task` records.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cais.ecs import scheduler as sched
from cais.ecs import taskdef
from cais.ecs.model import (
    Cluster,
    Container,
    ContainerInstance,
    LiveTask,
    Resources,
    Task,
    TaskDefinition,
)

AVAILABILITY_ZONE = "ecs.availability-zone"


def snapshot(
    cluster_arn: str,
    instances: Sequence[ContainerInstance],
    tasks: Sequence[LiveTask],
    *,
    now: float,
    window: float,
) -> sched.ClusterState:
    """The scheduler's view of a cluster: instances by registration time, live tasks."""
    placed = []
    for instance in sorted(instances, key=lambda i: (i.registered_at, i.arn)):
        registered = instance.registered
        remaining = instance.remaining
        placed.append(
            sched.ContainerInstance(
                arn=instance.arn,
                ec2_instance_id=instance.ec2_instance_id,
                registered=sched.Resources(
                    cpu=registered.cpu,
                    memory=registered.memory,
                    tcp_ports=registered.tcp_ports,
                    udp_ports=registered.udp_ports,
                ),
                remaining=sched.Resources(
                    cpu=remaining.cpu,
                    memory=remaining.memory,
                    tcp_ports=remaining.tcp_ports,
                    udp_ports=remaining.udp_ports,
                ),
                registered_at=datetime.fromtimestamp(instance.registered_at, UTC),
                status=sched.InstanceStatus(instance.status),
                agent_connected=instance.connected(now, window),
                agent_version=instance.agent_version,
                attributes={a.name: a.value for a in instance.attributes},
            )
        )
    statuses = {s.value: s for s in sched.TaskStatus}
    live = [
        sched.PlacedTask(
            arn=t.arn,
            container_instance_arn=t.container_instance_arn,
            task_definition_arn=t.task_definition_arn,
            family=t.family,
            group=t.group,
            started_by=t.started_by,
            last_status=statuses[t.last_status],
            desired_status=statuses[t.desired_status],
        )
        for t in tasks
        if t.last_status != "STOPPED"
    ]
    return sched.ClusterState.of(placed, live, cluster_arn=cluster_arn)


def request_for(
    definition: TaskDefinition,
    *,
    count: int,
    group: str | None,
    started_by: str | None,
    overrides: Mapping[str, Any],
    launch_type: str,
    strategies: Sequence[Mapping[str, Any]] = (),
    constraints: Sequence[Mapping[str, Any]] = (),
    instances: Sequence[str] = (),
) -> sched.TaskRequest:
    """The scheduler's request for ``count`` tasks of a definition (overrides applied).

    The task definition's own memberOf constraints are added to the call's, as ECS does,
    and its ``requiresAttributes`` must all be on the instance (else ``ATTRIBUTE``).
    """
    cpu, memory = taskdef.reservation_of(definition.body, overrides)
    ports = tuple(
        sched.PortRequest(port, sched.TransportProtocol(protocol))
        for port, protocol in taskdef.fixed_host_ports(definition.body)
    )
    return sched.TaskRequest(
        task_definition_arn=definition.arn,
        family=definition.family,
        cpu=cpu,
        memory=memory,
        ports=ports,
        launch_type=sched.LaunchType(launch_type),
        count=count,
        group=group or "",
        started_by=started_by,
        placement_constraints=sched.constraints_from_api(
            [*constraints, *definition.body.get("placementConstraints", ())]
        ),
        placement_strategy=sched.strategies_from_api(strategies),
        container_instances=tuple(instances),
        required_attributes=tuple(
            sched.RequiredAttribute(a["name"], a.get("value"))
            for a in definition.body.get("requiresAttributes", ())
        ),
    )


def new_task(
    *,
    task_id: str,
    cluster: Cluster,
    definition: TaskDefinition,
    instance: ContainerInstance,
    request: sched.TaskRequest,
    overrides: Mapping[str, Any],
    now: float,
    access_key_id: str,
) -> Task:
    """A task placed on ``instance``: PROVISIONING, desired RUNNING, resources reserved."""
    scope = cluster.scope
    arn = scope.arn(f"task/{cluster.name}/{task_id}")
    containers = tuple(
        Container(
            name=c["name"],
            arn=scope.arn(f"container/{cluster.name}/{task_id}/{_container_id(task_id, i)}"),
            image=c["image"],
            essential=bool(c.get("essential", True)),
            has_health_check="healthCheck" in c,
            cpu=int(c.get("cpu") or 0),
            memory=c.get("memory"),
            memory_reservation=c.get("memoryReservation"),
        )
        for i, c in enumerate(taskdef.apply_container_overrides(definition.body, overrides))
    )
    cpu_text = overrides.get("cpu") or definition.body.get("cpu")
    memory_text = overrides.get("memory") or definition.body.get("memory")
    return Task(
        arn=arn,
        id=task_id,
        cluster_arn=cluster.arn,
        scope=scope,
        task_definition_arn=definition.arn,
        family=definition.family,
        revision=definition.revision,
        container_instance_arn=instance.arn,
        group=request.group,
        launch_type=request.launch_type.value,
        created_at=now,
        containers=containers,
        reserved=Resources(
            cpu=request.cpu,
            memory=request.memory,
            tcp_ports=request.tcp_ports,
            udp_ports=request.udp_ports,
        ),
        started_by=request.started_by,
        cpu=str(taskdef.parse_task_cpu(str(cpu_text))) if cpu_text is not None else None,
        memory=str(taskdef.parse_task_memory(str(memory_text)))
        if memory_text is not None
        else None,
        overrides=dict(overrides),
        availability_zone=instance.attribute(AVAILABILITY_ZONE) or "",
        access_key_id=access_key_id,
    )


def _container_id(task_id: str, index: int) -> str:
    """A stable ID per container, derived from its task's and its position."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ecs-task:{task_id}/{index}"))
