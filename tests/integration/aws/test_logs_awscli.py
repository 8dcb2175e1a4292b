"""The ``aws`` CLI against cais: ``aws logs get-log-events`` (v1 from PyPI) and ``aws logs tail``
(v2 only; Debian's ``awscli`` package is v2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY
from cais.logs import InputEvent


def _aws_v1() -> str:
    path = Path(sys.executable).parent / "aws"
    if not path.exists():
        found = shutil.which("aws")
        assert found, "the aws CLI (PyPI awscli, in the test extra) is missing"
        return found
    return str(path)


def _aws_v2() -> str | None:
    for candidate in ("/usr/bin/aws", "/usr/local/bin/aws"):
        if not os.path.exists(candidate):
            continue
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
        if out.stdout.startswith("aws-cli/2"):
            return candidate
    return None


def run_aws(binary: str, edge: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "aws-config"
    credentials = tmp_path / "aws-credentials"
    config.touch()
    credentials.touch()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEFAULT_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [binary, "--endpoint-url", edge.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def task_logs(edge: Any) -> int:
    """A task's output, appended the way the engine's awslogs driver does it."""
    t = int(time.time() * 1000) - 5_000
    edge.logs.append(
        "/ecs/demo",
        "web/web/0123abcd",
        [InputEvent(t + i, f"request {i} served") for i in range(5)],
        create_group=True,
    )
    return t


def test_get_log_events_with_aws_cli(edge: Any, tmp_path: Path, task_logs: int) -> None:
    aws = _aws_v1()
    out = run_aws(
        aws, edge, tmp_path,
        "logs", "get-log-events", "--log-group-name", "/ecs/demo",
        "--log-stream-name", "web/web/0123abcd", "--start-from-head", "--output", "json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [e["message"] for e in doc["events"]] == [f"request {i} served" for i in range(5)]
    assert doc["nextForwardToken"].startswith("f/")

    groups = run_aws(aws, edge, tmp_path, "logs", "describe-log-groups", "--output", "json")
    assert json.loads(groups.stdout)["logGroups"][0]["logGroupName"] == "/ecs/demo"

    missing = run_aws(
        aws, edge, tmp_path,
        "logs", "get-log-events", "--log-group-name", "/ecs/nope", "--log-stream-name", "x",
    )  # fmt: skip
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_create_and_filter_with_aws_cli(edge: Any, tmp_path: Path) -> None:
    aws = _aws_v1()
    assert (
        run_aws(aws, edge, tmp_path, "logs", "create-log-group", "--log-group-name", "g").returncode
        == 0
    )
    assert (
        run_aws(
            aws, edge, tmp_path,
            "logs", "create-log-stream", "--log-group-name", "g", "--log-stream-name", "s",
        ).returncode
        == 0
    )  # fmt: skip
    t = int(time.time() * 1000)
    events = json.dumps(
        [{"timestamp": t, "message": "ERROR x"}, {"timestamp": t + 1, "message": "ok"}]
    )
    put = run_aws(
        aws, edge, tmp_path,
        "logs", "put-log-events", "--log-group-name", "g", "--log-stream-name", "s",
        "--log-events", events,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    found = run_aws(
        aws, edge, tmp_path,
        "logs", "filter-log-events", "--log-group-name", "g", "--filter-pattern", "ERROR",
        "--output", "json",
    )  # fmt: skip
    assert [e["message"] for e in json.loads(found.stdout)["events"]] == ["ERROR x"]


def test_aws_logs_tail(edge: Any, tmp_path: Path, task_logs: int) -> None:
    aws = _aws_v2()
    if aws is None:
        pytest.skip("`aws logs tail` needs AWS CLI v2 (Debian package awscli)")
    out = run_aws(aws, edge, tmp_path, "logs", "tail", "/ecs/demo", "--since", "1h")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 5
    assert all("web/web/0123abcd" in line for line in lines)
    assert [line.split(" ", 2)[2] for line in lines] == [f"request {i} served" for i in range(5)]
    short = run_aws(
        aws, edge, tmp_path,
        "logs", "tail", "/ecs/demo", "--since", "1h", "--format", "short",
        "--filter-pattern", "request 3",
    )  # fmt: skip
    assert short.returncode == 0, short.stderr
    assert short.stdout.strip().endswith("request 3 served")
    assert len(short.stdout.strip().splitlines()) == 1
