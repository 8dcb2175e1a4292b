"""CloudWatch Logs' vocabulary as values: log groups hold log streams, streams hold events.

A *scope* is an account and a region: names are unique within one, as in AWS. Times are
milliseconds since the epoch, as the Logs API counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from cais.aws.arn import arn

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
MAX_FUTURE_MS = 2 * 3600 * 1000
MAX_AGE_MS = 14 * 24 * 3600 * 1000
MAX_RESPONSE_BYTES = 1_048_576
MAX_TAGS = 50
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
LOG_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Scope:
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION

    def group_arn(self, group: str) -> str:
        """The log group's ARN as ``logGroupArn`` and tagging APIs spell it (no ``:*``)."""
        return arn("logs", self.region, self.account, f"log-group:{group}")

    def stream_arn(self, group: str, stream: str) -> str:
        return arn("logs", self.region, self.account, f"log-group:{group}:log-stream:{stream}")


DEFAULT_SCOPE = Scope()


@dataclass(frozen=True)
class LogGroup:
    name: str
    created_ms: int
    retention_days: int | None
    kms_key_id: str | None
    log_class: str
    stored_bytes: int


@dataclass(frozen=True)
class LogStream:
    group: str
    name: str
    created_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    stored_bytes: int
    event_count: int


@dataclass(frozen=True)
class InputEvent:
    """One event as a client sends it: when it happened and its text."""

    timestamp: int
    message: str

    @property
    def size(self) -> int:
        """What counts against the batch limit: UTF-8 bytes plus 26 bytes per event."""
        return len(self.message.encode()) + EVENT_OVERHEAD_BYTES


class LogEvent(NamedTuple):
    """A stored event; ``event_id`` orders events with the same timestamp.

    A NamedTuple rather than a dataclass: reads build up to 10,000 of these per call.
    """

    stream: str
    timestamp: int
    message: str
    ingestion_ms: int
    event_id: int


@dataclass(frozen=True)
class Position:
    """A place between events: before every event with a greater (timestamp, id)."""

    timestamp: int
    event_id: int

    def of(self) -> tuple[int, int]:
        return (self.timestamp, self.event_id)


@dataclass(frozen=True)
class Rejected:
    """Events refused by time: indexes as ``rejectedLogEventsInfo`` gives them."""

    too_new_start: int | None = None
    too_old_end: int | None = None
    expired_end: int | None = None


@dataclass(frozen=True)
class PutResult:
    accepted: int
    rejected: Rejected | None
    sequence_token: str


@dataclass(frozen=True)
class EventsPage:
    """A GetLogEvents page: events in ascending order, and where the next reads start."""

    events: list[LogEvent]
    forward: Position
    backward: Position


@dataclass(frozen=True)
class FilterPage:
    events: list[LogEvent]
    resume_after: Position | None = None
    searched: list[str] = field(default_factory=list)
