"""ECS end to end: the aws CLI and boto3 against ``cais up``, real agents, real containers."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_up import FAST, EcsUp, aws, aws_run, ecs_up

TASK_DEFINITION = {
    "family": "web",
    "networkMode": "bridge",
    "containerDefinitions": [
        {
            "name": "db",
            "image": "busybox",
            "memory": 64,
            "essential": True,
            "stopTimeout": 2,
            "command": [
                "sh",
                "-c",
                "mkdir -p /www && echo db-ok > /www/index.html && exec httpd -f -p 80 -h /www",
            ],
            "healthCheck": {
                "command": ["CMD-SHELL", "wget -qO- http://127.0.0.1/ || exit 1"],
                "interval": 5,
                "timeout": 2,
                "retries": 3,
            },
            "portMappings": [{"containerPort": 80, "hostPort": 0}],
        },
        {
            "name": "app",
            "image": "busybox",
            "memory": 32,
            "essential": True,
            "stopTimeout": 2,
            "links": ["db"],
            "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
            "command": [
                "sh",
                "-c",
                "trap 'echo bye; exit 0' TERM; "
                "while true; do echo app says $(wget -qO- http://db/); sleep 1; done",
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/web",
                    "awslogs-stream-prefix": "web",
                    "awslogs-create-group": "true",
                    "awslogs-region": "us-east-1",
                },
            },
        },
    ],
}


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[EcsUp]:
    with ecs_up(tmp_path / "up", local_agent=True) as running:
        running.cais("image", "bootstrap", "busybox")
        try:
            yield running
        finally:
            running.stop()
            subprocess.run(
                [sys.executable, "-m", "cais.cli.launch", "system", "reset", "-f"],
                env=running.env,
                capture_output=True,
                check=False,
            )


def test_a_two_container_task_runs_logs_and_stops_on_the_local_agent(
    up: EcsUp, tmp_path: Path
) -> None:
    ecs, logs = up.client("ecs"), up.client("logs")
    wait_for(lambda: ecs.list_container_instances()["containerInstanceArns"])
    (tmp_path / "td.json").write_text(json.dumps(TASK_DEFINITION))
    aws(
        up,
        tmp_path,
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        f"file://{tmp_path / 'td.json'}",
    )
    task_arn = aws(up, tmp_path, "ecs", "run-task", "--task-definition", "web")["tasks"][0][
        "taskArn"
    ]
    waited = aws_run(up, tmp_path, "ecs", "wait", "tasks-running", "--tasks", task_arn)
    assert waited.returncode == 0, waited.stderr
    task = ecs.describe_tasks(tasks=[task_arn])["tasks"][0]
    assert (task["lastStatus"], task["healthStatus"]) == ("RUNNING", "HEALTHY")
    containers = {c["name"]: c for c in task["containers"]}
    assert containers["db"]["healthStatus"] == "HEALTHY"
    assert containers["app"]["lastStatus"] == "RUNNING"
    host_port = containers["db"]["networkBindings"][0]["hostPort"]
    with socket.create_connection(("127.0.0.1", host_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = b"".join(iter(lambda: conn.recv(4096), b""))
    assert b"db-ok" in reply
    for stamp in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"):
        assert stamp in task
    # the app started only after db was healthy, and talks to it by its link name
    stream = f"web/app/{task_arn.rsplit('/', 1)[1]}"
    events = wait_for(
        lambda: logs.get_log_events(logGroupName="/ecs/web", logStreamName=stream)["events"]
    )
    assert events[0]["message"] == "app says db-ok"
    # a restart of cais up (and of its agent) loses nothing: the task keeps running
    up.restart()
    wait_for(
        lambda: ecs.describe_container_instances(
            containerInstances=ecs.list_container_instances()["containerInstanceArns"]
        )["containerInstances"][0]["agentConnected"]
    )
    assert ecs.describe_tasks(tasks=[task_arn])["tasks"][0]["lastStatus"] == "RUNNING"
    aws(up, tmp_path, "ecs", "stop-task", "--task", task_arn, "--reason", "done testing")
    ecs.get_waiter("tasks_stopped").wait(tasks=[task_arn], WaiterConfig=FAST)
    stopped = ecs.describe_tasks(tasks=[task_arn])["tasks"][0]
    assert (stopped["stopCode"], stopped["stoppedReason"]) == ("UserInitiated", "done testing")
    assert {c["name"]: c["exitCode"] for c in stopped["containers"]}["app"] == 0
    assert "stoppedAt" in stopped and "executionStoppedAt" in stopped
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName="/ecs/web", logStreamName=stream)["events"]
    ]
    assert messages[-1] == "bye"
    assert up.cais("ps", "-aq").strip() == ""  # the agent removed its containers


def test_an_image_that_cannot_be_pulled_fails_the_task(up: EcsUp) -> None:
    ecs = up.client("ecs")
    wait_for(lambda: ecs.list_container_instances()["containerInstanceArns"])
    ecs.register_task_definition(
        family="broken",
        containerDefinitions=[{"name": "c", "image": "localhost:1/no/such-image:1", "memory": 32}],
    )
    task_arn = ecs.run_task(taskDefinition="broken")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_stopped").wait(tasks=[task_arn], WaiterConfig=FAST)
    task = ecs.describe_tasks(tasks=[task_arn])["tasks"][0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert "localhost:1/no/such-image:1" in task["stoppedReason"]


class Machine:
    """Another 'machine': a network namespace with its own cais root, running ``cais agent``."""

    def __init__(self, base: Path, index: int, url_port: int, token: str, zone: str) -> None:
        self.name = f"cais-m{index}-{secrets.token_hex(3)}"
        self.root, self.run = base / f"m{index}" / "root", base / f"m{index}" / "run"
        self.host_ip, self.ip = f"198.51.{110 + index}.1", f"198.51.{110 + index}.2"
        host_if, peer_if = f"cmh{index}{self.name[-6:]}"[:15], f"cmp{index}{self.name[-6:]}"[:15]
        self.host_if = host_if
        for cmd in (
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if],
            ["ip", "link", "set", peer_if, "netns", self.name],
            ["ip", "addr", "add", f"{self.host_ip}/24", "dev", host_if],
            ["ip", "link", "set", host_if, "up"],
            ["ip", "-n", self.name, "addr", "add", f"{self.ip}/24", "dev", peer_if],
            ["ip", "-n", self.name, "link", "set", peer_if, "up"],
            ["ip", "-n", self.name, "link", "set", "lo", "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        self.env = {
            **os.environ,
            "CAIS_ROOT": str(self.root),
            "CAIS_RUNROOT": str(self.run),
            "CAIS_CGROUP_PARENT": f"cais-test-{self.name[-6:]}",
        }
        subprocess.run(
            [sys.executable, "-m", "cais.cli.launch", "image", "bootstrap", "busybox"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.log = open(base / f"agent-{index}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "nsenter",  # the network namespace only: `ip netns exec` hides the cgroup mounts
                f"--net=/run/netns/{self.name}",
                sys.executable,
                "-m",
                "cais.cli.launch",
                "agent",
                "--join",
                f"http://{self.host_ip}:{url_port}",
                "--token",
                token,
                "--cluster",
                "multi",
                "--availability-zone",
                zone,
                "--hostname",
                self.name,
                "--poll-wait",
                "1",
            ],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    def instance_id(self) -> str:
        doc = json.loads((self.root / "agent" / "identity.json").read_text())
        return str(doc["instance_id"])

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        self.kill()
        subprocess.run(
            [
                "nsenter",  # the network namespace only: `ip netns exec` hides the cgroup mounts
                f"--net=/run/netns/{self.name}",
                sys.executable,
                "-m",
                "cais.cli.launch",
                "system",
                "reset",
                "-f",
            ],
            env=self.env,
            capture_output=True,
            check=False,
        )
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            with contextlib.suppress(OSError):
                (hierarchy / self.env["CAIS_CGROUP_PARENT"]).rmdir()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        self.log.close()


def test_three_machines_in_two_zones_place_tasks_as_the_strategies_say(tmp_path: Path) -> None:
    with ecs_up(tmp_path / "up", "--host", "0.0.0.0") as up:
        ecs = up.client("ecs")
        ecs.create_cluster(clusterName="multi")
        token = up.cais("ecs", "create-join-token", "--cluster", "multi").strip()
        machines = [
            Machine(tmp_path, i, up.port, token, zone)
            for i, zone in enumerate(("az-a", "az-a", "az-b"))
        ]
        try:

            def three_instances() -> list[str] | None:
                found = ecs.list_container_instances(cluster="multi")["containerInstanceArns"]
                return list(found) if len(found) == 3 else None

            arns = wait_for(three_instances)
            described = ecs.describe_container_instances(cluster="multi", containerInstances=arns)
            zone_of = {
                i["containerInstanceArn"]: next(
                    a["value"] for a in i["attributes"] if a["name"] == "ecs.availability-zone"
                )
                for i in described["containerInstances"]
            }
            ecs.register_task_definition(
                family="sleeper",
                networkMode="none",
                containerDefinitions=[
                    {
                        "name": "s",
                        "image": "busybox",
                        "memory": 16,
                        "command": ["sleep", "600"],
                        "stopTimeout": 1,
                    }
                ],
            )

            def run(count: int, **params: Any) -> list[str]:
                tasks = ecs.run_task(
                    cluster="multi", taskDefinition="sleeper", count=count, **params
                )["tasks"]
                arns_ = [t["taskArn"] for t in tasks]
                try:
                    ecs.get_waiter("tasks_running").wait(
                        cluster="multi", tasks=arns_, WaiterConfig=FAST
                    )
                except Exception:
                    stopped = ecs.describe_tasks(cluster="multi", tasks=arns_)["tasks"]
                    raise AssertionError(
                        [(t.get("stopCode"), t.get("stoppedReason")) for t in stopped]
                    ) from None
                return [t["containerInstanceArn"] for t in tasks]

            spread = run(
                4,
                placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}],
            )
            assert sorted(zone_of[a] for a in spread) == ["az-a", "az-a", "az-b", "az-b"]
            packed = run(3, placementStrategy=[{"type": "binpack", "field": "memory"}])
            assert len(set(packed)) == 1
            member = run(
                2,
                placementConstraints=[
                    {"type": "memberOf", "expression": "attribute:ecs.availability-zone == az-b"}
                ],
            )
            assert {zone_of[a] for a in member} == {"az-b"}
            # a machine that dies is marked disconnected and gets nothing new
            instance_of = {
                i["ec2InstanceId"]: i["containerInstanceArn"]
                for i in described["containerInstances"]
            }
            victim = machines[0]
            dead = instance_of[victim.instance_id()]
            assert zone_of[dead] == "az-a"
            victim.kill()
            wait_for(
                lambda: (
                    not ecs.describe_container_instances(
                        cluster="multi", containerInstances=[dead]
                    )["containerInstances"][0]["agentConnected"]
                ),
                timeout=90,
            )
            later = run(
                4,
                placementConstraints=[
                    {"type": "memberOf", "expression": "attribute:ecs.availability-zone == az-a"}
                ],
            )
            assert dead not in later and len(set(later)) == 1
        finally:
            for task in ecs.list_tasks(cluster="multi")["taskArns"]:
                ecs.stop_task(cluster="multi", task=task)
            for machine in machines:
                machine.close()
