"""Running an agent: in its own process (``cais agent``) or inside ``cais up`` (LocalAgent).

Both build the same :class:`Agent` over the engine of one root; they differ in who owns the
event loop and the worker threads.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from cais.agent.agent import Agent, AgentOptions
from cais.agent.client import ControlPlane, HttpControlPlane
from cais.agent.engine import CaisEngine
from cais.agent.state import AgentState

if TYPE_CHECKING:
    from cais.engine import Engine

T = TypeVar("T")
WORKERS = 8

__all__ = ["AgentOptions", "build_agent", "run_agent"]


def build_agent(
    engine: Engine,
    *,
    options: AgentOptions,
    control_plane: ControlPlane,
    run: Callable[..., Awaitable[Any]],
    pull_behavior: str = "prefer-cached",
) -> tuple[Agent, AgentState]:
    state = AgentState(engine.settings.root, engine.db)
    agent = Agent(
        control_plane=control_plane,
        engine=CaisEngine(engine, pull_behavior=pull_behavior),
        state=state,
        run=run,
        options=options,
    )
    return agent, state


def run_agent(
    engine: Engine, *, url: str, options: AgentOptions, pull_behavior: str = "prefer-cached"
) -> None:
    """Run an agent in the foreground until SIGTERM or SIGINT (its tasks keep running)."""
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cais-agent")

    def run(fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        return asyncio.get_running_loop().run_in_executor(executor, functools.partial(fn, *args))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        agent, state = build_agent(
            engine,
            options=options,
            control_plane=HttpControlPlane(url, timeout=30.0),
            run=run,
            pull_behavior=pull_behavior,
        )
        state.lock()
        try:
            await agent.run(stop)
        finally:
            state.unlock()

    try:
        asyncio.run(main())
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
