"""Output shaped like Docker's: aligned tables, human sizes and ages, ``--format``."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
_FIELD = re.compile(r"{{\s*(json\s+)?\.([A-Za-z_][A-Za-z0-9_.]*)?\s*}}")


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units with three significant digits, as ``docker images`` prints them."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    text = f"{size:.{precision}g}"
    if "e" in text:
        text = f"{size:.0f}"
    return f"{text}{_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """Docker's HumanDuration: "Less than a second", "About a minute", "3 days"…"""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def ago(epoch: float | None, now: float | None = None) -> str:
    if not epoch:
        return "N/A"
    return human_duration((now or time.time()) - epoch) + " ago"


def table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to the widest cell plus three spaces (Docker's tabwriter settings)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for row in (headers, *rows):
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.write("   ".join(cells).rstrip() + "\n")


def go_text(value: Any) -> str:
    """A value as Go's templates print it: ``[a b]``, ``map[k:v]``, ``true``, ``<nil>``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_text(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def render_template(template: str, item: Mapping[str, Any]) -> str:
    """A subset of Go templates: ``{{.Field}}``, ``{{.A.B}}``, ``{{json .X}}``, ``{{json .}}``."""

    def lookup(path: str | None) -> Any:
        value: Any = item
        for part in (path or "").split("."):
            if not part:
                continue
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return value

    def replace(match: re.Match[str]) -> str:
        value = lookup(match.group(2))
        if match.group(1) or (match.group(2) is None):
            return json.dumps(value, separators=(",", ":"))
        return go_text(value)

    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return _FIELD.sub(replace, text)


def print_formatted(
    out: TextIO,
    fmt: str | None,
    items: Sequence[Mapping[str, Any]],
    headers: Sequence[tuple[str, str]],
) -> bool:
    """Handle ``--format``: ``json`` (one object per line), ``table [TEMPLATE]`` or a template.

    Returns False when ``fmt`` is empty, meaning the caller prints its default table.
    """
    if not fmt or fmt == "table":
        return False
    if fmt == "json":
        for item in items:
            out.write(json.dumps(item, separators=(",", ":")) + "\n")
        return True
    if fmt.startswith("table "):
        template = fmt[len("table ") :]
        names = dict(headers)
        head = _FIELD.sub(
            lambda m: names.get(m.group(2) or "", (m.group(2) or "").upper()),
            template.replace("\\t", "\t"),
        )
        rows = [render_template(template, item).split("\t") for item in items]
        table(out, head.split("\t"), rows)
        return True
    for item in items:
        out.write(render_template(fmt, item) + "\n")
    return True


def print_json(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, indent=4) + "\n")
