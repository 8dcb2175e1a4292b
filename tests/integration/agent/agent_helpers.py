"""What the agent tests share: agent processes, container specs, report views."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cais.agent import protocol as p
from cais.settings import Settings
from helpers import Cli


def container(name: str, *, image: str = "busybox", **fields: Any) -> p.ContainerSpec:
    return p.ContainerSpec(name=name, image=image, **fields)


def states_of(state: p.TaskState) -> dict[str, p.ContainerState]:
    return {c.name: c for c in state.containers}


def statuses(history: list[p.TaskState]) -> list[str]:
    """The task's statuses in the order reported, each once."""
    out: list[str] = []
    for state in history:
        if not out or out[-1] != state.last_status:
            out.append(state.last_status)
    return out


@dataclass
class AgentProcesses:
    """``cais agent`` processes of one test (each stopped by its PID at the end)."""

    settings: Settings
    url: str
    log: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *extra: str, token: str = "join-token") -> subprocess.Popen[bytes]:
        env = Cli(self.settings).env()
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cais.cli.launch",
                    "agent",
                    "--join",
                    self.url,
                    "--token",
                    token,
                    "--poll-wait",
                    "5",
                    *extra,
                ],
                env=env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(10)

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")
        return ""
