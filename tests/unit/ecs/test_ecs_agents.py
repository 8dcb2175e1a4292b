"""The control plane's side of the agent protocol, with the fake agent in-process over HTTP:
join tokens and sessions, long polls, reports, logs, heartbeats, deregistration."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_harness import WEB, ControlPlane, control_plane

from cais.agent import protocol
from cais.agent.client import HttpControlPlane
from cais.ecs import Scope
from cais.settings import Settings
from ecs_fake_agent import AgentHttpError, Behaviour, FakeAgent

SCOPE = Scope("000000000000", "us-east-1")


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    with control_plane(settings, heartbeat=1.0) as running:
        yield running


def post(url: str, body: Any, *, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_join_tokens(plane: ControlPlane) -> None:
    bad = FakeAgent(plane.url, "caisjoin1.nope")
    with pytest.raises(AgentHttpError) as caught:
        bad.register()
    assert (caught.value.status, caught.value.body["error"]) == (401, "InvalidJoinToken")
    secret, _ = plane.component.gateway.create_join_token(SCOPE, cluster="web")
    wrong = FakeAgent(plane.url, secret, cluster="default")
    with pytest.raises(AgentHttpError) as caught:
        wrong.register()
    assert (caught.value.status, caught.value.body["error"]) == (403, "AccessDenied")
    missing = FakeAgent(plane.url, secret)  # bound to web, which does not exist yet
    with pytest.raises(AgentHttpError) as caught:
        missing.register()
    assert (caught.value.status, caught.value.body["error"]) == (404, "ClusterNotFoundException")
    plane.client().create_cluster(clusterName="web")
    answer = FakeAgent(plane.url, secret).register()
    assert answer.container_instance_arn.startswith(
        "arn:aws:ecs:us-east-1:000000000000:container-instance/web/"
    )
    expired, _ = plane.component.gateway.create_join_token(SCOPE, ttl=0.01)
    time.sleep(0.05)
    with pytest.raises(AgentHttpError) as caught:
        FakeAgent(plane.url, expired).register()
    assert caught.value.status == 401


def test_the_local_agents_token_joins_default_which_is_created(plane: ControlPlane) -> None:
    answer = plane.agent("local").register()
    assert "container-instance/default/" in answer.container_instance_arn
    assert answer.heartbeat_seconds == 1.0
    assert (
        plane.client().describe_clusters()["clusters"][0]["registeredContainerInstancesCount"] == 1
    )


def test_a_machine_registering_again_keeps_its_instance_and_ends_the_old_session(
    plane: ControlPlane,
) -> None:
    agent = plane.agent("a", instance_id="machine-1")
    first = agent.register()
    old_session = agent.session
    second = agent.register()
    assert second.container_instance_arn == first.container_instance_arn
    assert second.instance_id == "machine-1"
    status, body = post(f"{plane.url}/agent/v1/poll", {"wait_seconds": 0}, token=old_session)
    assert (status, body["error"]) == (401, "InvalidSession")
    other = plane.agent("b", instance_id="machine-2").register()
    assert other.container_instance_arn != first.container_instance_arn


def test_requests_that_are_not_the_protocol(plane: ControlPlane) -> None:
    base = f"{plane.url}/agent/v1"
    assert post(f"{base}/poll", {})[0] == 401
    assert post(f"{base}/poll", {}, token="cais-agent1.e30.AAAA")[0] == 401
    status, body = post(f"{base}/register", b"[1, 2]")
    assert (status, body["error"]) == (400, "BadRequest")
    status, body = post(f"{base}/register", {"token": "x"})
    assert (status, body["error"]) == (400, "BadRequest")
    agent = plane.agent("a")
    agent.register()
    assert post(f"{base}/dance", {}, token=agent.session)[0] == 404


def test_a_poll_waits_when_there_is_nothing_new(plane: ControlPlane) -> None:
    agent = plane.agent("a")
    agent.register()
    started = time.monotonic()
    assert agent.poll_once(wait=0.6) == ()
    assert 0.5 <= time.monotonic() - started < 3.0


def test_a_poll_answers_at_once_when_a_task_is_placed(plane: ControlPlane) -> None:
    ecs = plane.client()
    agent = plane.agent("a")
    agent.register()
    ecs.register_task_definition(**WEB)
    got: list[tuple[protocol.TaskSpec, ...]] = []
    poller = threading.Thread(target=lambda: got.append(agent.poll_once(wait=30)))
    started = time.monotonic()
    poller.start()
    time.sleep(0.3)
    arn = ecs.run_task(
        taskDefinition="web",
        overrides={
            "containerOverrides": [
                {
                    "name": "web",
                    "command": ["sleep", "9"],
                    "environment": [{"name": "A", "value": "1"}],
                }
            ]
        },
    )["tasks"][0]["taskArn"]
    poller.join(10)
    assert time.monotonic() - started < 3.0  # not the 30 s the poll could wait
    (spec,) = got[0]
    assert spec.task_arn == arn and spec.desired_status == "RUNNING"
    assert spec.network_mode == "bridge" and spec.family == "web" and spec.revision == 1
    web = spec.containers[0]
    assert web.command == ("sleep", "9") and web.environment == {"A": "1"}
    assert (web.cpu, web.memory) == (256, 128)
    # known now: the same poll does not hand it out again
    assert agent.poll_once(wait=0) == ()


def test_reports_drive_the_task_and_foreign_tasks_are_refused(plane: ControlPlane) -> None:
    ecs = plane.client()
    a, b = plane.agent("a"), plane.agent("b")
    a.register()
    b.register()
    ecs.register_task_definition(**WEB)
    arn = ecs.start_task(taskDefinition="web", containerInstances=[a.arn])["tasks"][0]["taskArn"]
    running = protocol.TaskState(
        task_arn=arn,
        last_status="RUNNING",
        containers=(protocol.ContainerState(name="web", last_status="RUNNING", runtime_id="c1"),),
        started_at=1_700_000_000.0,
    )
    stolen = b.call(protocol.REPORT, protocol.ReportRequest(tasks=(running,)))
    assert stolen == {"accepted": [], "unknown": [arn]}
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "PROVISIONING"
    mine = a.call(protocol.REPORT, protocol.ReportRequest(tasks=(running, running)))
    assert mine["accepted"] == [arn, arn]
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "RUNNING" and task["containers"][0]["runtimeId"] == "c1"
    assert task["startedAt"].timestamp() == 1_700_000_000.0
    assert task["version"] == 2  # the same report twice is one change
    bad = protocol.TaskState(task_arn=arn, last_status="FLYING")
    with pytest.raises(AgentHttpError) as caught:
        a.call(protocol.REPORT, protocol.ReportRequest(tasks=(bad,)))
    assert caught.value.status == 400


def test_logs_go_to_cloudwatch_logs(plane: ControlPlane) -> None:
    agent = plane.agent("a")
    agent.register()
    request = protocol.LogsRequest(
        group="/ecs/web",
        stream="web/web/1",
        events=(protocol.LogEvent(int(time.time() * 1000), "hello"),),
    )
    with pytest.raises(AgentHttpError) as caught:
        agent.call(protocol.LOGS, request)
    assert (caught.value.status, caught.value.body["error"]) == (404, "ResourceNotFoundException")
    created = protocol.LogsRequest(**{**request.__dict__, "create_group": True})
    assert agent.call(protocol.LOGS, created) == {"stored": 1}
    logs = plane.client("logs")
    events = logs.get_log_events(logGroupName="/ecs/web", logStreamName="web/web/1")["events"]
    assert [e["message"] for e in events] == ["hello"]


def test_the_agent_can_ask_whether_a_log_group_exists(plane: ControlPlane) -> None:
    """The real agent's client against the control plane: the check it makes before
    starting an awslogs container without ``awslogs-create-group``."""
    agent = plane.agent("a")
    agent.register()

    async def ask(group: str, region: str = "") -> bool:
        client = HttpControlPlane(plane.url)
        try:
            answer = await client.log_group(agent.session, protocol.LogGroupRequest(group, region))
            return answer.exists
        finally:
            await client.close()

    assert asyncio.run(ask("/ecs/app")) is False
    plane.client("logs").create_log_group(logGroupName="/ecs/app")
    assert asyncio.run(ask("/ecs/app")) is True
    assert asyncio.run(ask("/ecs/app", "eu-west-1")) is False  # another region's groups


def test_a_silent_agent_is_disconnected_and_gets_no_tasks(settings: Settings) -> None:
    with control_plane(settings, heartbeat=0.3) as plane:
        ecs = plane.client()
        ecs.register_task_definition(**WEB)
        agent = plane.agent("a", poll_wait=0.3).start()
        try:
            ecs.create_cluster()
            describe = lambda: ecs.describe_container_instances(  # noqa: E731
                containerInstances=[agent.arn]
            )["containerInstances"][0]
            assert describe()["agentConnected"] is True
            agent.silence()
            deadline = time.monotonic() + 10
            while describe()["agentConnected"] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert describe()["agentConnected"] is False
            result = ecs.run_task(taskDefinition="web")
            assert result["tasks"] == [] and result["failures"] == [
                {"arn": agent.arn, "reason": "AGENT"}
            ]
            assert ecs.list_container_instances(filter="agentConnected == false")[
                "containerInstanceArns"
            ] == [agent.arn]
            agent.resume()
            while not describe()["agentConnected"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(ecs.run_task(taskDefinition="web")["tasks"]) == 1
        finally:
            agent.stop()


def test_an_agent_that_leaves_makes_its_instance_inactive(plane: ControlPlane) -> None:
    agent = plane.agent("a")
    agent.register()
    agent.deregister()
    ecs = plane.client()
    instance = ecs.describe_container_instances(containerInstances=[agent.arn])[
        "containerInstances"
    ][0]
    assert instance["status"] == "INACTIVE" and instance["agentConnected"] is False
    with pytest.raises(AgentHttpError) as caught:
        agent.poll_once(wait=0)
    assert (caught.value.status, caught.value.body["error"]) == (410, "InstanceInactive")
    again = plane.agent("a", instance_id=agent.instance_id).register()
    assert again.container_instance_arn != agent.arn  # a deregistered instance does not return


def test_a_task_runs_and_stops_on_the_agents_word(plane: ControlPlane) -> None:
    ecs = plane.client()
    ecs.create_cluster()

    def script(task: protocol.TaskSpec, container: protocol.ContainerSpec) -> Behaviour:
        return Behaviour(runs_for=0.5, exit_code=3)

    agent = plane.agent("a", script=script).start()
    try:
        ecs.register_task_definition(**WEB)
        arn = ecs.run_task(taskDefinition="web")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_stopped").wait(
            tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        assert task["stopCode"] == "EssentialContainerExited"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["containers"][0]["exitCode"] == 3 and task["desiredStatus"] == "STOPPED"
        for stamp in ("pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt"):
            assert stamp in task, stamp
        instance = ecs.describe_container_instances(containerInstances=[agent.arn])[
            "containerInstances"
        ][0]
        cpu = {r["name"]: r for r in instance["remainingResources"]}["CPU"]["integerValue"]
        assert cpu == 2048  # released when the task stopped
    finally:
        agent.stop()


def test_a_missing_registry_secret_fails_the_task_to_start(plane: ControlPlane) -> None:
    """ECS does not fall back to an anonymous pull: ResourceInitializationError."""
    ecs = plane.client()
    ecs.create_cluster()
    agent = plane.agent("a").start()
    try:
        ecs.register_task_definition(
            family="private",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "ghcr.io/x/y",
                    "memory": 64,
                    "repositoryCredentials": {"credentialsParameter": "nope"},
                }
            ],
        )
        arn = ecs.run_task(taskDefinition="private")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_stopped").wait(
            tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["stoppedReason"].startswith(
            "ResourceInitializationError: unable to pull secrets or registry auth: "
        )
        assert "failed to fetch secret nope" in task["stoppedReason"]
        assert "pullStartedAt" not in task and "startedAt" not in task
    finally:
        agent.stop()


def test_environment_files_come_from_the_s3_directory(
    plane: ControlPlane, settings: Settings
) -> None:
    """Variables of <root>/s3/<bucket>/<key> reach the agent; a missing file fails the task."""
    env_file = settings.root / "s3" / "config" / "app.env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text("# app\nMODE=file\nLEVEL=debug\n")
    ecs = plane.client()
    ecs.create_cluster()
    agent = plane.agent("a").start()
    try:
        ecs.register_task_definition(
            family="files",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "busybox",
                    "memory": 64,
                    "environment": [{"name": "MODE", "value": "env"}],
                    "environmentFiles": [
                        {"type": "s3", "value": "arn:aws:s3:::config/app.env"},
                        {"type": "s3", "value": "arn:aws:s3:::config/missing.env"},
                    ],
                }
            ],
        )
        missing = ecs.run_task(taskDefinition="files")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_stopped").wait(
            tasks=[missing], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        task = ecs.describe_tasks(tasks=[missing])["tasks"][0]
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["stoppedReason"].startswith(
            "ResourceInitializationError: failed to download env files: "
        )
        assert "key missing.env from bucket config" in task["stoppedReason"]
        assert "pullStartedAt" not in task and "startedAt" not in task

        (env_file.parent / "missing.env").write_text("LEVEL=info\nEXTRA=1\n")
        arn = ecs.run_task(taskDefinition="files")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_running").wait(
            tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        (container,) = agent.tasks[arn].spec.containers
        assert container.environment == {"MODE": "env", "LEVEL": "debug", "EXTRA": "1"}

        env_file.write_text("MODE=file\nnot a variable\n")
        broken = ecs.run_task(taskDefinition="files")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_stopped").wait(
            tasks=[broken], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        task = ecs.describe_tasks(tasks=[broken])["tasks"][0]
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["stoppedReason"] == (
            "ResourceInitializationError: failed to download env files: env file "
            "arn:aws:s3:::config/app.env: line 2 is not NAME=VALUE: 'not a variable'"
        )
    finally:
        agent.stop()


def test_environment_files_must_be_s3_objects(plane: ControlPlane) -> None:
    ecs = plane.client()

    def refused(source: dict[str, str]) -> tuple[str, str]:
        container = {"name": "app", "image": "busybox", "memory": 64, "environmentFiles": [source]}
        with pytest.raises(ClientError) as caught:
            ecs.register_task_definition(family="files", containerDefinitions=[container])
        info = caught.value.response["Error"]
        return info["Code"], info["Message"]

    code, message = refused({"type": "s3", "value": "https://example.com/app.env"})
    assert code == "ClientException"
    assert "environmentFiles value 'https://example.com/app.env' is not an S3 object ARN" in (
        message
    )
    # the model's enum is checked first, as for every enum of the API
    code, message = refused({"type": "http", "value": "arn:aws:s3:::config/app.env"})
    assert code == "InvalidParameterException"
    assert "Member must satisfy enum value set: [s3]" in message
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []


def test_tasks_survive_a_restart_of_the_control_plane(settings: Settings) -> None:
    with control_plane(settings) as plane:
        ecs = plane.client()
        ecs.create_cluster()
        ecs.register_task_definition(**WEB)
        agent = plane.agent("a", instance_id="machine-1").start()
        arn = ecs.run_task(taskDefinition="web")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_running").wait(
            tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        instance_arn = agent.arn
    with control_plane(settings) as plane:
        agent.url = plane.url
        ecs = plane.client()
        assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
        deadline = time.monotonic() + 15
        while agent.registrations < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent.arn == instance_arn and agent.task_count() == 1
        ecs.stop_task(task=arn)
        ecs.get_waiter("tasks_stopped").wait(
            tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        agent.stop()
