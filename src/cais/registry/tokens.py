"""Bearer tokens cais's token endpoint issues: HMAC-SHA256-signed JWTs (``HS256``).

Claims: ``iss``, ``sub`` (the user), ``aud`` (the registry's service name), ``iat``,
``nbf``, ``exp`` and ``access`` — the list of ``{"type","name","actions"}`` the token
grants, in the shape Docker's token specification uses. Any process with the same secret
(several ``cais up`` replicas) accepts the same tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cais.registry.scopes import Scope


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    audience: str
    issued_at: int
    expires_at: int
    access: tuple[Scope, ...]


class TokenSigner:
    """Signs and checks tokens with one secret; ``verify`` returns None for any bad token."""

    def __init__(self, secret: bytes, *, issuer: str = "cais") -> None:
        if len(secret) < 16:
            raise ValueError("token secret must be at least 16 bytes")
        self._secret = secret
        self.issuer = issuer

    def sign(
        self, *, subject: str, audience: str, access: Iterable[Scope], now: int, ttl: int
    ) -> str:
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now - 1,
            "exp": now + ttl,
            "jti": secrets.token_hex(8),
            "access": [
                {"type": s.type, "name": s.name, "actions": sorted(s.actions)} for s in access
            ],
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing_input}.{_b64(self._mac(signing_input))}"

    def _mac(self, signing_input: str) -> bytes:
        return hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()

    def verify(self, token: str, *, audience: str, now: int) -> TokenClaims | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = _unb64(parts[2])
            if not hmac.compare_digest(signature, self._mac(f"{parts[0]}.{parts[1]}")):
                return None
            header = json.loads(_unb64(parts[0]))
            claims: dict[str, Any] = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return None
        if header.get("alg") != "HS256" or claims.get("iss") != self.issuer:
            return None
        if claims.get("aud") != audience:
            return None
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int) or not isinstance(not_before, int):
            return None
        if not not_before <= now < expires:
            return None
        access: list[Scope] = []
        for entry in claims.get("access") or []:
            if isinstance(entry, dict):
                access.append(
                    Scope(
                        str(entry.get("type")),
                        str(entry.get("name")),
                        frozenset(str(a) for a in entry.get("actions") or []),
                    )
                )
        return TokenClaims(
            str(claims.get("sub")), audience, int(claims.get("iat", 0)), expires, tuple(access)
        )
