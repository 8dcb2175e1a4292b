"""A fake engine and an in-memory control plane for the agent's unit tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cais.agent import protocol as p
from cais.agent.client import SessionExpiredError
from cais.agent.engine import ContainerView, ImagePullError
from cais.agent.model import TaskRecord
from cais.agent.supervisor import Services, TaskSupervisor
from cais.runtime.configure import RunOptions


@dataclass
class FakeEngine:
    """Containers as values; ``calls`` records every operation in order."""

    log_dir: Path = Path("/nonexistent")
    missing_images: set[str] = field(default_factory=set)
    fail_start: set[str] = field(default_factory=set)  # container names whose start fails
    views: dict[str, ContainerView] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # id → engine name
    options: dict[str, RunOptions] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    volumes: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_container(self, name: str) -> str:
        """The ID of the task container called ``name`` (ECS name, label)."""
        for cid, options in self.options.items():
            if options.labels.get("com.amazonaws.ecs.container-name") == name:
                return cid
        raise KeyError(name)

    def exit(self, name: str, code: int) -> None:
        cid = self.by_container(name)
        self.views[cid] = ContainerView("exited", exit_code=code)

    def set_health(self, name: str, health: str) -> None:
        cid = self.by_container(name)
        self.views[cid] = replace(self.views[cid], health=health)

    # TaskEngine

    def ensure_image(self, image: str, auth: p.RegistryAuth | None) -> str:
        self.calls.append(("pull", image))
        if image in self.missing_images:
            raise ImagePullError(f"CannotPullContainerError: pull image {image}: not found")
        return f"sha256:{len(image):064x}"

    def create(self, name: str, image: str, options: RunOptions) -> str:
        cid = f"{len(self.views):064x}"
        self.views[cid] = ContainerView("created")
        self.names[cid] = name
        self.options[cid] = options
        self.calls.append(("create", options.labels["com.amazonaws.ecs.container-name"]))
        return cid

    def start(self, cid: str) -> ContainerView:
        name = self.options[cid].labels["com.amazonaws.ecs.container-name"]
        self.calls.append(("start", name))
        if name in self.fail_start:
            from cais.errors import CaisError

            raise CaisError("executable file not found")
        health = "starting" if self.options[cid].healthcheck else ""
        bindings = tuple(
            p.NetworkBinding(int(spec.split(":")[1].split("/")[0]), 40000 + i)
            for i, spec in enumerate(self.options[cid].publish)
        )
        self.views[cid] = ContainerView("running", health=health, bindings=bindings)
        return self.views[cid]

    def inspect(self, cid: str) -> ContainerView:
        return self.views.get(cid, ContainerView("missing"))

    def stop(self, cid: str, timeout: float) -> ContainerView:
        name = self.options[cid].labels["com.amazonaws.ecs.container-name"]
        self.calls.append(("stop", name))
        if self.views[cid].status == "running":
            self.views[cid] = ContainerView("exited", exit_code=143)
        return self.views[cid]

    def remove(self, cid: str) -> None:
        self.calls.append(("remove", self.names.get(cid, cid)))
        self.views.pop(cid, None)

    def create_volume(self, name: str, *, labels: dict[str, str]) -> None:
        self.calls.append(("volume", name))
        self.volumes.add(name)

    def volume_exists(self, name: str) -> bool:
        return name in self.volumes

    def remove_volume(self, name: str) -> None:
        self.calls.append(("remove-volume", name))
        self.volumes.discard(name)

    def group_path(self, name: str) -> str:
        return f"cais/{name}"

    def create_group(self, name: str, cpu_units: int | None, memory_mib: int | None) -> None:
        self.calls.append(("group", name, cpu_units, memory_mib))

    def remove_group(self, name: str) -> None:
        self.calls.append(("remove-group", name))

    def start_pause(self, name: str, labels: dict[str, str], network: str) -> tuple[str, str]:
        cid = "f" * 64
        self.views[cid] = ContainerView("running", address="10.90.7.2")
        self.options[cid] = RunOptions(labels=labels, network=network)
        self.names[cid] = name
        self.calls.append(("pause", network))
        return cid, "10.90.7.2"

    def log_path(self, cid: str) -> Path:
        return self.log_dir / f"{cid}.log"


@dataclass
class MemoryStore:
    saved: dict[str, TaskRecord] = field(default_factory=dict)

    def save(self, spec: p.TaskSpec, record: TaskRecord) -> None:
        self.saved[spec.task_arn] = record


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """Blocking calls run inline: the fakes never block."""
    return fn(*args)


@dataclass
class Harness:
    engine: FakeEngine = field(default_factory=FakeEngine)
    store: MemoryStore = field(default_factory=MemoryStore)
    reports: list[p.TaskState] = field(default_factory=list)
    logs: list[p.LogsRequest] = field(default_factory=list)
    missing_log_groups: set[str] = field(default_factory=set)
    asked_log_groups: list[tuple[str, str]] = field(default_factory=list)

    def services(self) -> Services:
        async def send(request: p.LogsRequest) -> None:
            self.logs.append(request)

        async def log_group_exists(group: str, region: str) -> bool:
            self.asked_log_groups.append((group, region))
            return group not in self.missing_log_groups

        return Services(
            engine=self.engine,
            run=inline,
            store=self.store,
            report=self.reports.append,
            send_logs=send,
            log_group_exists=log_group_exists,
            watch_interval=0.01,
            log_flush_interval=0.01,
        )

    def supervisor(self, spec: p.TaskSpec) -> TaskSupervisor:
        return TaskSupervisor(spec, TaskRecord.new(spec), self.services())


async def until(check: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.005)


@dataclass
class MemoryControlPlane:
    """The protocol's server side in memory; ``expire()`` makes the next call answer 401."""

    tasks: list[p.TaskSpec] = field(default_factory=list)
    registrations: list[p.RegisterRequest] = field(default_factory=list)
    reports: list[p.TaskState] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    expired: bool = False

    async def register(self, request: p.RegisterRequest) -> p.RegisterResponse:
        self.registrations.append(request)
        session = f"s{len(self.registrations)}"
        self.sessions.append(session)
        self.expired = False
        return p.RegisterResponse("arn:ci/1", request.instance_id, session, 1.0)

    def _check(self, session: str) -> None:
        if self.expired or session != self.sessions[-1]:
            raise SessionExpiredError("poll: unknown session", status=401)

    async def poll(self, session: str, request: p.PollRequest) -> p.PollResponse:
        self._check(session)
        tasks, self.tasks = tuple(self.tasks), []
        if not tasks:
            await asyncio.sleep(0.01)
        return p.PollResponse(tasks)

    async def report(self, session: str, request: p.ReportRequest) -> None:
        self._check(session)
        self.reports.extend(request.tasks)

    async def logs(self, session: str, request: p.LogsRequest) -> None:
        self._check(session)

    async def log_group(self, session: str, request: p.LogGroupRequest) -> p.LogGroupResponse:
        self._check(session)
        return p.LogGroupResponse(exists=True)

    async def deregister(self, session: str) -> None:
        return None

    async def close(self) -> None:
        return None
