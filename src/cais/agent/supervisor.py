"""One supervisor per task: it brings the task from its known status to its desired one.

The supervisor loops over the transition table (``transitions.py``): look up (desired,
known), run the action, record the next known status, report. Containers are watched by
polling the engine (it is cheap: one SQLite read per container), so a supervisor also
notices exits and health changes that happened while no agent ran — that is how a
restarted agent adopts its tasks. Every change is written to the agent's table first, then
reported; nothing the supervisor knows lives only in memory except what it can ask again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cais.agent import plan
from cais.agent.awslogs import LogShipper, Send, log_target
from cais.agent.engine import ContainerView, TaskEngine
from cais.agent.model import (
    ESSENTIAL_CONTAINER_EXITED,
    ESSENTIAL_CONTAINER_EXITED_REASON,
    PAUSE_NAME,
    PENDING,
    RUNNING,
    STOPPED,
    TASK_FAILED_TO_START,
    ContainerRecord,
    TaskRecord,
)
from cais.agent.protocol import ContainerSpec, NetworkBinding, TaskSpec, TaskState
from cais.agent.transitions import next_step
from cais.errors import CaisError

log = logging.getLogger(__name__)

HEALTH = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}
LOG_DRAIN_TIMEOUT = 30.0


class RecordStore(Protocol):
    def save(self, spec: TaskSpec, record: TaskRecord) -> None: ...


Blocking = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Services:
    """What every supervisor of one agent shares."""

    engine: TaskEngine
    run: Blocking  # calls blocking code on a worker thread
    store: RecordStore
    report: Callable[[TaskState], None]  # queue a report (sent in order by the agent)
    send_logs: Send
    # whether an awslogs group exists (group, region); None: not asked
    log_group_exists: Callable[[str, str], Awaitable[bool]] | None = None
    runtime: str = "crun"
    watch_interval: float = 0.25
    log_flush_interval: float = 1.0


class TaskSupervisor:
    def __init__(self, spec: TaskSpec, record: TaskRecord, services: Services) -> None:
        self.spec = spec
        self.record = record
        self.services = services
        self._wake = asyncio.Event()
        self._reported: TaskState | None = None
        self._shippers: dict[str, asyncio.Task[None]] = {}
        self._exited: dict[str, asyncio.Event] = {}
        self._addresses: dict[str, str] = {}

    @property
    def arn(self) -> str:
        return self.spec.task_arn

    @property
    def finished(self) -> bool:
        return self.record.known == STOPPED

    def update(self, spec: TaskSpec) -> bool:
        """A new word from the control plane (today: only desired STOPPED matters);
        False when it says nothing new."""
        self.spec = replace(spec, containers=self.spec.containers, volumes=self.spec.volumes)
        if spec.desired_status == STOPPED and self.record.desired != STOPPED:
            self.record = replace(
                self.record, desired=STOPPED, stopped_reason=spec.stop_reason or ""
            )
            self._wake.set()
            return True
        return False

    async def run(self) -> None:
        """Work through the transition table until the task is STOPPED."""
        await self._commit(self.record)
        try:
            while (step := next_step(self.record.desired, self.record.known)) is not None:
                action: Callable[[], Awaitable[bool]] = getattr(self, step.action)
                try:
                    done = await action()
                except plan.PlanError as exc:
                    await self._fail(str(exc))
                    continue
                if done and step.next is not None:
                    await self._advance(step.next)
        finally:
            for shipper in self._shippers.values():
                shipper.cancel()

    # the actions of the table

    async def provision(self) -> bool:
        if self.spec.initialization_error:
            await self._fail(self.spec.initialization_error)
            return False
        record = self.record
        volumes = dict(record.volumes)
        for volume in self.spec.volumes:
            if volume.host_path or volume.name in volumes:
                continue
            name = plan.engine_volume_name(self.spec, volume)
            shared_only = volume.scope == "shared" and not volume.autoprovision
            if shared_only and not await self._call(self.services.engine.volume_exists, name):
                await self._fail(
                    "CannotCreateVolumeError: volume detection failed, volume "
                    f"'{name}' does not exist and autoprovision is set to false"
                )
                return False
            volumes[volume.name] = name
            await self._commit(replace(self.record, volumes=volumes))
            labels = plan.labels(self.spec, None, volume.name)
            await self._call(self.services.engine.create_volume, name, labels=labels)
        group = plan.task_group(self.spec)
        if group:
            try:
                await self._call(
                    self.services.engine.create_group, group, self.spec.cpu, self.spec.memory
                )
            except CaisError as exc:
                await self._fail(f"ResourceInitializationError: {exc}")
                return False
        if self.spec.network_mode == "awsvpc":
            return await self._provision_network()
        return True

    async def _provision_network(self) -> bool:
        engine = self.services.engine
        if self.record.pause_id:
            view = await self._call(engine.inspect, self.record.pause_id)
            if view.status == "running":
                return True
            await self._call(engine.remove, self.record.pause_id)
        name = plan.container_name(self.spec, "internalecspause")
        labels = plan.labels(self.spec, None, PAUSE_NAME)
        try:
            cid, address = await self._call(engine.start_pause, name, labels, plan.AWSVPC_NETWORK)
        except CaisError as exc:
            await self._fail(f"cannot set up the task's network: {exc}")
            return False
        await self._commit(replace(self.record, pause_id=cid, private_ipv4=address))
        return True

    async def pull(self) -> bool:
        await self._commit(replace(self.record, pull_started_at=time.time()))
        digests: dict[str, str] = {}
        for container in self.spec.containers:
            if self.record.desired == STOPPED:
                return False
            if container.image not in digests:
                try:
                    digests[container.image] = await self._call(
                        self.services.engine.ensure_image,
                        container.image,
                        container.registry_auth,
                    )
                except CaisError as exc:
                    reason = str(exc)
                    for other in self.spec.containers:
                        if other.image == container.image:
                            self._set_container(other.name, reason=reason)
                    await self._fail(reason)
                    return False
            self._set_container(container.name, image_digest=digests[container.image])
        await self._commit(replace(self.record, pull_stopped_at=time.time()))
        return True

    async def activate(self) -> bool:
        order = plan.start_order(self.spec)
        specs = {c.name: c for c in self.spec.containers}
        while True:
            await self._refresh()
            if self.record.desired == STOPPED:
                return False
            waiting = [n for n in order if self.record.container(n).last_status == PENDING]
            if not waiting:
                return True
            progressed = False
            for name in waiting:
                met = [
                    plan.condition_met(condition, self.record.container(other))
                    for other, condition in plan.dependencies(specs[name])
                ]
                if any(m is None for m in met):
                    reason = f"dependency of container {name} can never be met"
                    self._set_container(name, last_status=STOPPED, reason=reason)
                    await self._fail(reason)
                    return False
                if all(met):
                    if not await self._start_container(specs[name]):
                        return False
                    progressed = True
                    break  # look again: what started may unlock the next ones
            if not progressed:
                await self._sleep()

    async def watch(self) -> bool:
        await self._refresh()
        if self.record.desired != STOPPED:
            await self._sleep()
        return False

    async def deactivate(self) -> bool:
        return True  # nothing sends traffic to a task here (no load balancers yet)

    async def stop_containers(self) -> bool:
        engine = self.services.engine
        try:
            order = plan.start_order(self.spec)
        except plan.PlanError:
            order = [c.name for c in self.spec.containers]
        specs = {c.name: c for c in self.spec.containers}
        for name in reversed(order):
            record = self.record.container(name)
            if record.last_status == STOPPED:
                continue
            if not record.runtime_id or record.last_status == PENDING:
                self._set_container(name, last_status=STOPPED)
                await self._commit(self.record)
                continue
            view = await self._call(engine.stop, record.runtime_id, specs[name].stop_timeout)
            self._observe(name, view)
            if self.record.container(name).last_status != STOPPED:
                self._set_container(name, last_status=STOPPED)
            await self._commit(self.record)
        if self.record.pause_id:
            await self._call(engine.stop, self.record.pause_id, 2.0)
        await self._commit(replace(self.record, execution_stopped_at=time.time()))
        return True

    async def deprovision(self) -> bool:
        engine = self.services.engine
        for container in self.spec.containers:
            self._ship_logs(container)
        for event in self._exited.values():
            event.set()
        if self._shippers:
            _, pending = await asyncio.wait(self._shippers.values(), timeout=LOG_DRAIN_TIMEOUT)
            for shipper in pending:
                shipper.cancel()
        for record in self.record.containers:
            if record.runtime_id:
                await self._call(engine.remove, record.runtime_id)
        if self.record.pause_id:
            await self._call(engine.remove, self.record.pause_id)
        group = plan.task_group(self.spec)
        if group:
            await self._call(engine.remove_group, group)
        for volume in self.spec.volumes:
            name = self.record.volumes.get(volume.name)
            if name and volume.scope != "shared":
                await self._call(engine.remove_volume, name)
        return True

    async def finish(self) -> bool:
        return True

    # containers

    async def _start_container(self, spec: ContainerSpec) -> bool:
        engine = self.services.engine
        record = self.record.container(spec.name)
        missing = None if record.runtime_id else await self._missing_log_group(spec)
        if missing is not None:
            reason = (
                "CannotStartContainerError: failed to initialize logging driver: failed to "
                "create Cloudwatch log stream: ResourceNotFoundException: The specified log "
                f"group does not exist: {missing}"
            )
            self._set_container(spec.name, last_status=STOPPED, reason=reason)
            await self._fail(reason)
            return False
        try:
            cid = record.runtime_id
            if not cid:
                options = plan.run_options(
                    self.spec,
                    spec,
                    network=plan.NetworkPlan(
                        self.spec.network_mode,
                        pause_id=self.record.pause_id,
                        link_addresses=dict(self._addresses),
                    ),
                    volumes=self.record.volumes,
                    runtime=self.services.runtime,
                    cgroup_parent=self._group_path(),
                )
                name = plan.container_name(self.spec, spec.name)
                cid = await self._call(engine.create, name, spec.image, options)
                self._set_container(spec.name, runtime_id=cid)
                await self._commit(self.record)
            view = await self._call(engine.start, cid)
        except CaisError as exc:
            reason = f"CannotStartContainerError: {exc}"
            self._set_container(spec.name, last_status=STOPPED, reason=reason)
            await self._fail(reason)
            return False
        self._observe(spec.name, view)
        await self._commit(self.record)
        self._ship_logs(spec)
        return True

    def _group_path(self) -> str:
        group = plan.task_group(self.spec)
        return self.services.engine.group_path(group) if group else ""

    async def _refresh(self) -> None:
        """Look at every started container; apply the essential rule to what exited."""
        live = [c for c in self.record.containers if c.runtime_id and c.last_status == RUNNING]
        pause = self.record.pause_id
        if not live and not pause:
            return
        engine = self.services.engine

        def inspect_all() -> tuple[list[ContainerView], ContainerView | None]:
            views = [engine.inspect(c.runtime_id) for c in live]
            return views, engine.inspect(pause) if pause else None

        views, pause_view = await self.services.run(inspect_all)
        for record, view in zip(live, views, strict=True):
            self._observe(record.name, view)
        if pause_view is not None and pause_view.status != "running":
            # the task's network namespace is gone: ECS stops the task
            self.record = self.record.stopping(
                ESSENTIAL_CONTAINER_EXITED, f"{ESSENTIAL_CONTAINER_EXITED_REASON}: {PAUSE_NAME}"
            )
        await self._commit(self.record)

    def _observe(self, name: str, view: ContainerView) -> None:
        """Fold what the engine says about container ``name`` into the record."""
        spec = next(c for c in self.spec.containers if c.name == name)
        if view.address:
            self._addresses[name] = view.address
        if view.status == "running":
            self._set_container(
                name,
                last_status=RUNNING,
                health=HEALTH.get(view.health, "UNKNOWN"),
                bindings=self._bindings(spec, view),
            )
            return
        if view.status == "created":
            return
        reason = self.record.container(name).reason
        if view.oom_killed:
            reason = "OutOfMemoryError: Container killed due to memory usage"
        elif view.status == "missing":
            reason = reason or "the container is gone from the engine"
        self._set_container(
            name, last_status=STOPPED, exit_code=view.exit_code, reason=reason, bindings=()
        )
        if name in self._exited:
            self._exited[name].set()
        if spec.essential and self.record.desired != STOPPED:
            self.record = self.record.stopping(
                ESSENTIAL_CONTAINER_EXITED, ESSENTIAL_CONTAINER_EXITED_REASON
            )

    def _bindings(self, spec: ContainerSpec, view: ContainerView) -> tuple[NetworkBinding, ...]:
        if self.spec.network_mode == "host":
            return tuple(
                NetworkBinding(m.container_port, m.host_port or m.container_port, m.protocol)
                for m in spec.port_mappings
            )
        if self.spec.network_mode == "bridge":
            return view.bindings
        return ()

    def _set_container(self, name: str, **changes: Any) -> None:
        current: ContainerRecord = self.record.container(name)
        self.record = self.record.with_container(replace(current, **changes))

    # awslogs

    async def _missing_log_group(self, spec: ContainerSpec) -> str | None:
        """The awslogs group of ``spec`` when it does not exist and may not be created
        (``awslogs-create-group`` not true): ECS fails the container's start then."""
        target = log_target(self.spec, spec, "")
        check = self.services.log_group_exists
        if target is None or target.create_group or check is None:
            return None
        return None if await check(target.group, target.region) else target.group

    def _ship_logs(self, spec: ContainerSpec) -> None:
        record = self.record.container(spec.name)
        if spec.name in self._shippers or not record.runtime_id:
            return
        target = log_target(self.spec, spec, record.runtime_id)
        if target is None:
            return
        exited = self._exited.setdefault(spec.name, asyncio.Event())
        if record.last_status == STOPPED:
            exited.set()

        async def progress(offset: int) -> None:
            self._set_container(spec.name, log_offset=offset)
            await self._call(self.services.store.save, self.spec, self.record)

        shipper = LogShipper(
            target=target,
            path=self.services.engine.log_path(record.runtime_id),
            offset=record.log_offset,
            send=self.services.send_logs,
            run=self.services.run,
            progress=progress,
            flush_interval=self.services.log_flush_interval,
        )
        self._shippers[spec.name] = asyncio.create_task(
            shipper.follow(exited.is_set), name=f"awslogs {spec.name}"
        )

    # bookkeeping

    async def _fail(self, reason: str) -> None:
        await self._commit(self.record.stopping(TASK_FAILED_TO_START, reason))

    async def _advance(self, known: str) -> None:
        record = replace(self.record, known=known)
        if known == RUNNING and record.started_at is None:
            record = replace(record, started_at=time.time())
        await self._commit(record)

    async def _commit(self, record: TaskRecord) -> None:
        """Keep ``record``, write it down, and report it if what it says changed."""
        self.record = record
        await self._call(self.services.store.save, self.spec, record)
        state = self.record.state()
        if state != self._reported:
            self._reported = state
            self.services.report(state)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            return await self.services.run(lambda: fn(*args, **kwargs))
        return await self.services.run(fn, *args)

    async def _sleep(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.services.watch_interval)
        self._wake.clear()
