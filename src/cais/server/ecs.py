"""The ECS control plane in ``cais up``: the ECS API, the agents' endpoints, long polls.

```
POST /  AmazonEC2ContainerServiceV20141113.*     the ECS API (the shared dispatcher)
POST /agent/v1/register|poll|report|logs|deregister   node agents (cais.agent.protocol)
```

A poll is held open until the control plane has something new for that instance (an
``asyncio.Event`` per instance, set from whatever thread committed the change) or until
``wait_seconds`` (at most one heartbeat) pass; each poll is the agent's heartbeat. At
shutdown every held poll is answered at once, so agents see the restart quickly and keep
their tasks running meanwhile.

``cais up`` makes one join token for its own (local) agent, kept in the database so it is the
same after a restart: :attr:`EcsComponent.local_join_token`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Sequence
from typing import Any

from aiohttp import web

from cais.agent import protocol
from cais.aws.credentials import DEFAULT_ACCOUNT_ID
from cais.aws.errors import AwsError
from cais.ecr import Ecr
from cais.ecs import AgentError, AgentGateway, Ecs, EcsSettings, SpecBuilder, register
from cais.ecs.envfiles import S3_DIRECTORY
from cais.ecs.model import Scope
from cais.ecs.service import DEFAULT_HEARTBEAT
from cais.ecs.sqlite import SqliteEcsStore
from cais.logs import LogStore
from cais.server.component import Address, Background, Platform, periodic

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
CLEANUP_INTERVAL = 300.0
CLIENT_TOKEN_RETENTION = 24 * 3600.0


class EcrLogins:
    """Logins for images of this platform's registry, issued by the ECR room."""

    def __init__(self, ecr: Ecr, address: Address) -> None:
        self._ecr = ecr
        port = address.port
        self.hosts: Collection[str] = frozenset(
            {address.registry_host, f"localhost:{port}", f"127.0.0.1:{port}"}
        )

    def password(self, *, account: str, access_key_id: str) -> str | None:
        if not access_key_id:
            return None
        return self._ecr.tokens.issue(account=account, access_key_id=access_key_id).password


class InstanceSignals:
    """One event per container instance, set when the control plane has news for it."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.closing = False

    def event(self, arn: str) -> asyncio.Event:
        found = self._events.get(arn)
        if found is None:
            found = self._events[arn] = asyncio.Event()
        return found

    def set(self, arn: str) -> None:
        found = self._events.get(arn)
        if found is not None:
            found.set()

    def close(self) -> None:
        self.closing = True
        for event in self._events.values():
            event.set()


class EcsComponent:
    """Owns the ECS domain (its store in the root's database) and the agent endpoints."""

    name = "ecs"

    def __init__(
        self,
        platform: Platform,
        *,
        ecr: Ecr | None = None,
        logs: LogStore | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> None:
        self.platform = platform
        self.signals = InstanceSignals()
        self._loop: asyncio.AbstractEventLoop | None = None
        store = SqliteEcsStore(platform.engine.db)
        self.ecs = Ecs(store, settings=EcsSettings(heartbeat=heartbeat), notify=self._notify)
        logins = EcrLogins(ecr, platform.address) if ecr is not None else None
        self.gateway = AgentGateway(
            self.ecs,
            SpecBuilder(store, logins, s3_root=platform.settings.root / S3_DIRECTORY),
            logs=logs if logs is not None else LogStore(platform.engine.db),
        )
        self.local_join_token = ""

    def mount(self, app: web.Application) -> None:
        register(self.platform.dispatcher, self.ecs)
        app.router.add_post(f"{protocol.PREFIX}/{{call}}", self._agent)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        scope = Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION)
        self.local_join_token = await self.platform.run(self.gateway.local_token, scope)

    def background(self) -> Sequence[Background]:
        return (
            Background("ecs-agents", self._close_polls_at_stop),
            periodic("ecs-cleanup", CLEANUP_INTERVAL, self.cleanup, platform=self.platform),
        )

    async def stop(self) -> None:
        self.signals.close()

    def cleanup(self) -> None:
        """Forget tasks stopped longer ago than the retention, and deleted revisions."""
        retention = self.ecs.settings.stopped_task_retention
        now = self.ecs.clock()
        self.ecs.store.prune_tasks(stopped_before=now - retention)
        self.ecs.store.forget_client_tokens(before=now - CLIENT_TOKEN_RETENTION)
        self.ecs.store.remove_unused_task_definitions()

    async def _close_polls_at_stop(self) -> None:
        """Background work that only waits: cancelled first at shutdown, it answers the
        held polls before the server drains its requests."""
        try:
            await asyncio.Event().wait()
        finally:
            self.signals.close()

    def _notify(self, instance_arn: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.signals.set(instance_arn)
        else:
            loop.call_soon_threadsafe(self.signals.set, instance_arn)

    # -- HTTP ---------------------------------------------------------------------------

    async def _agent(self, request: web.Request) -> web.Response:
        call = request.match_info["call"]
        try:
            body = await _body(request)
            result = await self._call(call, request, body)
        except AgentError as exc:
            return web.json_response(exc.body(), status=exc.status)
        except AwsError as exc:
            return web.json_response({"error": exc.type, "message": exc.message}, status=400)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return web.json_response(
                {"error": "BadRequest", "message": f"malformed {call} request: {exc}"}, status=400
            )
        return web.json_response(protocol.to_wire(result))

    async def _call(self, call: str, request: web.Request, body: dict[str, Any]) -> Any:
        run = self.platform.run
        gateway = self.gateway
        if call == protocol.REGISTER:
            register_request = protocol.from_wire(protocol.RegisterRequest, body)
            _check_register(register_request)
            return await run(gateway.register, register_request)
        if call not in (
            protocol.POLL,
            protocol.REPORT,
            protocol.LOGS,
            protocol.LOG_GROUP,
            protocol.DEREGISTER,
        ):
            raise AgentError("UnknownCall", f"no such agent call {call!r}", status=404)
        instance = await run(gateway.authenticate, request.headers.get("Authorization"))
        if call == protocol.POLL:
            return await self._poll(instance, protocol.from_wire(protocol.PollRequest, body))
        if call == protocol.REPORT:
            return await run(
                gateway.report, instance, protocol.from_wire(protocol.ReportRequest, body)
            )
        if call == protocol.LOGS:
            stored = await run(
                gateway.write_logs, instance, protocol.from_wire(protocol.LogsRequest, body)
            )
            return {"stored": stored}
        if call == protocol.LOG_GROUP:
            return await run(
                gateway.log_group, instance, protocol.from_wire(protocol.LogGroupRequest, body)
            )
        await run(gateway.deregister, instance)
        return {}

    async def _poll(self, instance: Any, request: protocol.PollRequest) -> protocol.PollResponse:
        run = self.platform.run
        loop = asyncio.get_running_loop()
        known = {str(k): str(v) for k, v in dict(request.known).items()}
        wait = max(0.0, min(float(request.wait_seconds), self.ecs.settings.heartbeat))
        deadline = loop.time() + wait
        event = self.signals.event(instance.arn)
        await run(self.gateway.heartbeat, instance)
        while True:
            event.clear()
            tasks = await run(self.gateway.work, instance, known)
            remaining = deadline - loop.time()
            if tasks or remaining <= 0 or self.signals.closing:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
        await run(self.gateway.heartbeat, instance)
        return protocol.PollResponse(tasks=tasks)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def _check_register(request: protocol.RegisterRequest) -> None:
    resources = request.resources
    if not isinstance(resources, protocol.Resources):
        raise ValueError("resources is required")
    if not isinstance(resources.cpu, int) or not isinstance(resources.memory, int):
        raise ValueError("resources.cpu and resources.memory are integers")
    if not all(isinstance(p, int) for p in (*resources.ports_tcp, *resources.ports_udp)):
        raise ValueError("ports are integers")
    for attribute in request.attributes:
        if not isinstance(attribute, protocol.Attribute) or not isinstance(attribute.name, str):
            raise ValueError("attributes are {name, value} objects")
