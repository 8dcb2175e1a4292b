"""RegisterTaskDefinition's rules: what a user sees for a good and a bad definition."""

from __future__ import annotations

from typing import Any

import pytest

from cais.aws.errors import AwsError
from cais.ecs import taskdef


def definition(*containers: dict[str, Any], **task: Any) -> dict[str, Any]:
    return {"family": "app", "containerDefinitions": list(containers), **task}


def container(name: str = "web", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "memory": 64, **fields}


def refused(params: dict[str, Any]) -> str:
    with pytest.raises(AwsError) as caught:
        taskdef.normalise(params)
    assert caught.value.type == "ClientException"
    return caught.value.message


def test_defaults_are_filled_in_as_ecs_shows_them() -> None:
    body = taskdef.normalise(definition(container(portMappings=[{"containerPort": 80}])))
    web = body["containerDefinitions"][0]
    assert body["networkMode"] == "bridge"
    assert body["volumes"] == [] and body["placementConstraints"] == []
    assert "EC2" in body["compatibilities"]
    assert web["cpu"] == 0 and web["essential"] is True
    assert web["environment"] == [] and web["mountPoints"] == [] and web["volumesFrom"] == []
    assert web["portMappings"] == [{"containerPort": 80, "protocol": "tcp"}]  # bridge: agent picks


@pytest.mark.parametrize("mode", ["host", "awsvpc"])
def test_host_and_awsvpc_modes_use_the_container_port_as_host_port(mode: str) -> None:
    body = taskdef.normalise(
        definition(container(portMappings=[{"containerPort": 8080}]), networkMode=mode)
    )
    assert body["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 8080


@pytest.mark.parametrize("mode", ["host", "awsvpc"])
def test_host_and_awsvpc_modes_refuse_a_different_host_port(mode: str) -> None:
    params = definition(
        container(portMappings=[{"containerPort": 80, "hostPort": 8080}]), networkMode=mode
    )
    assert refused(params) == (
        f"When networkMode={mode}, the host ports and container ports in port mappings must match."
    )


def test_duplicate_container_names() -> None:
    assert (
        refused(definition(container("a"), container("a")))
        == "Container names must be unique within a Task Definition."
    )


def test_no_essential_container() -> None:
    params = definition(container("a", essential=False), container("b", essential=False))
    assert refused(params) == "Task definition doesn't have any essential container."


def test_memory_is_required_without_task_memory() -> None:
    params = definition({"name": "web", "image": "busybox"})
    assert refused(params) == (
        "Invalid setting for container 'web'. "
        "At least one of 'memory' or 'memoryReservation' must be specified."
    )
    body = taskdef.normalise(definition({"name": "web", "image": "busybox"}, memory="512"))
    assert body["memory"] == "512"


def test_memory_below_reservation_and_below_the_minimum() -> None:
    assert "greater than or equal to 'memoryReservation'" in refused(
        definition(container(memory=64, memoryReservation=128))
    )
    assert refused(definition(container(memory=4))) == (
        "Invalid 'memory' setting for container 'web'."
    )


def test_names_and_images() -> None:
    assert refused(definition({"image": "x", "memory": 64})) == (
        "Container.name should not be null or empty."
    )
    assert refused(definition({"name": "a b", "image": "x", "memory": 64})) == (
        "Container.name contains invalid characters."
    )
    assert refused(definition({"name": "a", "memory": 64})) == (
        "Container.image should not be null or empty."
    )
    assert refused(definition()) == "Container list cannot be empty."


@pytest.mark.parametrize(
    ("text", "units"), [("1024", 1024), ("1 vCPU", 1024), ("0.5 vcpu", 512), ("2vCPU", 2048)]
)
def test_task_cpu_in_units_or_vcpus(text: str, units: int) -> None:
    assert taskdef.parse_task_cpu(text) == units


@pytest.mark.parametrize(("text", "mib"), [("512", 512), ("1 GB", 1024), ("2GB", 2048)])
def test_task_memory_in_mib_or_gb(text: str, mib: int) -> None:
    assert taskdef.parse_task_memory(text) == mib


@pytest.mark.parametrize("cpu", ["abc", "0", "-1", "100", "1.5"])
def test_invalid_task_cpu(cpu: str) -> None:
    assert refused(definition(container(), cpu=cpu)) == "Invalid 'cpu' setting for task."


def test_invalid_task_memory() -> None:
    assert refused(definition(container(), memory="lots")) == "Invalid 'memory' setting for task."


def test_fargate_combinations() -> None:
    fargate = {"requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}
    ok = taskdef.normalise(definition(container(), cpu="256", memory="512", **fargate))
    assert "FARGATE" in ok["compatibilities"]
    assert refused(definition(container(), cpu="256", memory="4096", **fargate)) == (
        "No Fargate configuration exists for given values."
    )
    assert refused(definition(container(), memory="512", **fargate)) == (
        "Fargate requires that 'cpu' be defined at the task level."
    )
    bridge = {**fargate, "networkMode": "bridge"}
    assert "awsvpc" in refused(definition(container(), cpu="256", memory="512", **bridge))


def test_container_cpu_cannot_exceed_task_cpu() -> None:
    params = definition(container("a", cpu=512), container("b", cpu=1024), cpu="1024")
    assert refused(params) == (
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."
    )


def test_dependencies() -> None:
    unknown = definition(container("a", dependsOn=[{"containerName": "b", "condition": "START"}]))
    assert refused(unknown) == "Cannot depend on container + 'b' because it does not exist"
    essential = definition(
        container("a", dependsOn=[{"containerName": "b", "condition": "SUCCESS"}]), container("b")
    )
    assert refused(essential) == (
        "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container"
    )
    healthy = definition(
        container("a", dependsOn=[{"containerName": "b", "condition": "HEALTHY"}]), container("b")
    )
    assert "has no health check" in refused(healthy)
    cycle = definition(
        container("a", dependsOn=[{"containerName": "b", "condition": "START"}]),
        container("b", dependsOn=[{"containerName": "a", "condition": "START"}]),
    )
    assert refused(cycle) == "Container dependencies form a cycle: a -> b -> a."
    fine = definition(
        container("a", dependsOn=[{"containerName": "b", "condition": "HEALTHY"}]),
        container("b", healthCheck={"command": ["CMD-SHELL", "true"]}),
    )
    body = taskdef.normalise(fine)
    assert body["containerDefinitions"][1]["healthCheck"] == {
        "command": ["CMD-SHELL", "true"],
        "interval": 30,
        "timeout": 5,
        "retries": 3,
    }


def test_health_check_ranges() -> None:
    params = definition(container(healthCheck={"command": ["CMD", "true"], "interval": 1}))
    assert refused(params) == "Invalid 'healthCheck.interval' setting for container 'web'."


def test_ports() -> None:
    assert refused(definition(container(portMappings=[{"containerPort": 0}]))) == (
        "Invalid 'containerPort' setting for container 'web'."
    )
    twice = definition(
        container("a", portMappings=[{"containerPort": 80, "hostPort": 8080}]),
        container("b", portMappings=[{"containerPort": 81, "hostPort": 8080}]),
    )
    assert "8080/tcp is mapped more than once" in refused(twice)
    none = definition(container(portMappings=[{"containerPort": 80}]), networkMode="none")
    assert refused(none) == "Port mappings are not supported when networkMode=none."


def test_awslogs_needs_group_and_region() -> None:
    params = definition(container(logConfiguration={"logDriver": "awslogs", "options": {}}))
    assert refused(params) == "Log driver awslogs requires options: awslogs-region, awslogs-group"


def test_mount_points_need_a_declared_volume() -> None:
    params = definition(container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}]))
    assert "volume 'data' is not defined" in refused(params)
    ok = definition(
        container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}]),
        volumes=[{"name": "data", "host": {"sourcePath": "/srv/data"}}],
    )
    assert taskdef.normalise(ok)["volumes"] == [
        {"name": "data", "host": {"sourcePath": "/srv/data"}}
    ]


def test_links_only_in_bridge_mode() -> None:
    params = definition(container("a", links=["b"]), container("b"), networkMode="awsvpc")
    assert refused(params) == "Links are not supported when networkMode=awsvpc."


def test_reservation_uses_task_level_values_then_containers() -> None:
    body = taskdef.normalise(
        definition(container("a", cpu=128, memoryReservation=32), container("b", memory=64))
    )
    assert taskdef.reservation_of(body) == (128, 96)
    overridden = {"containerOverrides": [{"name": "b", "memory": 200}], "cpu": "1 vCPU"}
    assert taskdef.reservation_of(body, overridden) == (1024, 232)
    whole = taskdef.normalise(definition(container(), cpu="512", memory="1GB"))
    assert taskdef.reservation_of(whole) == (512, 1024)


def test_fixed_host_ports_per_network_mode() -> None:
    mappings = [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "udp"}]
    bridge = taskdef.normalise(definition(container(portMappings=mappings)))
    assert taskdef.fixed_host_ports(bridge) == [(8080, "tcp")]
    host = taskdef.normalise(
        definition(container(portMappings=[{"containerPort": 80}]), networkMode="host")
    )
    assert taskdef.fixed_host_ports(host) == [(80, "tcp")]
    awsvpc = taskdef.normalise(
        definition(container(portMappings=[{"containerPort": 80}]), networkMode="awsvpc")
    )
    assert taskdef.fixed_host_ports(awsvpc) == []
