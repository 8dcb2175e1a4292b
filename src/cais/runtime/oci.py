"""OCI runtimes (crun, runc) behind one protocol; both run as ``<binary> --root DIR …``.

The runtime keeps its own state under ``<runroot>/runtime/<name>``. Creating a container is
conmon's job (see ``conmon.py``); this module does the rest of the lifecycle.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cais.errors import CaisError, NotFoundError

RUNTIMES = ("crun", "runc")


class RuntimeError_(CaisError):
    """The OCI runtime refused an operation; the message carries what it said."""


@dataclass(frozen=True)
class RuntimeState:
    id: str
    status: str  # creating, created, running, paused, stopped
    pid: int


class OciRuntime(Protocol):
    name: str
    path: str
    state_root: Path

    def state(self, cid: str) -> RuntimeState | None: ...

    def knows(self, cid: str) -> bool: ...

    def start(self, cid: str) -> None: ...

    def kill(self, cid: str, signal: str, *, all_processes: bool = False) -> None: ...

    def delete(self, cid: str, *, force: bool = False) -> None: ...

    def pause(self, cid: str) -> None: ...

    def resume(self, cid: str) -> None: ...

    def pids(self, cid: str) -> list[int]: ...

    def exec_command(
        self, cid: str, process_file: Path, *, tty: bool, detach: bool, pid_file: Path | None = None
    ) -> list[str]: ...

    def global_args(self) -> list[str]: ...


class CliRuntime:
    """crun and runc share their command line for everything cais needs."""

    def __init__(self, name: str, runroot: Path) -> None:
        if name not in RUNTIMES:
            raise CaisError(f"unknown OCI runtime {name!r}: choose crun or runc")
        path = shutil.which(name)
        if path is None:
            raise CaisError(f"OCI runtime {name} is not installed (Debian package {name})")
        self.name = name
        self.path = path
        self.state_root = runroot / "runtime" / name

    def global_args(self) -> list[str]:
        return [self.path, "--root", str(self.state_root)]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.global_args(), *args], capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip().splitlines()
            text = message[-1] if message else f"exit status {proc.returncode}"
            if "does not exist" in text or "not found" in text.lower():
                raise NotFoundError(f"{self.name} {args[0]}: {text}")
            raise RuntimeError_(f"{self.name} {args[0]}: {text}")
        return proc

    def knows(self, cid: str) -> bool:
        """Whether the runtime keeps state for ``cid`` (cheaper than asking it)."""
        return (self.state_root / cid).exists()

    def state(self, cid: str) -> RuntimeState | None:
        proc = self._run("state", cid, check=False)
        if proc.returncode != 0:
            return None
        doc = json.loads(proc.stdout)
        return RuntimeState(doc["id"], doc["status"], int(doc.get("pid") or 0))

    def start(self, cid: str) -> None:
        self._run("start", cid)

    def kill(self, cid: str, signal: str, *, all_processes: bool = False) -> None:
        args = ["kill", *(["--all"] if all_processes else []), cid, signal]
        self._run(*args)

    def delete(self, cid: str, *, force: bool = False) -> None:
        proc = self._run("delete", *(["--force"] if force else []), cid, check=False)
        if proc.returncode != 0 and self.state(cid) is not None:
            raise RuntimeError_(f"{self.name} delete: {proc.stderr.strip()}")

    def pause(self, cid: str) -> None:
        self._run("pause", cid)

    def resume(self, cid: str) -> None:
        self._run("resume", cid)

    def pids(self, cid: str) -> list[int]:
        proc = self._run("ps", "--format", "json", cid)
        return [int(p) for p in json.loads(proc.stdout or "[]")]

    def exec_command(
        self, cid: str, process_file: Path, *, tty: bool, detach: bool, pid_file: Path | None = None
    ) -> list[str]:
        args = [*self.global_args(), "exec", "--process", str(process_file)]
        if tty:
            args.append("--tty")
        if detach:
            args.append("--detach")
        if pid_file is not None:
            args += ["--pid-file", str(pid_file)]
        return [*args, cid]


def runtime_for(name: str, runroot: Path) -> CliRuntime:
    return CliRuntime(name, runroot)
