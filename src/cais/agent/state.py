"""What the agent keeps under the cais root, so that a killed agent loses nothing.

``<root>/agent/identity.json``  the instance ID (stable for this root) and the last
                                container instance ARN
``agent_tasks`` (SQLite table in ``<root>/cais.db``)  per task: its spec and its record
``<root>/agent/agent.lock``     one agent per root (``cais agent`` or the one in ``cais up``)

Records are written before they are reported: a report never says more than the table.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cais.agent.model import TaskRecord
from cais.agent.protocol import TaskSpec
from cais.errors import ConflictError
from cais.fsutil import atomic_write
from cais.runtime.model import from_json, to_json
from cais.state.sqlite import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS agent_tasks (
        task_arn TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        record TEXT NOT NULL,
        updated REAL NOT NULL)""",
)


@dataclass(frozen=True)
class Identity:
    instance_id: str
    container_instance_arn: str = ""


class AgentState:
    def __init__(self, root: Path, db: Database) -> None:
        self.dir = root / "agent"
        self.db = db
        self._lock_fd: int | None = None

    # one agent per root

    def lock(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / "agent.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConflictError(
                f"another agent (pid {holder}) runs on the cais root {self.dir.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # identity

    def identity(self) -> Identity:
        """This root's identity; made (and kept) the first time."""
        path = self.dir / "identity.json"
        try:
            data = json.loads(path.read_text())
            return Identity(data["instance_id"], data.get("container_instance_arn", ""))
        except (OSError, ValueError, KeyError):
            pass
        identity = Identity(f"i-{uuid.uuid4().hex[:17]}")
        self.save_identity(identity)
        return identity

    def save_identity(self, identity: Identity) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(
            self.dir / "identity.json",
            json.dumps(
                {
                    "instance_id": identity.instance_id,
                    "container_instance_arn": identity.container_instance_arn,
                }
            ).encode(),
        )

    # tasks

    def _schema(self) -> None:
        self.db.ensure_schema("agent_tasks", _SCHEMA)

    def save(self, spec: TaskSpec, record: TaskRecord) -> None:
        self._schema()
        self.db.execute(
            "INSERT INTO agent_tasks (task_arn, spec, record, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(task_arn) DO UPDATE SET spec = excluded.spec, "
            "record = excluded.record, updated = excluded.updated",
            (
                spec.task_arn,
                json.dumps(to_json(spec)),
                json.dumps(to_json(record)),
                time.time(),
            ),
        )

    def load(self) -> list[tuple[TaskSpec, TaskRecord]]:
        self._schema()
        rows = self.db.query("SELECT spec, record FROM agent_tasks ORDER BY updated")
        return [
            (
                from_json(TaskSpec, json.loads(row["spec"])),
                from_json(TaskRecord, json.loads(row["record"])),
            )
            for row in rows
        ]

    def prune(self, before: float) -> int:
        """Drop finished tasks last written before ``before`` (epoch seconds)."""
        self._schema()
        stopped = [
            row["task_arn"]
            for row in self.db.query(
                "SELECT task_arn, record FROM agent_tasks WHERE updated < ?", (before,)
            )
            if json.loads(row["record"]).get("known") == "STOPPED"
        ]
        for arn in stopped:
            self.forget(arn)
        return len(stopped)

    def forget(self, task_arn: str) -> None:
        self._schema()
        self.db.execute("DELETE FROM agent_tasks WHERE task_arn = ?", (task_arn,))
