"""Input checks against a botocore shape, with the messages AWS's services give.

Every constraint the model states is checked: required members, JSON types, enums, lengths
(strings, lists, maps, blobs), ranges, and patterns. All violations are reported together,
in AWS's words (``1 validation error detected: Value 'x' at 'repositoryName' failed to
satisfy constraint: Member must satisfy regular expression pattern: …``). Members the model
does not know are dropped, as AWS ignores them. Timestamps come out as aware UTC datetimes
and blobs as bytes, so providers never parse wire formats.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from cais.aws.errors import AwsError
from cais.aws.javaregex import JavaRegexTranslator

_SHOWN_VALUE_CHARS = 256


class Validator:
    """Checks and converts request parameters; one per dispatcher (it caches regexes)."""

    def __init__(self, regex: JavaRegexTranslator | None = None) -> None:
        self._regex = regex or JavaRegexTranslator()

    def validate(
        self, shape: StructureShape | None, params: Mapping[str, Any], *, error_type: str
    ) -> dict[str, Any]:
        """The converted parameters, or an AwsError of ``error_type`` listing every problem."""
        if shape is None:
            return {}
        problems: list[str] = []
        result = self._structure(shape, params, "", problems)
        if problems:
            count = len(problems)
            noun = "error" if count == 1 else "errors"
            detail = "; ".join(problems)
            raise AwsError(error_type, f"{count} validation {noun} detected: {detail}")
        assert isinstance(result, dict)
        return result

    def _value(self, shape: Shape, value: Any, path: str, problems: list[str]) -> Any:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            return self._structure(shape, value, path, problems)
        if kind == "list":
            assert isinstance(shape, ListShape)
            return self._list(shape, value, path, problems)
        if kind == "map":
            assert isinstance(shape, MapShape)
            return self._map(shape, value, path, problems)
        if kind == "string":
            return self._string(shape, value, path, problems)
        if kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                _bad_type(value, path, kind, problems)
                return None
            self._range(shape, value, path, problems)
            return value
        if kind in ("float", "double"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                _bad_type(value, path, kind, problems)
                return None
            self._range(shape, value, path, problems)
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                _bad_type(value, path, kind, problems)
                return None
            return value
        if kind == "timestamp":
            return _timestamp(value, path, problems)
        if kind == "blob":
            return self._blob(shape, value, path, problems)
        return value  # documents and anything newer pass as they are

    def _structure(
        self, shape: StructureShape, value: Any, path: str, problems: list[str]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            _bad_type(value, path, "structure", problems)
            return None
        out: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        members = shape.members
        for name, item in value.items():
            member = members.get(name)
            if member is None or item is None:
                continue
            out[name] = self._value(member, item, _join(path, name), problems)
        return out

    def _list(self, shape: ListShape, value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, list):
            _bad_type(value, path, "list", problems)
            return None
        self._length(shape, value, len(value), path, problems)
        member = shape.member
        return [
            self._value(member, item, f"{path}.{i}.member", problems)
            for i, item in enumerate(value, start=1)
        ]

    def _map(self, shape: MapShape, value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, dict):
            _bad_type(value, path, "map", problems)
            return None
        self._length(shape, value, len(value), path, problems)
        out = {}
        for key, item in value.items():
            checked_key = self._value(shape.key, key, f"{path}.{key}.key", problems)
            out[checked_key] = self._value(shape.value, item, f"{path}.{key}.value", problems)
        return out

    def _string(self, shape: Shape, value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, str):
            _bad_type(value, path, "string", problems)
            return None
        enum = shape.enum
        if enum and value not in enum:
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]"
            )
            return value
        self._length(shape, value, len(value), path, problems)
        pattern = shape.metadata.get("pattern")
        if pattern and not self._regex.compile(pattern).fullmatch(value):
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}"
            )
        return value

    def _blob(self, shape: Shape, value: Any, path: str, problems: list[str]) -> Any:
        if not isinstance(value, str):
            _bad_type(value, path, "blob", problems)
            return None
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: Member must be base64-encoded"
            )
            return None
        self._length(shape, value, len(data), path, problems)
        return data

    def _length(self, shape: Shape, value: Any, size: int, path: str, problems: list[str]) -> None:
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        if low is not None and size < low:
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: "
                f"Member must have length greater than or equal to {low}"
            )
        if high is not None and size > high:
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: "
                f"Member must have length less than or equal to {high}"
            )

    def _range(self, shape: Shape, value: float, path: str, problems: list[str]) -> None:
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        if low is not None and value < low:
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: "
                f"Member must have value greater than or equal to {low}"
            )
        if high is not None and value > high:
            problems.append(
                f"{_shown(value, path)} failed to satisfy constraint: "
                f"Member must have value less than or equal to {high}"
            )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: Any, path: str) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[:_SHOWN_VALUE_CHARS] + "..."
    return f"Value '{text}' at '{path}'"


def _bad_type(value: Any, path: str, kind: str, problems: list[str]) -> None:
    problems.append(
        f"{_shown(value, path)} failed to satisfy constraint: Member must be of type {kind}"
    )


def _timestamp(value: Any, path: str, problems: list[str]) -> dt.datetime | None:
    """Epoch seconds (what awsJson sends) or an ISO 8601 string, as an aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            pass
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    _bad_type(value, path, "timestamp", problems)
    return None
