"""Output serialisation by shape: what a provider returns, as the wire expects it.

Providers return plain dicts in the model's member names; values may be datetimes (written as
epoch seconds, or ISO 8601 where the shape says so), bytes (base64) or None (left out). A key
the output shape does not know is a provider bug and fails loudly instead of leaking.

Responses can hold thousands of items (10,000 log events), so each shape is compiled once
into a small function: structures whose members are all plain scalars take a fast path (drop
None values, check the keys as a set), and only subtrees with timestamps or blobs convert.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

Convert = Callable[[Any], Any]

_SCALARS = frozenset({"string", "integer", "long", "boolean", "float", "double"})


class ShapeError(Exception):
    """A provider returned something its output shape does not describe."""


def epoch_seconds(value: dt.datetime | float) -> float | int:
    """Seconds since the epoch with millisecond precision, an int when whole."""
    seconds = value.timestamp() if isinstance(value, dt.datetime) else float(value)
    rounded = round(seconds, 3)
    return int(rounded) if rounded.is_integer() else rounded


def _identity(value: Any) -> Any:
    return value


def _blob(value: Any) -> str:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")


def _iso8601(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    text: str = value.astimezone(dt.UTC).isoformat()
    return text.replace("+00:00", "Z")


class Serializer:
    """Compiles output shapes into converters, once per shape, and applies them."""

    def __init__(self) -> None:
        self._plans: dict[int, tuple[Shape, Convert]] = {}

    def serialize(self, shape: StructureShape | None, value: Mapping[str, Any]) -> dict[str, Any]:
        if shape is None:
            return {}
        out = self._plan(shape)(value)
        assert isinstance(out, dict)
        return out

    def _plan(self, shape: Shape) -> Convert:
        entry = self._plans.get(id(shape))
        if entry is not None:
            return entry[1]

        # a placeholder first, so recursive shapes resolve to the finished plan at call time
        def deferred(value: Any) -> Any:
            return self._plan(shape)(value)

        self._plans[id(shape)] = (shape, deferred)
        plan = self._build(shape)
        self._plans[id(shape)] = (shape, plan)
        return plan

    def _build(self, shape: Shape) -> Convert:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            return self._structure(shape)
        if kind == "list":
            assert isinstance(shape, ListShape)
            member = shape.member
            if member.type_name in _SCALARS:
                return list
            convert = self._plan(member)
            return lambda value: [convert(item) for item in value]
        if kind == "map":
            assert isinstance(shape, MapShape)
            if shape.value.type_name in _SCALARS:
                return dict
            convert = self._plan(shape.value)
            return lambda value: {k: convert(v) for k, v in value.items()}
        if kind == "timestamp":
            if shape.serialization.get("timestampFormat") == "iso8601":
                return _iso8601
            return epoch_seconds
        if kind == "blob":
            return _blob
        return _identity

    def _structure(self, shape: StructureShape) -> Convert:
        members = shape.members
        names = frozenset(members)
        name = shape.name

        def unknown(value: Mapping[str, Any]) -> ShapeError:
            extra = sorted(set(value) - names)
            return ShapeError(f"{name} has no member {extra[0]!r}")

        if all(m.type_name in _SCALARS for m in members.values()):

            def flat(value: Any) -> Any:
                if type(value) is not dict and not isinstance(value, Mapping):
                    raise ShapeError(f"{name}: expected a mapping, got {type(value).__name__}")
                if not value.keys() <= names:
                    raise unknown(value)
                if None in value.values():
                    return {k: v for k, v in value.items() if v is not None}
                return value

            return flat

        converters = {n: self._plan(m) for n, m in members.items()}

        def nested(value: Any) -> Any:
            if not isinstance(value, Mapping):
                raise ShapeError(f"{name}: expected a mapping, got {type(value).__name__}")
            if not value.keys() <= names:
                raise unknown(value)
            return {k: converters[k](v) for k, v in value.items() if v is not None}

        return nested
