"""Registry logins the way ECR does them: GetAuthorizationToken hands out a password that
is valid for 12 hours, and the registry takes it as HTTP Basic ``AWS:<password>``.

A password is ``cais1.<payload>.<mac>``: the payload names the account, the access key that
asked for it and when it expires; the mac is HMAC-SHA256 with a secret kept in the cais
root's database (so logins survive a restart of ``cais up``). A password is refused once it
expires, or once its access key is deleted or made inactive.

:class:`EcrRegistryAuth` is the registry's authenticator under ``cais up``: every request
needs such a password (401 otherwise, with a Basic challenge, as ECR answers), and an
account may only reach its own repositories (403 for another account's).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cais.aws.credentials import KeyLookup
from cais.ecr.store import EcrStore
from cais.registry.auth import Identity, Verdict, parse_basic
from cais.registry.scopes import Scope

TOKEN_TTL = 12 * 3600
USER = "AWS"
SERVICE = "ecr.amazonaws.com"
_PREFIX = "cais1"
_SECRET_KEY = "login_secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Login:
    """What GetAuthorizationToken returns for one registry."""

    password: str
    expires_at: float

    @property
    def token(self) -> str:
        """``authorizationToken``: base64 of ``AWS:<password>``, as ECR encodes it."""
        return base64.b64encode(f"{USER}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class Grant:
    """A verified password: whose it is and until when."""

    account: str
    access_key_id: str
    expires_at: float


class LoginTokens:
    """Issues and checks registry passwords; ``keys`` (the AWS access keys) revoke them."""

    def __init__(
        self,
        store: EcrStore,
        *,
        keys: KeyLookup | None = None,
        ttl: float = TOKEN_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = bytes.fromhex(store.meta(_SECRET_KEY, secrets.token_hex(32)))
        self._keys = keys
        self.ttl = ttl
        self._clock = clock

    def issue(self, *, account: str, access_key_id: str) -> Login:
        expires = int(self._clock() + self.ttl)
        payload = {"a": account, "k": access_key_id, "e": expires, "n": secrets.token_hex(8)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signed = f"{_PREFIX}.{body}"
        return Login(f"{signed}.{_b64(self._mac(signed))}", float(expires))

    def verify(self, password: str) -> Grant | None:
        """The grant a password carries, or None if forged, malformed, expired or revoked."""
        parts = password.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        try:
            mac = _unb64(parts[2])
            if not hmac.compare_digest(mac, self._mac(f"{parts[0]}.{parts[1]}")):
                return None
            payload = json.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError):
            return None
        account, key_id, expires = payload.get("a"), payload.get("k"), payload.get("e")
        if not (isinstance(account, str) and isinstance(key_id, str) and isinstance(expires, int)):
            return None
        if self._clock() >= expires:
            return None
        if self._keys is not None:
            key = self._keys.get(key_id)
            if key is None or not key.active or key.account_id != account:
                return None
        return Grant(account, key_id, float(expires))

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._secret, signed.encode(), hashlib.sha256).digest()


class EcrRegistryAuth:
    """The registry's :class:`~cais.registry.auth.Authenticator` under ``cais up``."""

    enabled = True
    issues_tokens = False
    slow = True  # a password check reads the access key from SQLite

    def __init__(self, tokens: LoginTokens, store: EcrStore) -> None:
        self.tokens = tokens
        self.store = store

    def authenticate(self, authorization: str | None) -> Identity | None:
        creds = parse_basic(authorization)
        if creds is None or creds[0] != USER:
            return None
        grant = self.tokens.verify(creds[1])
        return Identity(grant.account) if grant is not None else None

    def decide(self, identity: Identity | None, scopes: Sequence[Scope]) -> Verdict:
        if identity is None:
            return Verdict.UNAUTHORIZED
        for scope in scopes:
            if scope.type != "repository":
                continue
            repo = self.store.find_repository(scope.name)
            if repo is not None and repo.registry_id != identity.user:
                return Verdict.DENIED
        return Verdict.ALLOW

    def challenge(self, realm_base: str, scopes: Sequence[Scope], *, insufficient: bool) -> str:
        return f'Basic realm="{realm_base}/",service="{SERVICE}"'
