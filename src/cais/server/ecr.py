"""The registry and ECR in ``cais up``: ``/v2/`` with ECR's logins and rules, the ECR API,
pull times, and the lifecycle schedule."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from cais.aws.credentials import CredentialStore
from cais.ecr import Ecr, EcrRegistryAuth, open_ecr, register
from cais.registry import add_registry_routes, open_driver
from cais.server.component import Background, Platform, periodic

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MANIFEST_PATH = re.compile(r"^/v2/(?P<name>.+)/manifests/[^/]+$")
DEFAULT_LIFECYCLE_INTERVAL = 3600.0


class EcrComponent:
    """Owns the registry (storage ``<root>/registry`` unless given) and the ECR domain."""

    name = "ecr"

    def __init__(
        self,
        platform: Platform,
        *,
        lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL,
        storage: str | None = None,
    ) -> None:
        self.platform = platform
        self.lifecycle_interval = lifecycle_interval
        db = platform.engine.db
        driver = open_driver(storage or f"fs:{platform.settings.root / 'registry'}")
        self.ecr: Ecr = open_ecr(
            db,
            driver,
            registry_host=platform.address.registry_host,
            keys=CredentialStore(db),
        )
        self.auth = EcrRegistryAuth(self.ecr.tokens, self.ecr.store)

    def mount(self, app: web.Application) -> None:
        add_registry_routes(app, self.ecr.registry, auth=self.auth)
        register(self.platform.dispatcher, self.ecr)
        app.middlewares.append(self._record_pulls)

    async def start(self) -> None:
        await self.platform.run(self.ecr.reconcile)

    def background(self) -> Sequence[Background]:
        if self.lifecycle_interval <= 0:
            return ()
        return (
            periodic(
                "ecr-lifecycle",
                self.lifecycle_interval,
                self.ecr.run_lifecycle,
                platform=self.platform,
            ),
        )

    async def stop(self) -> None:
        return None

    @web.middleware
    async def _record_pulls(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A manifest GET that succeeds is a pull: it sets the image's lastRecordedPullTime."""
        response = await handler(request)
        if request.method == "GET" and response.status == 200:
            found = _MANIFEST_PATH.match(request.rel_url.raw_path)
            digest = response.headers.get("Docker-Content-Digest")
            if found is not None and digest:
                self.platform.executor.submit(self._pulled, found["name"], digest)
        return response

    def _pulled(self, name: str, digest: str) -> None:
        try:
            self.ecr.record_pull(name, digest)
        except Exception:
            log.exception("recording a pull of %s@%s failed", name, digest)
