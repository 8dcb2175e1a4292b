"""The aws CLI against a real ``cais up`` with a fake agent: register, run, wait, read the
logs, stop, wait, read the stop code; errors as the CLI prints them."""

from __future__ import annotations

import json
from pathlib import Path

from ecs_up import aws, aws_run, ecs_up

DEFINITION = {
    "family": "hello",
    "containerDefinitions": [
        {
            "name": "db",
            "image": "busybox",
            "memory": 64,
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
        },
        {
            "name": "web",
            "image": "busybox",
            "memory": 64,
            "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/hello",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "hello",
                    "awslogs-create-group": "true",
                },
            },
        },
    ],
}


def test_the_aws_cli_runs_waits_for_and_stops_a_task(tmp_path: Path) -> None:
    spec = tmp_path / "hello.json"
    spec.write_text(json.dumps(DEFINITION))
    with ecs_up(tmp_path / "up") as up:
        up.agent("a")
        assert aws(up, tmp_path, "ecs", "create-cluster")["cluster"]["status"] == "ACTIVE"
        registered = aws(
            up, tmp_path, "ecs", "register-task-definition", "--cli-input-json", f"file://{spec}"
        )
        assert registered["taskDefinition"]["taskDefinitionArn"].endswith("task-definition/hello:1")
        run = aws(up, tmp_path, "ecs", "run-task", "--task-definition", "hello", "--count", "1")
        arn = run["tasks"][0]["taskArn"]
        aws(up, tmp_path, "ecs", "wait", "tasks-running", "--tasks", arn)
        task = aws(up, tmp_path, "ecs", "describe-tasks", "--tasks", arn)["tasks"][0]
        assert task["lastStatus"] == "RUNNING" and task["healthStatus"] == "HEALTHY"

        stream = f"hello/web/{arn.rsplit('/', 1)[1]}"
        events = aws(
            up,
            tmp_path,
            "logs",
            "get-log-events",
            "--log-group-name",
            "/ecs/hello",
            "--log-stream-name",
            stream,
        )["events"]
        assert [e["message"] for e in events] == ["hello from web"]

        aws(up, tmp_path, "ecs", "stop-task", "--task", arn, "--reason", "cli says stop")
        aws(up, tmp_path, "ecs", "wait", "tasks-stopped", "--tasks", arn)
        task = aws(up, tmp_path, "ecs", "describe-tasks", "--tasks", arn)["tasks"][0]
        assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "cli says stop")

        listed = aws(up, tmp_path, "ecs", "list-container-instances")["containerInstanceArns"]
        assert len(listed) == 1


def test_the_aws_cli_prints_ecs_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "family": "bad",
                "containerDefinitions": [
                    {"name": "a", "image": "x", "memory": 64},
                    {"name": "a", "image": "x", "memory": 64},
                ],
            }
        )
    )
    with ecs_up(tmp_path / "up") as up:
        before = up.rows()
        done = aws_run(
            up, tmp_path, "ecs", "register-task-definition", "--cli-input-json", f"file://{bad}"
        )
        assert done.returncode != 0
        assert (
            "An error occurred (ClientException) when calling the RegisterTaskDefinition "
            "operation: Container names must be unique within a Task Definition." in done.stderr
        )
        done = aws_run(up, tmp_path, "ecs", "list-tasks", "--cluster", "nope")
        assert "(ClusterNotFoundException)" in done.stderr and "Cluster not found." in done.stderr
        assert up.rows() == before
