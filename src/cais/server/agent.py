"""The local agent of ``cais up``: this machine as a container instance of ``default``.

It is the same agent as ``cais agent`` (``cais.agent``), run as background work of the
platform: on the platform's event loop, its blocking engine calls on the platform's worker
threads, talking the agent protocol over HTTP to ``cais up``'s own address (so the control
plane treats it like any other machine).

The join token comes from the control plane. Any component listed before this one that has
``async def local_join_token(self, cluster: str) -> str`` (:class:`JoinTokenIssuer`) is
asked for it once the platform listens; ``token=`` gives one directly (tests, a control
plane elsewhere). With neither — no control plane in this ``cais up`` — the local agent
does not run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from aiohttp import web

from cais.agent.agent import AgentOptions
from cais.server.component import Background, Platform

log = logging.getLogger(__name__)

DEFAULT_CLUSTER = "default"


@runtime_checkable
class JoinTokenIssuer(Protocol):
    """What the control plane offers the local agent: a join token for ``cluster``."""

    async def local_join_token(self, cluster: str) -> str: ...


def find_issuer(components: Iterable[object]) -> JoinTokenIssuer | None:
    for component in components:
        if isinstance(component, JoinTokenIssuer):
            return component
    return None


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
            token = await self.issuer.local_join_token(self.options.cluster)
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
