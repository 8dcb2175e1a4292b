"""The agent: register, poll (the heartbeat), one supervisor per task, reports in order.

The agent keeps working when the control plane is away: supervisors go on watching their
containers (an essential exit still stops its task), reports wait in order, and the agent
registers again — same instance ID — as soon as the control plane answers (a restarted
control plane answers 401 to the old session). Stopping the agent (SIGTERM) stops only the
agent: containers keep running and the next agent on this root adopts them.

What the agent assumes of the protocol's server side (``protocol.py`` leaves it open):

- a ``poll`` answer lists tasks that are new or changed; each is an upsert, and a task it
  does not list is unchanged. A desired STOPPED for a task the agent never ran is
  answered with a STOPPED report (its containers STOPPED, never started).
- ``known`` in a poll holds every task of the agent: those it runs with their status, and
  the finished ones as STOPPED for ``FINISHED_TTL`` (3 hours, the ECS agent's clean-up
  wait) after the control plane accepted their STOPPED report — so a control plane that
  lists tasks "desired STOPPED, not known as STOPPED" hears of them once.
- ``stop_code``/``stopped_reason`` are set by the agent only for stops it decides
  (TaskFailedToStart, EssentialContainerExited); a stop the control plane asked for is
  reported with its ``stop_reason`` and an empty ``stop_code`` (the control plane keeps
  its own, e.g. UserInitiated).
- after every (re-)registration the agent reports again what it knows of each task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from cais import __version__
from cais.agent import protocol as p
from cais.agent.client import (
    ControlPlane,
    ControlPlaneError,
    ControlPlaneUnavailableError,
    SessionExpiredError,
)
from cais.agent.engine import TaskEngine
from cais.agent.machine import DEFAULT_MEMORY_RESERVE, attributes, resources
from cais.agent.model import STOPPED, TaskRecord
from cais.agent.state import AgentState, Identity
from cais.agent.supervisor import Blocking, Services, TaskSupervisor

log = logging.getLogger(__name__)

BACKOFF_START = 0.5
BACKOFF_MAX = 15.0
FINISHED_TTL = 3 * 3600.0  # how long a finished task stays in ``known`` (and the table)
PRUNE_INTERVAL = 600.0
NO_NEWS_PAUSE = 0.5
LOG_GROUP_TRIES = 4  # asking whether a log group exists while the control plane is away


@dataclass(frozen=True)
class AgentOptions:
    cluster: str = "default"
    token: str = ""
    attributes: tuple[p.Attribute, ...] = ()
    availability_zone: str = ""
    instance_type: str = ""
    hostname: str = ""
    memory_reserve: int = DEFAULT_MEMORY_RESERVE
    poll_wait: float = 20.0
    watch_interval: float = 0.25
    log_flush_interval: float = 1.0
    runtime: str = "crun"


class Backoff:
    def __init__(self) -> None:
        self.delay = BACKOFF_START

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, BACKOFF_MAX)
        return delay

    def reset(self) -> None:
        self.delay = BACKOFF_START


class Agent:
    def __init__(
        self,
        *,
        control_plane: ControlPlane,
        engine: TaskEngine,
        state: AgentState,
        run: Blocking,
        options: AgentOptions,
        machine: Callable[[], p.Resources] | None = None,
    ) -> None:
        self.control_plane = control_plane
        self.engine = engine
        self.state = state
        self.run_blocking = run
        self.options = options
        self.machine = machine or (lambda: resources(memory_reserve=options.memory_reserve))
        self.supervisors: dict[str, TaskSupervisor] = {}
        self.finished: dict[str, float] = {}  # task ARN → when it left the supervisors
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._pruned_at = time.time()
        self._reports: list[p.TaskState] = []
        self._report_ready = asyncio.Event()
        self._known_changed = asyncio.Event()  # a task's state changed since the last poll
        self._session = ""
        self._session_lock = asyncio.Lock()
        self.identity: Identity | None = None
        self.registration: p.RegisterResponse | None = None
        self.services = Services(
            engine=engine,
            run=run,
            store=state,
            report=self._queue_report,
            send_logs=self._send_logs,
            log_group_exists=self._log_group_exists,
            runtime=options.runtime,
            watch_interval=options.watch_interval,
            log_flush_interval=options.log_flush_interval,
        )

    # the whole life of the agent

    async def run(self, stop: asyncio.Event) -> None:
        """Adopt what the root's table knows, register, poll until ``stop`` is set."""
        self.identity = await self.run_blocking(self.state.identity)
        now = time.time()
        await self.run_blocking(self.state.prune, now - FINISHED_TTL)
        for spec, record in await self.run_blocking(self.state.load):
            if record.known == STOPPED:
                self.finished[spec.task_arn] = now
            else:
                self._supervise(spec, record)
        reporter = asyncio.create_task(self._report_loop(), name="agent reports")
        try:
            await self._until(stop, self._register(first=True))
            if not stop.is_set():
                await self._until(stop, self._poll_loop())
        finally:
            await self._shutdown(reporter)

    async def _until(self, stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` until it ends or ``stop`` is set (or we are cancelled: cais up)."""
        job = asyncio.ensure_future(work)
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (job, stopper):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if job.done() and not job.cancelled():
            job.result()

    async def _shutdown(self, reporter: asyncio.Task[None]) -> None:
        if self._reports:  # a last chance for what is queued, briefly
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._flush_reports(), 2.0)
        for task in (reporter, *self._tasks.values()):
            task.cancel()
        for task in (reporter, *self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.control_plane.close()

    # registration

    async def _register(self, *, first: bool = False, expired: str = "") -> None:
        """Register (again): until it works; a refusal of the very first one is fatal."""
        async with self._session_lock:
            if expired and self._session != expired:
                return  # someone registered again already
            backoff = Backoff()
            while True:
                try:
                    await self._register_once()
                    return
                except ControlPlaneError as exc:
                    if first:
                        raise
                    log.error("registration refused: %s", exc)
                except ControlPlaneUnavailableError as exc:
                    log.warning("cannot register yet: %s", exc)
                await asyncio.sleep(backoff.next())

    async def _register_once(self) -> None:
        assert self.identity is not None
        machine = await self.run_blocking(self.machine)
        request = p.RegisterRequest(
            cluster=self.options.cluster,
            token=self.options.token,
            hostname=self.options.hostname or socket.gethostname(),
            resources=machine,
            attributes=attributes(
                availability_zone=self.options.availability_zone,
                instance_type=self.options.instance_type,
                extra=self.options.attributes,
            ),
            agent_version=__version__,
            instance_id=self.identity.instance_id,
        )
        response = await self.control_plane.register(request)
        self.registration = response
        self._session = response.session_token
        if response.instance_id and response.instance_id != self.identity.instance_id:
            log.warning("the control plane calls this instance %s", response.instance_id)
        self.identity = Identity(self.identity.instance_id, response.container_instance_arn)
        await self.run_blocking(self.state.save_identity, self.identity)
        log.info("registered as %s", response.container_instance_arn)
        # a control plane that forgot us hears everything we know again
        for supervisor in self.supervisors.values():
            self._queue_report(supervisor.record.state())

    # polling

    async def _poll_loop(self) -> None:
        backoff = Backoff()
        while True:
            session = self._session
            wait = self.options.poll_wait
            if self.registration is not None and self.registration.heartbeat_seconds > 0:
                wait = min(wait, self.registration.heartbeat_seconds)
            self._known_changed.clear()
            try:
                response = await self.control_plane.poll(
                    session, p.PollRequest(known=self.known(), wait_seconds=wait)
                )
            except SessionExpiredError:
                await self._register(expired=session)
                continue
            except ControlPlaneUnavailableError as exc:
                log.warning("poll failed: %s", exc)
                await asyncio.sleep(backoff.next())
                await self._register(expired=session)
                continue
            except ControlPlaneError as exc:
                if exc.status == 410:  # deregistered: this agent has nothing more to do
                    raise
                log.error("poll refused: %s", exc)
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            if time.time() - self._pruned_at > PRUNE_INTERVAL:
                self._pruned_at = time.time()
                await self.run_blocking(self.state.prune, self._pruned_at - FINISHED_TTL)
            news = [self.accept(spec) for spec in response.tasks]
            if news and not any(news):
                # the control plane repeats what we know (a stop under way): poll again
                # once what we know changed, not in a hot loop
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._known_changed.wait(), NO_NEWS_PAUSE)

    def known(self) -> dict[str, str]:
        now = time.time()
        for arn, at in list(self.finished.items()):
            if now - at > FINISHED_TTL:
                del self.finished[arn]
        known = dict.fromkeys(self.finished, STOPPED)
        known.update({arn: s.record.known for arn, s in self.supervisors.items()})
        return known

    def accept(self, spec: p.TaskSpec) -> bool:
        """A task from the control plane: a new one to run, or news for one we run.
        False when it changes nothing (the agent knew it all)."""
        supervisor = self.supervisors.get(spec.task_arn)
        if supervisor is not None:
            return supervisor.update(spec)
        if spec.task_arn in self.finished:
            return False  # done with it already (and said so)
        if spec.desired_status == STOPPED:
            self._never_ran(spec)
        else:
            self._supervise(spec, TaskRecord.new(spec))
        return True

    def _supervise(self, spec: p.TaskSpec, record: TaskRecord) -> None:
        supervisor = TaskSupervisor(spec, record, self.services)
        self.supervisors[spec.task_arn] = supervisor
        task = asyncio.create_task(self._supervised(supervisor), name=f"task {spec.task_arn}")
        self._tasks[spec.task_arn] = task

    async def _supervised(self, supervisor: TaskSupervisor) -> None:
        try:
            await supervisor.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the supervisor of %s failed", supervisor.arn)
            with contextlib.suppress(Exception):
                record = supervisor.record.stopping("TaskFailedToStart", "the agent failed")
                await self.run_blocking(self.state.save, supervisor.spec, record)

    # reports

    def _queue_report(self, state: p.TaskState) -> None:
        self._reports.append(state)
        self._report_ready.set()
        self._known_changed.set()

    async def _report_loop(self) -> None:
        backoff = Backoff()
        while True:
            await self._report_ready.wait()
            try:
                await self._flush_reports()
                backoff.reset()
            except ControlPlaneUnavailableError as exc:
                log.warning("report failed: %s", exc)
                await asyncio.sleep(backoff.next())

    async def _flush_reports(self) -> None:
        while self._reports:
            batch = list(self._reports)
            session = self._session
            if not session:
                raise ControlPlaneUnavailableError("not registered yet")
            try:
                await self.control_plane.report(session, p.ReportRequest(tuple(batch)))
            except SessionExpiredError:
                await self._register(expired=session)
                continue
            except ControlPlaneError as exc:
                log.error("reports refused, dropped: %s", exc)
            del self._reports[: len(batch)]
            for state in batch:
                if state.last_status == STOPPED:
                    await self._forget(state.task_arn)
        self._report_ready.clear()

    async def _forget(self, task_arn: str) -> None:
        """A STOPPED task the control plane has heard of leaves the supervisors; it stays
        in ``known`` (as STOPPED) and in the table until ``FINISHED_TTL`` has passed."""
        supervisor = self.supervisors.get(task_arn)
        if supervisor is None or not supervisor.finished:
            return
        del self.supervisors[task_arn]
        self._tasks.pop(task_arn, None)
        self.finished[task_arn] = time.time()

    def _never_ran(self, spec: p.TaskSpec) -> None:
        """A task stopped before it reached this agent: STOPPED, nothing started."""
        record = TaskRecord.new(spec)
        record = replace(
            record,
            known=STOPPED,
            desired=STOPPED,
            stopped_reason=spec.stop_reason,
            containers=tuple(replace(c, last_status=STOPPED) for c in record.containers),
        )
        self.finished[spec.task_arn] = time.time()
        self._queue_report(record.state())

        async def keep() -> None:
            await self.run_blocking(self.state.save, spec, record)

        task = asyncio.create_task(keep())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # logs

    async def _send_logs(self, request: p.LogsRequest) -> None:
        backoff = Backoff()
        while True:
            session = self._session
            try:
                if not session:
                    raise ControlPlaneUnavailableError("not registered yet")
                await self.control_plane.logs(session, request)
                return
            except SessionExpiredError:
                await self._register(expired=session)
            except ControlPlaneUnavailableError:
                await asyncio.sleep(backoff.next())
            except ControlPlaneError as exc:
                log.error("log events refused, dropped: %s", exc)
                return

    async def _log_group_exists(self, group: str, region: str) -> bool:
        """Whether an awslogs group exists; True when the control plane cannot tell (an
        older one, or one away for a while): the task then runs and its events wait."""
        backoff = Backoff()
        request = p.LogGroupRequest(group, region)
        for _ in range(LOG_GROUP_TRIES):
            session = self._session
            try:
                if not session:
                    raise ControlPlaneUnavailableError("not registered yet")
                return (await self.control_plane.log_group(session, request)).exists
            except SessionExpiredError:
                await self._register(expired=session)
            except ControlPlaneUnavailableError:
                await asyncio.sleep(backoff.next())
            except ControlPlaneError as exc:
                log.warning("cannot ask whether log group %s exists: %s", group, exc)
                return True
        return True
