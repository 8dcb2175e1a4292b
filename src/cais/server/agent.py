"""The local agent of ``cais up``: this machine as a container instance of ``default``.

It is the same agent as ``cais agent`` (``cais.agent``), run as background work of the
platform: on the platform's event loop, its blocking engine calls on the platform's worker
threads, talking the agent protocol over HTTP to ``cais up``'s own address (so the control
plane treats it like any other machine).

The join token comes from the control plane: a component listed before this one with a
``local_join_token`` member (:class:`JoinTokenIssuer`) — a string its ``start()`` filled in
(the ECS component does so), or ``async def local_join_token(cluster) -> str`` — is read
once the platform listens; ``token=`` gives one directly (tests, a control plane
elsewhere). With neither — no control plane in this ``cais up`` — the local agent does not
run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, cast

from aiohttp import web

from cais.agent.agent import AgentOptions
from cais.server.component import Background, Platform

log = logging.getLogger(__name__)

DEFAULT_CLUSTER = "default"


class JoinTokenIssuer(Protocol):
    """What the control plane offers the local agent: ``local_join_token``, a string or
    ``async (cluster) -> str``."""

    @property
    def local_join_token(self) -> str | Callable[[str], Awaitable[str]]: ...


def find_issuer(components: Iterable[object]) -> JoinTokenIssuer | None:
    for component in components:
        if hasattr(component, "local_join_token"):
            return cast(JoinTokenIssuer, component)
    return None


async def join_token(issuer: JoinTokenIssuer, cluster: str) -> str:
    value = issuer.local_join_token
    if callable(value):
        return await value(cluster)
    return value


class LocalAgent:
    name = "local-agent"

    def __init__(
        self,
        platform: Platform,
        *,
        issuer: JoinTokenIssuer | None = None,
        token: str | None = None,
        options: AgentOptions | None = None,
        pull_behavior: str = "prefer-cached",
    ) -> None:
        self.platform = platform
        self.issuer = issuer
        self.token = token
        self.options = options or AgentOptions(
            cluster=DEFAULT_CLUSTER, runtime=platform.settings.runtime
        )
        self.pull_behavior = pull_behavior
        self.agent: object | None = None  # the running Agent (tests look at it)

    def mount(self, app: web.Application) -> None:
        return None

    async def start(self) -> None:
        return None

    def background(self) -> Sequence[Background]:
        if self.issuer is None and self.token is None:
            log.info("no control plane in this cais up: the local agent does not run")
            return ()
        return (Background("local-agent", self._run),)

    async def _run(self) -> None:
        import asyncio
        from dataclasses import replace

        from cais.agent.client import HttpControlPlane
        from cais.agent.run import build_agent

        token = self.token
        if token is None:
            assert self.issuer is not None
            token = await join_token(self.issuer, self.options.cluster)
        agent, state = build_agent(
            self.platform.engine,
            options=replace(self.options, token=token),
            control_plane=HttpControlPlane(self.platform.address.url),
            run=self.platform.run,
            pull_behavior=self.pull_behavior,
        )
        await self.platform.run(state.lock)
        self.agent = agent
        try:
            await agent.run(asyncio.Event())  # until cais up cancels its background work
        finally:
            state.unlock()

    async def stop(self) -> None:
        return None
