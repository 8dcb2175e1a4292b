"""Output serialisation by shape: what a provider returns, as the wire expects it.

Providers return plain dicts in the model's member names; values may be datetimes (written as
epoch seconds, or ISO 8601 where the shape says so), bytes (base64) or None (left out). A key
the output shape does not know is a provider bug and fails loudly instead of leaking.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


class ShapeError(Exception):
    """A provider returned something its output shape does not describe."""


def serialize(shape: StructureShape | None, value: Mapping[str, Any]) -> dict[str, Any]:
    if shape is None:
        return {}
    out = _value(shape, value, shape.name)
    assert isinstance(out, dict)
    return out


def epoch_seconds(value: dt.datetime | float) -> float | int:
    """Seconds since the epoch with millisecond precision, an int when whole."""
    seconds = value.timestamp() if isinstance(value, dt.datetime) else float(value)
    rounded = round(seconds, 3)
    return int(rounded) if rounded.is_integer() else rounded


def _value(shape: Shape, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, Mapping):
            raise ShapeError(f"{path}: expected a mapping, got {type(value).__name__}")
        members = shape.members
        out = {}
        for name, item in value.items():
            if item is None:
                continue
            member = members.get(name)
            if member is None:
                raise ShapeError(f"{path}: {shape.name} has no member {name!r}")
            out[name] = _value(member, item, f"{path}.{name}")
        return out
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [_value(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {k: _value(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    if kind == "timestamp":
        if shape.serialization.get("timestampFormat") == "iso8601":
            if isinstance(value, dt.datetime):
                return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            return dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat()
        return epoch_seconds(value)
    if kind == "blob":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(data).decode("ascii")
    if kind in ("integer", "long") and isinstance(value, bool | float):
        raise ShapeError(f"{path}: expected an integer, got {value!r}")
    return value
