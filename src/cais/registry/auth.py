"""Who is asking, and may they: no auth, htpasswd Basic, or Bearer tokens from ``/v2/token``.

An :class:`Authenticator` turns an ``Authorization`` header into an :class:`Identity` (or
None), says whether an identity may act on a scope, and writes the ``WWW-Authenticate``
challenge for a 401. ``decide`` gives the verdict the HTTP layer renders: allowed, 401
(no or bad credential; or a token that lacks a scope its user could get — the client
fetches a new one) or 403 (the user may not have it at all).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cais.errors import InvalidArgumentError
from cais.registry.scopes import AccessPolicy, AllowAll, Scope
from cais.registry.tokens import TokenClaims, TokenSigner

DEFAULT_SERVICE = "cais-registry"
TOKEN_TTL = 300


class Verdict(enum.Enum):
    ALLOW = "allow"
    UNAUTHORIZED = "unauthorized"
    DENIED = "denied"


@dataclass(frozen=True)
class Identity:
    """An authenticated caller; ``token`` is set when they came with a Bearer token."""

    user: str
    token: TokenClaims | None = None


class CredentialChecker(Protocol):
    def check(self, user: str, password: str) -> bool: ...


class Htpasswd:
    """Users from an htpasswd file of bcrypt hashes, re-read when the file changes.

    bcrypt is slow on purpose (~0.1-0.3 s), so a success is remembered (keyed by a keyed
    hash of user and password, never the password) for a while, as a login session.
    """

    def __init__(self, path: Path, *, remember: float = 300.0, cache_size: int = 1024) -> None:
        self.path = path
        self._remember = remember
        self._cache_size = cache_size
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._users: dict[str, bytes] = {}
        self._stamp: tuple[int, int] | None = None
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._load()

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read htpasswd file {self.path}: {exc}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        users: dict[str, bytes] = {}
        for raw in self.path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or ":" not in line:
                continue
            user, _, hashed = line.partition(":")
            if hashed.startswith(("$2y$", "$2b$", "$2a$")):
                users[user] = hashed.encode()
        with self._lock:
            self._users, self._stamp = users, stamp
            self._verified.clear()

    def check(self, user: str, password: str) -> bool:
        import bcrypt

        self._load()
        key = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            seen = self._verified.get(key)
            if seen is not None and now - seen < self._remember:
                return True
            hashed = self._users.get(user)
        if hashed is None:
            return False
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            with self._lock:
                self._verified[key] = now
                while len(self._verified) > self._cache_size:
                    self._verified.popitem(last=False)
        return ok


def parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class Authenticator(Protocol):
    @property
    def enabled(self) -> bool: ...

    @property
    def issues_tokens(self) -> bool: ...

    @property
    def slow(self) -> bool:
        """True when ``authenticate`` may block (password hashing): run it in a thread."""
        ...

    def authenticate(self, authorization: str | None) -> Identity | None: ...

    def decide(self, identity: Identity | None, scopes: Sequence[Scope]) -> Verdict: ...

    def challenge(self, realm_base: str, scopes: Sequence[Scope], *, insufficient: bool) -> str:
        """The WWW-Authenticate value; ``realm_base`` is ``scheme://host`` of the request."""
        ...


class NoAuth:
    """Everyone may do everything."""

    enabled = False
    issues_tokens = False
    slow = False

    def authenticate(self, authorization: str | None) -> Identity | None:
        return Identity("anonymous")

    def decide(self, identity: Identity | None, scopes: Sequence[Scope]) -> Verdict:
        return Verdict.ALLOW

    def challenge(self, realm_base: str, scopes: Sequence[Scope], *, insufficient: bool) -> str:
        return ""


class BasicAuth:
    """HTTP Basic against a credential checker (an htpasswd file), then the access policy."""

    enabled = True
    issues_tokens = False
    slow = True

    def __init__(
        self, users: CredentialChecker, *, policy: AccessPolicy | None = None, realm: str = ""
    ) -> None:
        self.users = users
        self.policy: AccessPolicy = policy or AllowAll()
        self.realm = realm or DEFAULT_SERVICE

    def authenticate(self, authorization: str | None) -> Identity | None:
        creds = parse_basic(authorization)
        if creds is None or not self.users.check(*creds):
            return None
        return Identity(creds[0])

    def decide(self, identity: Identity | None, scopes: Sequence[Scope]) -> Verdict:
        if identity is None:
            return Verdict.UNAUTHORIZED
        for scope in scopes:
            if not scope.covered_by(self.policy.granted(identity.user, scope)):
                return Verdict.DENIED
        return Verdict.ALLOW

    def challenge(self, realm_base: str, scopes: Sequence[Scope], *, insufficient: bool) -> str:
        return f'Basic realm="{self.realm}"'


class TokenAuth:
    """Bearer tokens signed by this registry's token endpoint (``/v2/token``).

    The endpoint takes Basic credentials (checked by ``users``) and grants the requested
    scopes the policy allows; the registry then checks the token's ``access`` claim.
    """

    enabled = True
    issues_tokens = True
    slow = False

    def __init__(
        self,
        users: CredentialChecker,
        *,
        secret: bytes | None = None,
        policy: AccessPolicy | None = None,
        service: str = DEFAULT_SERVICE,
        ttl: int = TOKEN_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = users
        self.policy: AccessPolicy = policy or AllowAll()
        self.service = service
        self.ttl = ttl
        self.signer = TokenSigner(secret or secrets.token_bytes(32))
        self._clock = clock

    def authenticate(self, authorization: str | None) -> Identity | None:
        if not authorization:
            return None
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer":
            return None
        claims = self.signer.verify(token.strip(), audience=self.service, now=int(self._clock()))
        return Identity(claims.subject, claims) if claims is not None else None

    def decide(self, identity: Identity | None, scopes: Sequence[Scope]) -> Verdict:
        if identity is None or identity.token is None:
            return Verdict.UNAUTHORIZED
        held = identity.token.access
        for scope in scopes:
            granted = frozenset().union(
                *(s.actions for s in held if s.type == scope.type and s.name == scope.name)
            )
            if scope.covered_by(granted):
                continue
            if scope.covered_by(self.policy.granted(identity.user, scope)):
                return Verdict.UNAUTHORIZED  # a new token would carry it
            return Verdict.DENIED
        return Verdict.ALLOW

    def challenge(self, realm_base: str, scopes: Sequence[Scope], *, insufficient: bool) -> str:
        parts = [f'realm="{realm_base}/v2/token"', f'service="{self.service}"']
        if scopes:
            parts.append(f'scope="{" ".join(str(s) for s in scopes)}"')
        if insufficient:
            parts.append('error="insufficient_scope"')
        return "Bearer " + ",".join(parts)

    def issue(self, authorization: str | None, scopes: Sequence[Scope]) -> dict[str, object] | None:
        """A token response for valid Basic credentials (None for missing or bad ones)."""
        creds = parse_basic(authorization)
        if creds is None or not self.users.check(*creds):
            return None
        return self.issue_for(creds[0], scopes)

    def issue_for(self, user: str, scopes: Sequence[Scope]) -> dict[str, object]:
        granted = []
        for scope in scopes:
            actions = self.policy.granted(user, scope) & scope.actions
            if actions:
                granted.append(Scope(scope.type, scope.name, actions))
        now = int(self._clock())
        token = self.signer.sign(
            subject=user, audience=self.service, access=granted, now=now, ttl=self.ttl
        )
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {"token": token, "access_token": token, "expires_in": self.ttl, "issued_at": issued}
