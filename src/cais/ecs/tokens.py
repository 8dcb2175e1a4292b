"""Join tokens (how a machine is allowed to join) and session tokens (who is calling).

A *join token* is a random secret handed to ``cais agent --join URL --token T``; only its
SHA-256 is stored, so the database never holds a usable token (except the local agent's,
which ``cais up`` must read back after a restart). A token may be bound to one cluster.

A *session token* is what ``register`` returns and every later call carries. It is
``cais-agent1.<payload>.<mac>``: the payload names the container instance and its
registration session; the mac is HMAC-SHA256 with a secret kept in the database, so
sessions survive a restart of ``cais up``. A session ends when the instance registers again
(a new session) or is deregistered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

JOIN_PREFIX = "caisjoin1."
SESSION_PREFIX = "cais-agent1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_join_token() -> str:
    return JOIN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What is stored for a join token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_session() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Session:
    instance_arn: str
    session: str


class SessionTokens:
    """Issues and checks session tokens with a secret kept by the caller."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, instance_arn: str, session: str) -> str:
        body = _b64(json.dumps({"i": instance_arn, "s": session}, separators=(",", ":")).encode())
        signed = f"{SESSION_PREFIX}.{body}"
        return f"{signed}.{_b64(self._mac(signed))}"

    def verify(self, token: str) -> Session | None:
        """The session a token names, or None if it is malformed or forged."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != SESSION_PREFIX:
            return None
        try:
            if not hmac.compare_digest(_unb64(parts[2]), self._mac(f"{parts[0]}.{parts[1]}")):
                return None
            payload = json.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError):
            return None
        arn, session = payload.get("i"), payload.get("s")
        if not isinstance(arn, str) or not isinstance(session, str):
            return None
        return Session(arn, session)

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._secret, signed.encode(), hashlib.sha256).digest()
