"""GetLogEvents' tokens, shaped as AWS's: ``f/<56 digits>/s`` and ``b/<56 digits>/s``.

The digits carry a position between events (timestamp + 1, then event id, 28 digits each):
``f/`` reads the events after it, ``b/`` the events before it. Like AWS, a forward read that
finds nothing returns the token it was given, which is how clients know they are at the end.
"""

from __future__ import annotations

import re

from cais.logs import errors
from cais.logs.model import Position

_TOKEN = re.compile(r"([fb])/(\d{28})(\d{28})/s")


def forward_token(position: Position) -> str:
    return f"f/{position.timestamp + 1:028d}{position.event_id:028d}/s"


def backward_token(position: Position) -> str:
    return f"b/{position.timestamp + 1:028d}{position.event_id:028d}/s"


def parse_token(token: str) -> tuple[str, Position]:
    """``("f" | "b", position)``; anything else is InvalidParameterException."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise errors.invalid("The specified nextToken is invalid.")
    return match.group(1), Position(int(match.group(2)) - 1, int(match.group(3)))
