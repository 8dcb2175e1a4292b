"""CloudWatch Logs for cais: a log store (the domain) and the Logs API provider over it.

The engine's ``awslogs`` driver appends a container's lines with :meth:`LogStore.append`;
``cais up`` serves the API with :func:`register`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cais.logs.filterpattern import FilterPattern
from cais.logs.model import (
    DEFAULT_SCOPE,
    InputEvent,
    LogEvent,
    LogGroup,
    LogStream,
    Position,
    PutResult,
    Scope,
)
from cais.logs.provider import VALIDATION_ERROR, LogsProvider
from cais.logs.store import LogStore

if TYPE_CHECKING:
    from cais.aws.dispatch import Dispatcher

SERVICE_NAME = "logs"


def register(dispatcher: Dispatcher, store: LogStore) -> LogsProvider:
    """Serve ``Logs_20140328.*`` from ``store`` on ``dispatcher``."""
    provider = LogsProvider(store)
    dispatcher.register(SERVICE_NAME, provider, validation_error=VALIDATION_ERROR)
    return provider


__all__ = [
    "DEFAULT_SCOPE",
    "SERVICE_NAME",
    "FilterPattern",
    "InputEvent",
    "LogEvent",
    "LogGroup",
    "LogStore",
    "LogStream",
    "LogsProvider",
    "Position",
    "PutResult",
    "Scope",
    "register",
]
