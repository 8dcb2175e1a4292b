"""Answering a registry's challenges: Basic, or Bearer tokens fetched from its realm.

The flow Docker and Podman follow: ping ``/v2/``; a 401 names the scheme. For Basic, send
the credential with every request. For Bearer, ask the realm for a token for the scopes
the next request needs (``repository:team/app:pull,push``), with the credential as Basic
(or anonymously without one, which public repositories allow), and send it as
``Authorization: Bearer``. A later 401 with ``error="insufficient_scope"`` (or any 401 to a
token) means a new token for more scopes; the caller retries that request once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cais.distribution.authfile import Credential, CredentialSource
from cais.distribution.challenge import Challenge, parse_challenges, pick
from cais.distribution.errors import (
    RegistryUnreachableError,
    UnauthorizedError,
    response_error,
)

if TYPE_CHECKING:
    import httpx

DEFAULT_TOKEN_SECONDS = 60
_EXPIRY_MARGIN = 5.0


@dataclass(frozen=True, order=True)
class Scope:
    """``type:name:actions`` as the token protocol names access (``repository:a/b:pull``)."""

    type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        return cls("repository", name, frozenset(actions))

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        head, sep, actions = text.rpartition(":")
        kind, sep2, name = head.partition(":")
        if not sep or not sep2 or not kind or not name:
            return None
        return cls(kind, name, frozenset(a for a in actions.split(",") if a))

    def pairs(self) -> frozenset[tuple[str, str, str]]:
        return frozenset((self.type, self.name, a) for a in self.actions)

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


def merge_scopes(pairs: Iterable[tuple[str, str, str]]) -> list[Scope]:
    """Scope strings for a set of (type, name, action): one per resource, sorted."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for kind, name, action in pairs:
        grouped.setdefault((kind, name), set()).add(action)
    return [Scope(k, n, frozenset(a)) for (k, n), a in sorted(grouped.items())]


@dataclass(frozen=True)
class Token:
    value: str
    covers: frozenset[tuple[str, str, str]]
    expires: float  # time.monotonic()

    def good_for(self, wanted: frozenset[tuple[str, str, str]], now: float) -> bool:
        return wanted <= self.covers and now < self.expires - _EXPIRY_MARGIN


class Authorizer:
    """What ``Authorization`` to send to one registry; thread-safe, shared by transfers."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        registry: str,
        credentials: CredentialSource | None,
    ) -> None:
        self._http = http
        self.registry = registry
        self._credentials = credentials
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._token: Token | None = None
        self._wanted: frozenset[tuple[str, str, str]] = frozenset()

    @property
    def challenge(self) -> Challenge | None:
        return self._challenge

    def credential(self, scopes: Sequence[Scope] = ()) -> Credential | None:
        if self._credentials is None:
            return None
        repository = next((s.name for s in scopes if s.type == "repository"), "")
        return self._credentials.credential_for(self.registry, repository)

    def learn(self, response: httpx.Response) -> bool:
        """Take the challenge of a 401; True if it asks for something not yet tried."""
        challenge = pick(parse_challenges(response.headers.get_list("www-authenticate")))
        if challenge is None:
            return False
        with self._lock:
            previous = self._challenge
            self._challenge = challenge
            if challenge.scheme != "bearer":
                return previous is None or previous.scheme != challenge.scheme
            extra = frozenset().union(
                *(s.pairs() for s in (Scope.parse(t) for t in challenge.scopes) if s is not None)
            )
            self._wanted |= extra
            # the token we hold did not do: drop it, so the retry asks for a new one
            self._token = None
            return True

    def authorization(self, scopes: Sequence[Scope]) -> str | None:
        """The header value for a request that needs ``scopes`` (fetching a token if need be)."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            credential = self.credential(scopes)
            return credential.basic() if credential is not None else None
        wanted = frozenset().union(*(s.pairs() for s in scopes))
        with self._lock:
            now = time.monotonic()
            token = self._token
            if token is not None and token.good_for(wanted, now):
                return f"Bearer {token.value}"
            self._wanted |= wanted
            token = self._fetch_token(challenge, self._wanted, self.credential(scopes))
            self._token = token
            return f"Bearer {token.value}"

    def _fetch_token(
        self,
        challenge: Challenge,
        wanted: frozenset[tuple[str, str, str]],
        credential: Credential | None,
    ) -> Token:
        import httpx

        realm = challenge.realm
        if not realm:
            raise UnauthorizedError(
                f"unauthorized: {self.registry} sent a Bearer challenge without a realm",
                status=401,
            )
        scopes = [str(s) for s in merge_scopes(wanted)]
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        headers = {"Accept": "application/json"}
        try:
            if credential is not None and credential.identity_token:
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": credential.identity_token,
                    "client_id": "cais",
                    "service": challenge.service,
                    "scope": " ".join(scopes),
                }
                response = self._http.post(realm, data=form, headers=headers)
            else:
                params += [("scope", s) for s in scopes]
                if credential is not None:
                    params.append(("account", credential.username))
                    headers["Authorization"] = credential.basic()
                response = self._http.get(
                    realm, params=httpx.QueryParams(tuple(params)), headers=headers
                )
        except httpx.TransportError as exc:
            raise RegistryUnreachableError(
                f"cannot get a token from {realm}: {describe_transport_error(exc)}"
            ) from None
        if response.status_code != 200:
            raise response_error(response.status_code, response.content)
        try:
            doc: Any = response.json()
        except ValueError:
            doc = None
        value = ""
        if isinstance(doc, dict):
            value = str(doc.get("token") or doc.get("access_token") or "")
        if not value:
            raise UnauthorizedError(
                f"unauthorized: the token endpoint {realm} answered without a token", status=401
            )
        seconds = doc.get("expires_in") if isinstance(doc, dict) else None
        lifetime = seconds if isinstance(seconds, int) and seconds > 0 else DEFAULT_TOKEN_SECONDS
        return Token(value, wanted, time.monotonic() + max(lifetime, 2 * _EXPIRY_MARGIN))


def describe_transport_error(exc: Exception) -> str:
    """A short reason for a failed connection (the root cause, without a traceback)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or str(exc) or type(exc).__name__
    lowered = text.lower()
    if "connection refused" in lowered or "errno 111" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "no such host"
    if "timed out" in lowered or "timeout" in type(exc).__name__.lower():
        return "timed out"
    return text
