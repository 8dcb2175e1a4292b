"""The ECS control plane of a real ``cais up`` with boto3 and fake agents: a task's whole
life, essential and non-essential exits, pull failures, disconnected agents, a restart of
``cais up``, and bad input that leaves nothing behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cais.agent import protocol
from ecs_fake_agent import FakeAgent
from ecs_up import FAST, EcsUp, ecs_up

PAIR = {
    "family": "pair",
    "containerDefinitions": [
        {
            "name": "db",
            "image": "busybox",
            "memory": 64,
            "cpu": 128,
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5},
        },
        {
            "name": "app",
            "image": "busybox",
            "memory": 64,
            "cpu": 128,
            "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
            "portMappings": [{"containerPort": 80}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/pair",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "pair",
                    "awslogs-create-group": "true",
                },
            },
        },
    ],
}


@pytest.fixture
def up(tmp_path: Path) -> Iterator[EcsUp]:
    with ecs_up(tmp_path / "up") as running:
        running.client().create_cluster()
        yield running


def failure(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_task_with_two_containers_runs_logs_and_stops(up: EcsUp) -> None:
    ecs = up.client()
    agent = up.agent("a", attributes={"ecs.availability-zone": "us-east-1a"})
    ecs.register_task_definition(**PAIR)
    run = ecs.run_task(taskDefinition="pair", startedBy="tester")
    assert run["failures"] == []
    arn = run["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(tasks=[arn], WaiterConfig=FAST)

    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
    assert task["containerInstanceArn"] == agent.arn
    assert task["availabilityZone"] == "us-east-1a"
    assert task["healthStatus"] == "HEALTHY"  # db is the only container with a check
    containers = {c["name"]: c for c in task["containers"]}
    assert containers["db"]["healthStatus"] == "HEALTHY"
    assert [(b["containerPort"], b["hostPort"]) for b in containers["app"]["networkBindings"]] == [
        (80, 32768)
    ]
    for stamp in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"):
        assert stamp in task, stamp
    instance = ecs.describe_container_instances(containerInstances=[agent.arn])[
        "containerInstances"
    ][0]
    remaining = {r["name"]: r["integerValue"] for r in instance["remainingResources"][:2]}
    assert remaining == {"CPU": 2048 - 256, "MEMORY": 4096 - 128}

    logs = up.client("logs")
    stream = f"pair/app/{arn.rsplit('/', 1)[1]}"
    deadline = time.monotonic() + 10
    events: list[dict[str, Any]] = []
    while not events and time.monotonic() < deadline:
        try:
            events = logs.get_log_events(logGroupName="/ecs/pair", logStreamName=stream)["events"]
        except ClientError:
            time.sleep(0.2)
    assert [e["message"] for e in events] == ["hello from app"]

    stopped = ecs.stop_task(task=arn, reason="done for today")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    ecs.get_waiter("tasks_stopped").wait(tasks=[arn], WaiterConfig=FAST)
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "done for today"
    assert {c["name"]: c["exitCode"] for c in task["containers"]} == {"db": 143, "app": 143}
    for stamp in ("stoppingAt", "executionStoppedAt", "stoppedAt"):
        assert stamp in task, stamp
    assert ecs.list_tasks(desiredStatus="STOPPED", startedBy="tester")["taskArns"] == [arn]
    instance = ecs.describe_container_instances(containerInstances=[agent.arn])[
        "containerInstances"
    ][0]
    assert instance["remainingResources"][0]["integerValue"] == 2048  # released


def test_essential_and_non_essential_exits(up: EcsUp) -> None:
    ecs = up.client()
    up.agent("a")
    definition = {
        "family": "jobs",
        "containerDefinitions": [
            {"name": "main", "image": "busybox", "memory": 64},
            {
                "name": "init",
                "image": "busybox",
                "memory": 64,
                "essential": False,
                "command": ["exit", "0"],
            },
        ],
    }
    ecs.register_task_definition(**definition)
    keeps = ecs.run_task(taskDefinition="jobs")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(tasks=[keeps], WaiterConfig=FAST)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = ecs.describe_tasks(tasks=[keeps])["tasks"][0]
        init = {c["name"]: c for c in task["containers"]}["init"]
        if init["lastStatus"] == "STOPPED":
            break
        time.sleep(0.1)
    assert init["lastStatus"] == "STOPPED" and init["exitCode"] == 0
    assert task["lastStatus"] == "RUNNING"  # a non-essential exit does not stop the task

    ends = ecs.run_task(
        taskDefinition="jobs",
        overrides={"containerOverrides": [{"name": "main", "command": ["exit", "2"]}]},
    )["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_stopped").wait(tasks=[ends], WaiterConfig=FAST)
    task = ecs.describe_tasks(tasks=[ends])["tasks"][0]
    assert task["stopCode"] == "EssentialContainerExited"
    assert {c["name"]: c.get("exitCode") for c in task["containers"]}["main"] == 2


def test_an_image_that_cannot_be_pulled(up: EcsUp) -> None:
    ecs = up.client()
    up.agent("a")
    ecs.register_task_definition(
        family="broken",
        containerDefinitions=[{"name": "x", "image": "localhost:1/missing:v1", "memory": 64}],
    )
    arn = ecs.run_task(taskDefinition="broken")["tasks"][0]["taskArn"]
    waiter = ecs.get_waiter("tasks_running")
    with pytest.raises(Exception, match="failure state"):
        waiter.wait(tasks=[arn], WaiterConfig=FAST)  # STOPPED is a failure for this waiter
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert "localhost:1/missing:v1" in task["stoppedReason"]


def test_an_agent_that_stops_polling_is_disconnected_and_gets_no_tasks(up: EcsUp) -> None:
    ecs = up.client()
    quiet = up.agent("quiet")
    busy = up.agent("busy")
    ecs.register_task_definition(**PAIR)
    quiet.silence()

    def connected(arn: str) -> bool:
        found = ecs.describe_container_instances(containerInstances=[arn])["containerInstances"]
        return bool(found[0]["agentConnected"])

    deadline = time.monotonic() + 15
    while connected(quiet.arn) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not connected(quiet.arn) and connected(busy.arn)
    placed = ecs.run_task(taskDefinition="pair", count=4)["tasks"]
    assert {t["containerInstanceArn"] for t in placed} == {busy.arn}
    pinned = ecs.start_task(taskDefinition="pair", containerInstances=[quiet.arn])
    assert pinned["tasks"] == [] and pinned["failures"] == [{"arn": quiet.arn, "reason": "AGENT"}]


def test_a_restart_of_cais_up_loses_nothing(up: EcsUp) -> None:
    ecs = up.client()
    agent = up.agent("a", instance_id="machine-a")
    ecs.create_cluster(clusterName="other", tags=[{"key": "k", "value": "v"}])
    ecs.register_task_definition(**PAIR)
    arn = ecs.run_task(taskDefinition="pair")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(tasks=[arn], WaiterConfig=FAST)
    instance_arn = agent.arn

    up.restart()
    ecs = up.client()
    assert ecs.describe_clusters(clusters=["other"], include=["TAGS"])["clusters"][0]["tags"] == [
        {"key": "k", "value": "v"}
    ]
    assert ecs.describe_task_definition(taskDefinition="pair")["taskDefinition"]["revision"] == 1
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"

    # the agent's session outlives the restart (its key is in the database): it polls on
    def connected() -> dict[str, Any]:
        found = ecs.describe_container_instances(containerInstances=[instance_arn])
        return dict(found["containerInstances"][0])

    restarted = time.time()
    deadline = time.monotonic() + 20
    while connected()["agentConnected"] is not True and time.monotonic() < deadline:
        time.sleep(0.1)
    instance = connected()
    assert instance["agentConnected"] is True and instance["runningTasksCount"] == 1
    # an agent that restarts too registers again with its machine id: the same instance
    again = agent.register()
    assert again.container_instance_arn == instance_arn and again.instance_id == "machine-a"
    assert connected()["registeredAt"].timestamp() < restarted
    ecs.stop_task(task=arn)
    ecs.get_waiter("tasks_stopped").wait(tasks=[arn], WaiterConfig=FAST)


def test_bad_input_gets_aws_errors_and_changes_nothing(up: EcsUp) -> None:
    ecs = up.client()
    agent = up.agent("a", ports_tcp=(22, 8080))
    ecs.register_task_definition(**PAIR)
    before = up.rows()

    assert failure(ecs.run_task, cluster="nope", taskDefinition="pair") == (
        "ClusterNotFoundException",
        "Cluster not found.",
    )
    assert failure(ecs.run_task, taskDefinition="nope") == (
        "ClientException",
        "TaskDefinition not found.",
    )
    assert failure(
        ecs.register_task_definition,
        family="bad",
        cpu="3 bananas",
        containerDefinitions=[{"name": "a", "image": "x", "memory": 64}],
    ) == ("ClientException", "Invalid 'cpu' setting for task.")
    assert failure(
        ecs.register_task_definition,
        family="bad",
        containerDefinitions=[{"name": "a", "image": "x", "memory": 2}],
    ) == ("ClientException", "Invalid 'memory' setting for container 'a'.")
    assert failure(
        ecs.register_task_definition,
        family="bad",
        containerDefinitions=[
            {"name": "a", "image": "x", "memory": 64},
            {"name": "a", "image": "y", "memory": 64},
        ],
    ) == ("ClientException", "Container names must be unique within a Task Definition.")
    assert failure(ecs.deregister_container_instance, containerInstance="0123456789abcdef") == (
        "InvalidParameterException",
        "The referenced container instance was not found.",
    )
    start = ecs.start_task(taskDefinition="pair", containerInstances=["0123456789abcdef"])
    assert start["tasks"] == [] and start["failures"][0]["reason"] == "MISSING"
    assert up.rows() == before

    taken = {
        "family": "taken",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "busybox",
                "memory": 64,
                "portMappings": [{"containerPort": 80, "hostPort": 8080}],
            }
        ],
    }
    ecs.register_task_definition(**taken)
    before = up.rows()
    result = ecs.run_task(taskDefinition="taken")
    assert result["tasks"] == []
    assert result["failures"] == [{"arn": agent.arn, "reason": "RESOURCE:PORTS"}]
    assert up.rows() == before


def test_reports_from_an_agent_are_ordered_and_idempotent(up: EcsUp) -> None:
    ecs = up.client()
    token = up.cais("ecs", "local-join-token").strip()
    agent = FakeAgent(up.url, token, hostname="a")  # registered, not started: reports by hand
    agent.register()
    ecs.register_task_definition(**PAIR)
    arn = ecs.run_task(taskDefinition="pair")["tasks"][0]["taskArn"]
    stopped = protocol.TaskState(task_arn=arn, last_status="STOPPED", stop_code="TaskFailedToStart")
    running = protocol.TaskState(task_arn=arn, last_status="RUNNING")
    answer = agent.call(protocol.REPORT, protocol.ReportRequest(tasks=(stopped, running, stopped)))
    assert answer["accepted"] == [arn, arn, arn]
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "TaskFailedToStart"
    assert task["version"] == 2
