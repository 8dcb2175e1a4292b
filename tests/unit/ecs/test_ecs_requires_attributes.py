"""``requiresAttributes``: derived from the task definition as ECS does, shown by
DescribeTaskDefinition, and checked at placement (RunTask's ``ATTRIBUTE`` failure)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ecs_harness import ControlPlane, control_plane

from cais.agent.machine import attributes
from cais.ecs.requirements import required_attributes
from cais.settings import Settings

AWSLOGS = {
    "logDriver": "awslogs",
    "options": {"awslogs-group": "/ecs/app", "awslogs-region": "us-east-1"},
}
HEALTH = {"command": ["CMD", "true"]}
SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db"


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    with control_plane(settings) as running:
        yield running


def names(found: list[dict[str, str]]) -> list[str]:
    return [a["name"] for a in found]


def test_describe_task_definition_shows_what_the_definition_requires(
    plane: ControlPlane,
) -> None:
    ecs = plane.client()
    ecs.register_task_definition(
        family="app",
        networkMode="awsvpc",
        executionRoleArn="arn:aws:iam::000000000000:role/exec",
        containerDefinitions=[
            {
                "name": "app",
                "image": "registry.example/app",
                "memory": 64,
                "logConfiguration": AWSLOGS,
                "healthCheck": HEALTH,
                "secrets": [{"name": "DB", "valueFrom": SECRET}],
                "repositoryCredentials": {"credentialsParameter": "hub"},
                "environmentFiles": [{"type": "s3", "value": "arn:aws:s3:::config/app.env"}],
            }
        ],
    )
    described = ecs.describe_task_definition(taskDefinition="app")["taskDefinition"]
    required = described["requiresAttributes"]
    assert all(set(a) == {"name"} for a in required)  # ECS's shape: names only
    assert sorted(names(required)) == sorted(
        [
            "ecs.capability.task-eni",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            "ecs.capability.execution-role-awslogs",
            "ecs.capability.container-health-check",
            "com.amazonaws.ecs.capability.docker-remote-api.1.24",
            "ecs.capability.secrets.asm.environment-variables",
            "ecs.capability.private-registry-authentication.secretsmanager",
            "ecs.capability.env-files.s3",
        ]
    )
    plain = ecs.register_task_definition(
        family="plain", containerDefinitions=[{"name": "p", "image": "x", "memory": 64}]
    )["taskDefinition"]
    assert plain["requiresAttributes"] == []


def test_a_missing_capability_is_an_attribute_failure_per_instance(plane: ControlPlane) -> None:
    ecs = plane.client()
    ecs.create_cluster()
    bare = plane.agent("bare", capabilities=())
    bare.register()
    full = plane.agent("full")
    full.register()
    ecs.register_task_definition(
        family="secret",
        containerDefinitions=[
            {
                "name": "s",
                "image": "x",
                "memory": 64,
                "secrets": [{"name": "DB", "valueFrom": SECRET}],
            }
        ],
    )
    result = ecs.run_task(taskDefinition="secret", count=2)
    assert result["tasks"] == []
    assert sorted(result["failures"], key=lambda f: f["arn"]) == sorted(
        [{"arn": bare.arn, "reason": "ATTRIBUTE"}, {"arn": full.arn, "reason": "ATTRIBUTE"}],
        key=lambda f: f["arn"],
    )

    ecs.register_task_definition(
        family="logged",
        containerDefinitions=[
            {"name": "l", "image": "x", "memory": 64, "logConfiguration": AWSLOGS}
        ],
    )
    started = ecs.start_task(taskDefinition="logged", containerInstances=[bare.arn])
    assert started["tasks"] == []
    assert started["failures"] == [{"arn": bare.arn, "reason": "ATTRIBUTE"}]
    placed = ecs.run_task(taskDefinition="logged", count=3)
    assert placed["failures"] == []
    assert {t["containerInstanceArn"] for t in placed["tasks"]} == {full.arn}


def test_the_agent_registers_what_a_supported_definition_requires() -> None:
    body: dict[str, Any] = {
        "networkMode": "awsvpc",
        "taskRoleArn": "arn:aws:iam::000000000000:role/task",
        "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
        "containerDefinitions": [
            {"name": "db", "image": "x", "healthCheck": HEALTH},
            {
                "name": "app",
                "image": "x",
                "privileged": True,
                "logConfiguration": AWSLOGS,
                "repositoryCredentials": {"credentialsParameter": "hub"},
                "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
            },
        ],
    }
    required = set(names(required_attributes(body)))
    assert len(required) == 11
    assert required <= {a.name for a in attributes()}
