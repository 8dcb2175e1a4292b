"""A fake ECS control plane for agent tests: the server side of ``cais.agent.protocol``.

It runs an aiohttp app on 127.0.0.1 in a thread of its own, hands out the TaskSpecs a test
scripts (``run_task``, ``stop_task``), and records what agents say (registrations,
reports, log events), with ``wait_for`` helpers. ``restart()`` stops listening for a
moment and forgets every session, as a restarted control plane would.

    with FakeControlPlane() as cp:
        cp.run_task(task_spec("web", [container("web", "busybox", command=("sleep", "60"))]))
        state = cp.wait_status(arn, "RUNNING")
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from aiohttp import web

from cais.agent import protocol as p

T = TypeVar("T")
ACCOUNT = "000000000000"
REGION = "us-east-1"


def task_spec(
    family: str,
    containers: list[p.ContainerSpec],
    *,
    network_mode: str = "bridge",
    volumes: tuple[p.Volume, ...] = (),
    revision: int = 1,
    cluster: str = "default",
    cpu: int | None = None,
    memory: int | None = None,
) -> p.TaskSpec:
    task_id = uuid.uuid4().hex
    return p.TaskSpec(
        task_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{task_id}",
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}",
        family=family,
        revision=revision,
        desired_status="RUNNING",
        network_mode=network_mode,
        containers=tuple(containers),
        volumes=volumes,
        cpu=cpu,
        memory=memory,
    )


class FakeControlPlane:
    def __init__(
        self, *, token: str = "join-token", heartbeat: float = 5.0, poll_interval: float = 0.05
    ) -> None:
        self.token = token
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval  # how often a waiting poll looks for news
        self.port = 0
        self.tasks: dict[str, p.TaskSpec] = {}
        self.registrations: list[p.RegisterRequest] = []
        self.reports: list[p.TaskState] = []
        self.logs: list[p.LogsRequest] = []
        self.missing_log_groups: set[str] = set()  # every other awslogs group exists
        self.polls = 0
        self._sessions: dict[str, str] = {}  # session token → instance id
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def __enter__(self) -> FakeControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._submit(self._listen())

    def close(self) -> None:
        if self._loop is None:
            return
        self._submit(self._unlisten())
        self._submit(_cancel_others())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def restart(self, *, down_for: float = 0.5) -> None:
        """Stop listening, forget every session, listen again on the same port."""
        self._submit(self._unlisten())
        with self._lock:
            self._sessions.clear()
        time.sleep(down_for)
        self._submit(self._listen())

    def _submit(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post(p.PREFIX + "/{call}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _unlisten(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # what a test scripts

    def run_task(self, spec: p.TaskSpec) -> p.TaskSpec:
        with self._lock:
            self.tasks[spec.task_arn] = spec
        return spec

    def stop_task(self, task_arn: str, reason: str = "Task stopped by the test") -> None:
        with self._lock:
            self.tasks[task_arn] = replace(
                self.tasks[task_arn], desired_status="STOPPED", stop_reason=reason
            )

    def states(self, task_arn: str) -> list[p.TaskState]:
        with self._lock:
            return [r for r in self.reports if r.task_arn == task_arn]

    def latest(self, task_arn: str) -> p.TaskState | None:
        found = self.states(task_arn)
        return found[-1] if found else None

    def wait_for(
        self, check: Callable[[], T | None], *, timeout: float = 30.0, what: str = ""
    ) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or check}: reports {self.reports}")

    def wait_status(self, task_arn: str, status: str, *, timeout: float = 30.0) -> p.TaskState:
        def check() -> p.TaskState | None:
            state = self.latest(task_arn)
            return state if state is not None and state.last_status == status else None

        return self.wait_for(check, timeout=timeout, what=f"{task_arn} {status}")

    def log_messages(self, group: str, stream: str) -> list[str]:
        with self._lock:
            return [
                e.message
                for batch in self.logs
                if batch.group == group and batch.stream == stream
                for e in batch.events
            ]

    # the protocol's server side

    async def _handle(self, request: web.Request) -> web.Response:
        call = request.match_info["call"]
        body = await request.json() if request.can_read_body else {}
        if call == p.REGISTER:
            return self._register(p.from_wire(p.RegisterRequest, body))
        session = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            known = session in self._sessions
        if not known:
            return _error(401, "InvalidSession", "unknown session: register again")
        if call == p.POLL:
            return await self._poll(session, p.from_wire(p.PollRequest, body))
        if call == p.REPORT:
            reports: p.ReportRequest = p.from_wire(p.ReportRequest, body)
            with self._lock:
                self.reports.extend(reports.tasks)
            return web.json_response({})
        if call == p.LOGS:
            with self._lock:
                self.logs.append(p.from_wire(p.LogsRequest, body))
            return web.json_response({})
        if call == p.LOG_GROUP:
            asked: p.LogGroupRequest = p.from_wire(p.LogGroupRequest, body)
            with self._lock:
                exists = asked.group not in self.missing_log_groups
            return web.json_response(p.to_wire(p.LogGroupResponse(exists)))
        if call == p.DEREGISTER:
            with self._lock:
                self._sessions.pop(session, None)
            return web.json_response({})
        return _error(404, "UnknownCall", call)

    def _register(self, request: p.RegisterRequest) -> web.Response:
        if request.token != self.token:
            return _error(401, "InvalidJoinToken", "the join token is not valid")
        instance_id = request.instance_id or f"i-{uuid.uuid4().hex[:17]}"
        session = uuid.uuid4().hex
        with self._lock:
            self.registrations.append(request)
            self._sessions[session] = instance_id
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{request.cluster}/{instance_id}"
        answer = p.RegisterResponse(arn, instance_id, session, self.heartbeat)
        return web.json_response(p.to_wire(answer))

    async def _poll(self, session: str, request: p.PollRequest) -> web.Response:
        """Tasks the agent must hear about: RUNNING ones it does not know, STOPPED ones it
        does not know as STOPPED (the rule of cais's control plane)."""
        self.polls += 1
        deadline = time.monotonic() + min(request.wait_seconds, 30.0)
        known = request.known
        while True:
            with self._lock:
                due = [
                    spec
                    for arn, spec in self.tasks.items()
                    if (spec.desired_status == "RUNNING" and arn not in known)
                    or (spec.desired_status == "STOPPED" and known.get(arn) != "STOPPED")
                ]
            if due or time.monotonic() >= deadline:
                return web.json_response(p.to_wire(p.PollResponse(tuple(due))))
            await asyncio.sleep(self.poll_interval)


async def _cancel_others() -> None:
    """Waiting polls end with the fake (no "Task was destroyed but it is pending")."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": kind, "message": message}),
        content_type="application/json",
    )
