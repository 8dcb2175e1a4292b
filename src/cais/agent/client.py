"""The agent's side of the protocol over HTTP: ``POST <url>/agent/v1/<call>`` with JSON.

:class:`ControlPlane` is the seam (tests drive the agent with an in-memory one);
:class:`HttpControlPlane` speaks to a real ``cais up``. Failures come in two kinds that the
agent treats differently: :class:`SessionExpiredError` (401: register again — the control
plane restarted or forgot us) and :class:`ControlPlaneUnavailableError` (no answer, 5xx:
wait and try again).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from cais.agent import protocol as p
from cais.errors import CaisError


class ControlPlaneError(CaisError):
    """The control plane refused a call (4xx other than 401); the message is its own."""

    def __init__(self, message: str, *, status: int = 400, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class SessionExpiredError(ControlPlaneError):
    """401: the session token is unknown (the control plane restarted): register again."""


class ControlPlaneUnavailableError(CaisError):
    """No answer, a broken connection or a 5xx: try again later."""


class ControlPlane(Protocol):
    async def register(self, request: p.RegisterRequest) -> p.RegisterResponse: ...

    async def poll(self, session: str, request: p.PollRequest) -> p.PollResponse: ...

    async def report(self, session: str, request: p.ReportRequest) -> None: ...

    async def logs(self, session: str, request: p.LogsRequest) -> None: ...

    async def log_group(self, session: str, request: p.LogGroupRequest) -> p.LogGroupResponse: ...

    async def deregister(self, session: str) -> None: ...

    async def close(self) -> None: ...


class HttpControlPlane:
    """:class:`ControlPlane` over aiohttp, against ``url`` (``http://host:port``)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session: Any = None

    async def _call(
        self, call: str, body: Any, *, session: str = "", wait: float = 0.0
    ) -> dict[str, Any]:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if session:
            headers["Authorization"] = f"Bearer {session}"
        data = json.dumps(p.to_wire(body))
        try:
            async with self._session.post(
                f"{self.url}{p.PREFIX}/{call}",
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout + wait),
            ) as response:
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ControlPlaneUnavailableError(
                f"control plane {self.url} unreachable: {exc or type(exc).__name__}"
            ) from None
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {"message": text[:200]}
        if status >= 500:
            raise ControlPlaneUnavailableError(
                f"control plane {self.url} answered {status}: {payload.get('message', '')}"
            )
        if status >= 400:
            message = str(payload.get("message") or f"HTTP {status}")
            kind = str(payload.get("error") or "")
            error = SessionExpiredError if status == 401 and session else ControlPlaneError
            raise error(f"{call}: {message}", status=status, kind=kind)
        return payload if isinstance(payload, dict) else {}

    async def register(self, request: p.RegisterRequest) -> p.RegisterResponse:
        answer = await self._call(p.REGISTER, request)
        response: p.RegisterResponse = p.from_wire(p.RegisterResponse, answer)
        return response

    async def poll(self, session: str, request: p.PollRequest) -> p.PollResponse:
        answer = await self._call(p.POLL, request, session=session, wait=request.wait_seconds)
        response: p.PollResponse = p.from_wire(p.PollResponse, answer)
        return response

    async def report(self, session: str, request: p.ReportRequest) -> None:
        await self._call(p.REPORT, request, session=session)

    async def logs(self, session: str, request: p.LogsRequest) -> None:
        await self._call(p.LOGS, request, session=session)

    async def log_group(self, session: str, request: p.LogGroupRequest) -> p.LogGroupResponse:
        answer = await self._call(p.LOG_GROUP, request, session=session)
        response: p.LogGroupResponse = p.from_wire(p.LogGroupResponse, answer)
        return response

    async def deregister(self, session: str) -> None:
        await self._call(p.DEREGISTER, {}, session=session)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
