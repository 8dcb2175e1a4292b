"""The ``awslogs`` log driver: a container's output, as CloudWatch Logs events.

The engine keeps every container's output in conmon's k8s-file log; the agent follows that
file (from a byte offset it keeps in the task's record, so a restarted agent neither loses
nor repeats much), joins partial lines, and sends batches with the protocol's ``logs`` call.
Stream names are ECS's: ``<awslogs-stream-prefix>/<container name>/<task id>``.
Batches keep within PutLogEvents' limits: 10,000 events, 1 MiB (message bytes + 26 each).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cais.agent.protocol import ContainerSpec, LogEvent, LogsRequest, TaskSpec
from cais.runtime.logs import LogLine, parse_line

log = logging.getLogger(__name__)

MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_MESSAGE = 256 * 1024 - EVENT_OVERHEAD
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class LogTarget:
    group: str
    stream: str
    region: str = ""
    create_group: bool = False


def log_target(task: TaskSpec, container: ContainerSpec, runtime_id: str) -> LogTarget | None:
    """Where ``container``'s output goes, or None when it does not use ``awslogs``."""
    config = container.log_configuration
    if config is None or config.driver != "awslogs":
        return None
    options = config.options
    group = options.get("awslogs-group", "")
    if not group:
        return None
    prefix = options.get("awslogs-stream-prefix", "")
    task_id = task.task_arn.rsplit("/", 1)[-1]
    stream = f"{prefix}/{container.name}/{task_id}" if prefix else runtime_id
    return LogTarget(
        group=group,
        stream=stream,
        region=options.get("awslogs-region", ""),
        create_group=options.get("awslogs-create-group", "false").lower() == "true",
    )


@dataclass
class LineJoiner:
    """conmon splits long lines into partial (P) records ended by a full (F) one."""

    pending: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    def feed(self, line: LogLine) -> LogEvent | None:
        started, text = self.pending.pop(line.stream, (line.epoch, b""))
        text += line.text
        if line.partial and len(text) < MAX_MESSAGE:
            self.pending[line.stream] = (started, text)
            return None
        message = text[:MAX_MESSAGE].decode(errors="replace")
        return LogEvent(int(started * 1000), message)


@dataclass
class Batcher:
    """Collects events into PutLogEvents-sized batches, oldest first."""

    max_events: int = MAX_EVENTS
    max_bytes: int = MAX_BYTES
    events: list[LogEvent] = field(default_factory=list)
    size: int = 0

    def add(self, event: LogEvent) -> tuple[LogEvent, ...] | None:
        """Add ``event``; returns a full batch to send first when it would not fit."""
        cost = len(event.message.encode()) + EVENT_OVERHEAD
        full = None
        if self.events and (
            len(self.events) >= self.max_events or self.size + cost > self.max_bytes
        ):
            full = self.take()
        self.events.append(event)
        self.size += cost
        return full

    def take(self) -> tuple[LogEvent, ...]:
        batch = tuple(sorted(self.events, key=lambda e: e.timestamp_ms))
        self.events, self.size = [], 0
        return batch


def read_lines(path: Path, offset: int) -> tuple[list[LogLine], int]:
    """Complete lines after byte ``offset`` and the offset after the last of them (a file
    shorter than ``offset`` was started anew by conmon: read it from its start)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return [], offset
    if size < offset:
        offset = 0
    if size == offset:
        return [], offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(READ_CHUNK)
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    lines = [parsed for raw in data[:end].split(b"\n") if (parsed := parse_line(raw))]
    return lines, offset + end + 1


Send = Callable[[LogsRequest], Awaitable[None]]
Blocking = Callable[..., Awaitable[Any]]


class LogShipper:
    """Follows one container's log and ships it until the container stopped and all is sent."""

    def __init__(
        self,
        *,
        target: LogTarget,
        path: Path,
        offset: int,
        send: Send,
        run: Blocking,
        progress: Callable[[int], Awaitable[None]],
        flush_interval: float = 1.0,
        poll: float = 0.2,
    ) -> None:
        self.target = target
        self.path = path
        self.offset = offset
        self.send = send
        self.run = run
        self.progress = progress
        self.flush_interval = flush_interval
        self.poll = poll

    async def follow(self, done: Callable[[], bool]) -> None:
        joiner = LineJoiner()
        batcher = Batcher()
        loop = asyncio.get_running_loop()
        last_flush = loop.time()
        position = self.offset  # read so far; ``self.offset``: shipped so far
        while True:
            finished = done()
            lines, position = await self.run(read_lines, self.path, position)
            for line in lines:
                event = joiner.feed(line)
                if event is None:
                    continue
                full = batcher.add(event)
                if full:
                    await self._ship(full, None)
            now = loop.time()
            if batcher.events and (now - last_flush >= self.flush_interval or finished):
                await self._ship(batcher.take(), position)
                last_flush = now
            elif not batcher.events and not joiner.pending and position != self.offset:
                await self._ship((), position)
            if finished and not lines:
                return
            if not lines:
                await asyncio.sleep(self.poll)

    async def _ship(self, events: tuple[LogEvent, ...], offset: int | None) -> None:
        if events:
            request = LogsRequest(
                group=self.target.group,
                stream=self.target.stream,
                events=events,
                region=self.target.region,
                create_group=self.target.create_group,
            )
            await self.send(request)
        if offset is not None:
            self.offset = offset
            await self.progress(offset)
