"""What an agent is handed for a task: the definition resolved, credentials filled in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ecs_harness import FakeLogins

from cais.agent import protocol
from cais.agent.machine import attributes
from cais.ecs import Ecs, Scope, SpecBuilder, SqliteEcsStore
from cais.ecs.model import Attribute, Resources
from cais.ecs.specs import image_host, secret_name
from cais.state.sqlite import Database

SCOPE = Scope("000000000000", "us-east-1")


@pytest.fixture
def ecs(tmp_path: Path) -> Ecs:
    return Ecs(SqliteEcsStore(Database(tmp_path / "cais.db")))


def spec_for(ecs: Ecs, definition: dict[str, object], **overrides: object) -> protocol.TaskSpec:
    cluster = ecs.create_cluster(SCOPE, "default")
    ecs.register_instance(
        cluster,
        machine="m",
        hostname="h",
        resources=Resources(cpu=4096, memory=8192),
        attributes=[Attribute(a.name, a.value) for a in attributes(availability_zone="a")],
        has_agent=True,
        session="s",
    )
    registered = ecs.register_task_definition(SCOPE, definition, registered_by="me")
    launch = ecs.launch(
        registered,
        overrides=overrides or None,
        group=None,
        started_by=None,
        launch_type=None,
        access_key_id="AKIAKEY",
    )
    (task,) = ecs.run_task(cluster, launch, count=1).tasks
    logins = FakeLogins("registry.local:2247")
    return SpecBuilder(ecs.store, logins).spec(task, registered)


def test_a_spec_carries_the_resolved_definition(ecs: Ecs) -> None:
    definition = {
        "family": "full",
        "networkMode": "bridge",
        "cpu": "1 vCPU",
        "memory": "1GB",
        "volumes": [
            {"name": "data", "host": {"sourcePath": "/srv/data"}},
            {
                "name": "cache",
                "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True},
            },
            {"name": "existing", "dockerVolumeConfiguration": {"scope": "shared"}},
        ],
        "containerDefinitions": [
            {
                "name": "web",
                "image": "busybox",
                "command": ["httpd", "-f"],
                "entryPoint": ["/bin/sh", "-c"],
                "environment": [{"name": "A", "value": "1"}],
                "workingDirectory": "/srv",
                "user": "nobody",
                "memoryReservation": 64,
                "portMappings": [
                    {"containerPort": 80},
                    {"containerPort": 53, "hostPort": 5353, "protocol": "udp"},
                ],
                "healthCheck": {"command": ["CMD", "true"], "interval": 10},
                "stopTimeout": 5,
                "links": ["side:alias"],
                "mountPoints": [
                    {"sourceVolume": "data", "containerPath": "/data", "readOnly": True}
                ],
                "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
                "linuxParameters": {
                    "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                    "initProcessEnabled": True,
                },
                "readonlyRootFilesystem": True,
                "dockerLabels": {"team": "a"},
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "g", "awslogs-region": "us-east-1"},
                },
            },
            {"name": "side", "image": "busybox", "memory": 32, "essential": False},
        ],
    }
    spec = spec_for(
        ecs,
        definition,
        containerOverrides=[{"name": "web", "environment": [{"name": "B", "value": "2"}]}],
    )
    assert (spec.cpu, spec.memory, spec.network_mode, spec.desired_status) == (
        1024,
        1024,
        "bridge",
        "RUNNING",
    )
    assert spec.volumes == (
        protocol.Volume(name="data", host_path="/srv/data"),
        protocol.Volume(name="cache", scope="shared", autoprovision=True),
        # ECS's autoprovision default is false: the agent will not make "existing"
        protocol.Volume(name="existing", scope="shared", autoprovision=False),
    )
    web, side = spec.containers
    assert web.command == ("httpd", "-f") and web.entry_point == ("/bin/sh", "-c")
    assert web.environment == {"A": "1", "B": "2"}
    assert (web.working_directory, web.user, web.memory, web.memory_reservation) == (
        "/srv",
        "nobody",
        None,
        64,
    )
    assert web.port_mappings == (
        protocol.PortMapping(container_port=80, host_port=0),
        protocol.PortMapping(container_port=53, host_port=5353, protocol="udp"),
    )
    assert web.health_check == protocol.HealthCheck(command=("CMD", "true"), interval=10)
    assert web.stop_timeout == 5 and web.links == ("side:alias",)
    assert web.mount_points == (protocol.MountPoint("data", "/data", read_only=True),)
    assert web.ulimits == (("nofile", 1024, 2048),)
    assert (web.cap_add, web.cap_drop, web.init_process_enabled) == (
        ("NET_ADMIN",),
        ("MKNOD",),
        True,
    )
    assert web.readonly_root_filesystem and web.docker_labels == {"team": "a"}
    assert web.log_configuration == protocol.LogConfiguration(
        "awslogs", {"awslogs-group": "g", "awslogs-region": "us-east-1"}
    )
    assert web.registry_auth is None  # a Docker Hub image: no credentials
    assert side.essential is False and side.stop_timeout == 30


def test_images_of_this_registry_get_an_ecr_login(ecs: Ecs) -> None:
    spec = spec_for(
        ecs,
        {
            "family": "own",
            "containerDefinitions": [
                {"name": "a", "image": "registry.local:2247/web:v1", "memory": 64}
            ],
        },
    )
    assert spec.containers[0].registry_auth == protocol.RegistryAuth(
        "AWS", "login-for-000000000000-AKIAKEY"
    )


def test_repository_credentials_come_from_the_secret_store(ecs: Ecs) -> None:
    ecs.store.put_secret(SCOPE, "hub", json.dumps({"username": "u", "password": "p"}), now=1.0)
    arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:hub"
    spec = spec_for(
        ecs,
        {
            "family": "private",
            "containerDefinitions": [
                {
                    "name": "a",
                    "image": "ghcr.io/x/y",
                    "memory": 64,
                    "repositoryCredentials": {"credentialsParameter": arn},
                },
                {
                    "name": "b",
                    "image": "ghcr.io/x/z",
                    "memory": 64,
                    "repositoryCredentials": {"credentialsParameter": "hub"},
                },
                {
                    "name": "c",
                    "image": "ghcr.io/x/w",
                    "memory": 64,
                    "repositoryCredentials": {"credentialsParameter": "nope"},
                },
            ],
        },
    )
    auths = [c.registry_auth for c in spec.containers]
    assert auths == [protocol.RegistryAuth("u", "p"), protocol.RegistryAuth("u", "p"), None]
    # no anonymous pull: the agent fails the task with ECS's ResourceInitializationError
    assert spec.initialization_error == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution "
        "resource retrieval failed: unable to retrieve secret from asm: failed to fetch secret "
        "nope from secrets manager: ResourceNotFoundException: Secrets Manager can't find the "
        "specified secret."
    )


def test_a_registry_secret_that_is_not_credentials_fails_the_task(ecs: Ecs) -> None:
    ecs.store.put_secret(SCOPE, "hub", json.dumps({"user": "u"}), now=1.0)
    spec = spec_for(
        ecs,
        {
            "family": "private",
            "containerDefinitions": [
                {
                    "name": "a",
                    "image": "ghcr.io/x/y",
                    "memory": 64,
                    "repositoryCredentials": {"credentialsParameter": "hub"},
                }
            ],
        },
    )
    assert spec.containers[0].registry_auth is None
    assert spec.initialization_error.startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: "
    )
    assert "secret hub is not the JSON object" in spec.initialization_error


def test_image_hosts_and_secret_names() -> None:
    assert image_host("busybox") is None and image_host("library/busybox") is None
    assert image_host("localhost/x") == "localhost"
    assert image_host("localhost:2247/web:v1") == "localhost:2247"
    assert image_host("ghcr.io/a/b") == "ghcr.io"
    assert secret_name("hub", SCOPE) == "hub"
    assert secret_name("arn:aws:secretsmanager:us-east-1:000000000000:secret:hub", SCOPE) == "hub"
    assert secret_name("arn:aws:secretsmanager:eu-west-1:000000000000:secret:hub", SCOPE) is None
