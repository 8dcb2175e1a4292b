"""CloudWatch Logs in ``cais up``: the Logs API, and retention carried out on a schedule."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from cais.logs import LogStore, register
from cais.server.component import Background, Platform, periodic

DEFAULT_RETENTION_INTERVAL = 3600.0


class LogsComponent:
    name = "logs"

    def __init__(
        self, platform: Platform, *, retention_interval: float = DEFAULT_RETENTION_INTERVAL
    ) -> None:
        self.platform = platform
        self.retention_interval = retention_interval
        self.store = LogStore(platform.engine.db)

    def mount(self, app: web.Application) -> None:
        register(self.platform.dispatcher, self.store)

    async def start(self) -> None:
        return None

    def background(self) -> Sequence[Background]:
        if self.retention_interval <= 0:
            return ()
        return (
            periodic(
                "logs-retention",
                self.retention_interval,
                self.store.expire,
                platform=self.platform,
            ),
        )

    async def stop(self) -> None:
        return None
