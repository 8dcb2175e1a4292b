"""``WWW-Authenticate`` challenges (RFC 7235) as registries send them.

A registry answers 401 with ``Basic realm="…"`` or ``Bearer realm="…",service="…",
scope="repository:a/b:pull"`` (and ``error="insufficient_scope"`` when a token lacks a
scope). One header may hold several challenges, and a value may be a quoted string with
commas and escapes in it, so this is a small scanner rather than a split on commas.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


@dataclass(frozen=True)
class Challenge:
    """One auth scheme a server offers; ``scheme`` is lower-case, param names too."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The ``scope`` param split on spaces (one challenge may name several)."""
        return tuple(s for s in self.params.get("scope", "").split(" ") if s)

    @property
    def insufficient_scope(self) -> bool:
        return self.params.get("error", "") == "insufficient_scope"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_separators(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t,":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TOKEN_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.pos += 1  # opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
            elif char == '"':
                break
            else:
                out.append(char)
        return "".join(out)

    def value(self) -> str:
        self.skip_space()
        if self.peek() == '"':
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ", \t":
            self.pos += 1
        return self.text[start : self.pos]


def parse_challenges(headers: Iterable[str]) -> tuple[Challenge, ...]:
    """Every challenge in the given ``WWW-Authenticate`` header values, in order."""
    found: list[Challenge] = []
    for header in headers:
        scan = _Scanner(header)
        scheme: str | None = None
        params: dict[str, str] = {}
        while True:
            scan.skip_separators()
            if not scan.peek():
                break
            start = scan.pos
            word = scan.token()
            if not word:
                scan.pos += 1  # junk: step over it
                continue
            scan.skip_space()
            if scan.peek() == "=" and scheme is not None:
                scan.pos += 1
                params[word.lower()] = scan.value()
                continue
            if scan.peek() == "=":  # token68 or a param without a scheme: ignore
                scan.pos = start + len(word) + 1
                scan.value()
                continue
            if scheme is not None:
                found.append(Challenge(scheme, MappingProxyType(params)))
            scheme, params = word.lower(), {}
        if scheme is not None:
            found.append(Challenge(scheme, MappingProxyType(params)))
    return tuple(found)


def pick(challenges: Iterable[Challenge]) -> Challenge | None:
    """The challenge to answer: Bearer over Basic (as Docker and containers/image do)."""
    by_scheme = {c.scheme: c for c in challenges}
    return by_scheme.get("bearer") or by_scheme.get("basic")
