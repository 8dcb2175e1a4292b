"""``cais up`` in a subprocess for the ECS tests: its own roots under a temporary directory,
a free port on 127.0.0.1, a short agent heartbeat; boto3, the aws CLI and fake agents
pointed at it. Every process a test starts is stopped by its PID."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY
from ecs_fake_agent import FakeAgent

REGION = "us-east-1"
ACCOUNT = "000000000000"
HEARTBEAT = "1s"
FAST = {"Delay": 1, "MaxAttempts": 30}


@dataclass
class EcsUp:
    base: Path
    process: subprocess.Popen[bytes]
    port: int
    args: tuple[str, ...] = ()
    agents: list[FakeAgent] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return _env(self.base)

    def cais(self, *args: str) -> str:
        """Run ``cais ARGS`` on this root; its stdout (it must succeed)."""
        done = subprocess.run(
            [sys.executable, "-m", "cais.cli.launch", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def client(self, service: str = "ecs") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=DEFAULT_ACCESS_KEY_ID,
            aws_secret_access_key=DEFAULT_SECRET_ACCESS_KEY,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def agent(self, hostname: str, *, token: str | None = None, **options: Any) -> FakeAgent:
        """A fake agent joined with ``token`` (the local agent's by default), started."""
        options.setdefault("poll_wait", 1.0)
        joined = token or self.cais("ecs", "local-join-token").strip()
        agent = FakeAgent(self.url, joined, hostname=hostname, **options).start()
        self.agents.append(agent)
        return agent

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def restart(self) -> None:
        """Stop and start again on the same roots and port (agents keep running)."""
        self.stop()
        self.process = _spawn(self.base, self.port, self.args)[0]

    def rows(self) -> list[tuple[Any, ...]]:
        """Every ECS record: compare two to see that nothing changed."""
        with sqlite3.connect(self.base / "cais" / "cais.db", timeout=30) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name LIKE 'ecs_%' AND name != 'ecs_meta'"
                )
            ]
            found = [(t, *r) for t in tables for r in conn.execute(f"SELECT * FROM {t}")]
        # last_seen moves with every heartbeat: leave it out of the comparison
        return sorted((r for r in found if r[0] != "ecs_instances"), key=repr)


def _env(base: Path) -> dict[str, str]:
    """The roots of this ``cais up``, and a cgroup parent of its own for its local agent's
    containers (so that other tests' leak checks never see them)."""
    return {
        **os.environ,
        "CAIS_ROOT": str(base / "cais"),
        "CAIS_RUNROOT": str(base / "run"),
        "CAIS_CGROUP_PARENT": "cais-test-" + hashlib.sha256(str(base).encode()).hexdigest()[:8],
    }


def _spawn(base: Path, port: int, args: tuple[str, ...]) -> tuple[subprocess.Popen[bytes], int]:
    env = _env(base)
    log = base / f"up-{time.monotonic_ns()}.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cais.cli.launch",
                "up",
                "--port",
                str(port),
                "--agent-heartbeat",
                HEARTBEAT,
                "--quiet",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    found = re.match(r"cais up: serving on http://[^:]+:(\d+)", line)
    if found is None:
        process.kill()
        process.wait()
        raise AssertionError(f"cais up did not start: {line!r} {log.read_text()}")
    return process, int(found.group(1))


@contextmanager
def ecs_up(base: Path, *args: str, local_agent: bool = False) -> Iterator[EcsUp]:
    """``cais up`` for a test; without its own local agent unless asked (tests of the control
    plane bring fake agents, which a real one would compete with for placements)."""
    args = args if local_agent else (*args, "--no-local-agent")
    base.mkdir(parents=True, exist_ok=True)
    process, port = _spawn(base, 0, args)
    up = EcsUp(base, process, port, args)
    try:
        yield up
    finally:
        for agent in up.agents:
            agent.stop()
        assert up.stop() == 0
        parent = _env(base)["CAIS_CGROUP_PARENT"]
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            with contextlib.suppress(OSError):
                (hierarchy / parent).rmdir()


def aws_env(tmp: Path) -> dict[str, str]:
    config, credentials = tmp / "aws-config", tmp / "aws-credentials"
    config.touch()
    credentials.touch()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "AWS_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEFAULT_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    }


def aws_run(up: EcsUp, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "aws"
    assert binary.exists(), "the aws CLI (PyPI awscli, in the test extra) is missing"
    return subprocess.run(
        [str(binary), "--endpoint-url", up.url, *args],
        capture_output=True,
        text=True,
        env=aws_env(tmp),
        timeout=120,
        check=False,
    )


def aws(up: EcsUp, tmp: Path, *args: str) -> Any:
    """``aws --endpoint-url … ARGS`` as JSON (it must succeed)."""
    done = aws_run(up, tmp, *args)
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else None
