"""CloudWatch Logs filter patterns for unstructured events (the term syntax).

- ``ERROR`` — the event contains the term (case-sensitive); several terms must all appear;
- ``"out of memory"`` — a quoted phrase is one term, spaces and punctuation included;
- ``?ERROR ?WARN`` — the event contains at least one of the ``?`` terms;
- ``-DEBUG`` / ``-"health check"`` — the event must not contain the term.

An empty pattern matches every event. JSON (``{ $.x = … }``), space-delimited (``[a, b]``)
and regex (``%…%``) patterns are refused with InvalidParameterException: cais does not
evaluate them, and matching nothing silently would mislead.
"""

from __future__ import annotations

from dataclasses import dataclass

from cais.logs import errors


@dataclass(frozen=True)
class FilterPattern:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> FilterPattern:
        text = (text or "").strip()
        if not text:
            return cls()
        if text[0] in "{[%":
            raise errors.invalid(
                f"Invalid filter pattern {text!r}: cais supports terms, quoted phrases, "
                "?term and -term (not JSON, space-delimited or regex patterns)"
            )
        required: list[str] = []
        optional: list[str] = []
        excluded: list[str] = []
        for marker, term in _tokens(text):
            if not term:
                continue
            {"": required, "?": optional, "-": excluded}[marker].append(term)
        return cls(tuple(required), tuple(optional), tuple(excluded))

    @property
    def matches_all(self) -> bool:
        return not (self.required or self.optional or self.excluded)

    def matches(self, message: str) -> bool:
        if any(term not in message for term in self.required):
            return False
        if self.optional and not any(term in message for term in self.optional):
            return False
        return not any(term in message for term in self.excluded)


def _tokens(text: str) -> list[tuple[str, str]]:
    """(marker, term) pairs; marker is '', '?' or '-'."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        marker = ""
        if text[i] in "?-" and i + 1 < n and not text[i + 1].isspace():
            marker = text[i]
            i += 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise errors.invalid(f"Invalid filter pattern {text!r}: unbalanced quote")
            out.append((marker, text[i + 1 : end]))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        out.append((marker, text[start:i]))
    return out
