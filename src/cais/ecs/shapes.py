"""The domain's values in ECS's response shapes (member names of botocore's model)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from cais.ecs.model import (
    Cluster,
    ClusterCounts,
    Container,
    ContainerInstance,
    Resources,
    Task,
    TaskDefinition,
)

Shape = dict[str, Any]


def tag_list(tags: Mapping[str, str]) -> list[Shape]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def cluster(
    value: Cluster,
    counts: ClusterCounts,
    *,
    include: Collection[str] = (),
    tags: Mapping[str, str] | None = None,
    settings: bool = False,
) -> Shape:
    out: Shape = {
        "clusterArn": value.arn,
        "clusterName": value.name,
        "status": value.status.value,
        "registeredContainerInstancesCount": counts.registered_instances,
        "runningTasksCount": counts.running_tasks,
        "pendingTasksCount": counts.pending_tasks,
        "activeServicesCount": counts.active_services,
        "statistics": [],
        "tags": [],
        "capacityProviders": [],
        "defaultCapacityProviderStrategy": [],
    }
    if settings or "SETTINGS" in include:
        out["settings"] = [{"name": k, "value": v} for k, v in value.settings]
    if ("CONFIGURATIONS" in include or settings) and value.configuration:
        out["configuration"] = dict(value.configuration)
    if "STATISTICS" in include:
        out["statistics"] = [
            {"name": name, "value": str(number)}
            for name, number in (
                ("runningEC2TasksCount", counts.running_ec2),
                ("runningFargateTasksCount", 0),
                ("runningExternalTasksCount", counts.running_external),
                ("pendingEC2TasksCount", counts.pending_ec2),
                ("pendingFargateTasksCount", 0),
                ("pendingExternalTasksCount", counts.pending_external),
                ("activeEC2ServiceCount", 0),
                ("activeFargateServiceCount", 0),
                ("drainingEC2ServiceCount", 0),
                ("drainingFargateServiceCount", 0),
            )
        ]
    if "ATTACHMENTS" in include:
        out["attachments"] = []
    if tags is not None and ("TAGS" in include or settings):
        out["tags"] = tag_list(tags)
    return out


def task_definition(value: TaskDefinition) -> Shape:
    out: Shape = {
        "taskDefinitionArn": value.arn,
        **dict(value.body),
        "revision": value.revision,
        "status": value.status.value,
        "registeredAt": value.registered_at,
        "registeredBy": value.registered_by,
    }
    if value.deregistered_at is not None:
        out["deregisteredAt"] = value.deregistered_at
    if value.delete_requested_at is not None:
        out["deleteRequestedAt"] = value.delete_requested_at
    return out


def resources(value: Resources) -> list[Shape]:
    """CPU, MEMORY, PORTS and PORTS_UDP, shaped as ECS reports them."""

    def number(name: str, amount: int) -> Shape:
        return {
            "name": name,
            "type": "INTEGER",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": amount,
        }

    def ports(name: str, taken: frozenset[int]) -> Shape:
        return {
            "name": name,
            "type": "STRINGSET",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
            "stringSetValue": [str(p) for p in sorted(taken)],
        }

    return [
        number("CPU", value.cpu),
        number("MEMORY", value.memory),
        ports("PORTS", value.tcp_ports),
        ports("PORTS_UDP", value.udp_ports),
    ]


def container_instance(
    value: ContainerInstance, *, connected: bool, tags: Mapping[str, str] | None = None
) -> Shape:
    out: Shape = {
        "containerInstanceArn": value.arn,
        "ec2InstanceId": value.ec2_instance_id,
        "version": value.version,
        "versionInfo": {
            "agentVersion": value.agent_version,
            "agentHash": value.agent_hash,
            "dockerVersion": value.docker_version,
        },
        "remainingResources": resources(value.remaining),
        "registeredResources": resources(value.registered),
        "status": value.status,
        "agentConnected": connected,
        "runningTasksCount": value.running_tasks_count,
        "pendingTasksCount": value.pending_tasks_count,
        "attributes": [_attribute(a.name, a.value) for a in value.attributes],
        "registeredAt": value.registered_at,
        "attachments": [],
        "tags": tag_list(tags or {}),
    }
    if value.status_reason:
        out["statusReason"] = value.status_reason
    return out


def _attribute(name: str, value: str | None) -> Shape:
    out: Shape = {"name": name}
    if value is not None:
        out["value"] = value
    return out


def attribute(name: str, value: str | None, *, target: str | None = None) -> Shape:
    out = _attribute(name, value)
    if target is not None:
        out["targetType"] = "container-instance"
        out["targetId"] = target
    return out


def container(value: Container, task: Task, *, awsvpc: bool) -> Shape:
    out: Shape = {
        "containerArn": value.arn,
        "taskArn": task.arn,
        "name": value.name,
        "image": value.image,
        "lastStatus": value.last_status,
        "networkBindings": [
            {
                "bindIP": b.bind_ip,
                "containerPort": b.container_port,
                "hostPort": b.host_port,
                "protocol": b.protocol,
            }
            for b in value.network_bindings
        ],
        "networkInterfaces": [],
        "healthStatus": value.health_status,
        "cpu": str(value.cpu),
    }
    if awsvpc and task.private_ipv4:
        out["networkInterfaces"] = [
            {"attachmentId": task.id, "privateIpv4Address": task.private_ipv4}
        ]
    for member, present in (
        ("imageDigest", value.image_digest),
        ("runtimeId", value.runtime_id),
        ("reason", value.reason),
    ):
        if present:
            out[member] = present
    if value.exit_code is not None:
        out["exitCode"] = value.exit_code
    if value.memory is not None:
        out["memory"] = str(value.memory)
    if value.memory_reservation is not None:
        out["memoryReservation"] = str(value.memory_reservation)
    return out


def task(
    value: Task, *, network_mode: str = "bridge", tags: Mapping[str, str] | None = None
) -> Shape:
    overrides = dict(value.overrides)
    overrides.setdefault("containerOverrides", [])
    overrides.setdefault("inferenceAcceleratorOverrides", [])
    out: Shape = {
        "taskArn": value.arn,
        "clusterArn": value.cluster_arn,
        "taskDefinitionArn": value.task_definition_arn,
        "containerInstanceArn": value.container_instance_arn,
        "overrides": overrides,
        "lastStatus": value.last_status,
        "desiredStatus": value.desired_status,
        "containers": [
            container(c, value, awsvpc=network_mode == "awsvpc") for c in value.containers
        ],
        "version": value.version,
        "connectivity": "CONNECTED",
        "createdAt": value.created_at,
        "group": value.group,
        "launchType": value.launch_type,
        "healthStatus": value.health_status,
        "attachments": [],
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
        "enableExecuteCommand": False,
        "tags": tag_list(tags or {}),
    }
    if value.availability_zone:
        out["availabilityZone"] = value.availability_zone
    for member, present in (
        ("startedBy", value.started_by),
        ("cpu", value.cpu),
        ("memory", value.memory),
        ("stopCode", value.stop_code),
        ("stoppedReason", value.stopped_reason),
        ("connectivityAt", value.connectivity_at),
        ("pullStartedAt", value.pull_started_at),
        ("pullStoppedAt", value.pull_stopped_at),
        ("startedAt", value.started_at),
        ("stoppingAt", value.stopping_at),
        ("executionStoppedAt", value.execution_stopped_at),
        ("stoppedAt", value.stopped_at),
    ):
        if present:
            out[member] = present
    return out
