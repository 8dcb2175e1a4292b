"""The CloudWatch Logs API (``Logs_20140328.*``) over the :class:`LogStore`.

Thin on purpose: it maps the request members of each operation to a domain call and the
domain's values back to AWS's response members. Input was already checked against the model
by the dispatcher; what remains here are the rules the model cannot state.
"""

from __future__ import annotations

from typing import Any

from cais.aws.arn import Arn
from cais.aws.context import RequestContext
from cais.aws.pagination import TokenCodec, page_size
from cais.logs import errors
from cais.logs.filterpattern import FilterPattern
from cais.logs.model import InputEvent, LogGroup, LogStream, Position, Scope
from cais.logs.store import LogStore
from cais.logs.tokens import backward_token, forward_token, parse_token

Params = dict[str, Any]
Result = dict[str, Any]

VALIDATION_ERROR = "InvalidParameterException"
_DESCRIBE_LIMIT = 50
_EVENTS_LIMIT = 10_000


def _ms(value: Any) -> int | None:
    return None if value is None else int(value)


class LogsProvider:
    """One method per supported operation: ``(ctx, params) -> response members``."""

    def __init__(self, store: LogStore) -> None:
        self._store = store
        self._tokens = TokenCodec(error_type=VALIDATION_ERROR)

    # -- log groups -------------------------------------------------------------------------

    def create_log_group(self, ctx: RequestContext, p: Params) -> Result:
        self._store.create_group(
            _scope(ctx),
            p["logGroupName"],
            tags=p.get("tags"),
            kms_key_id=p.get("kmsKeyId"),
            log_class=p.get("logGroupClass", "STANDARD"),
        )
        return {}

    def delete_log_group(self, ctx: RequestContext, p: Params) -> Result:
        self._store.delete_group(_scope(ctx), p["logGroupName"])
        return {}

    def describe_log_groups(self, ctx: RequestContext, p: Params) -> Result:
        prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
        if prefix and pattern:
            raise errors.invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        scope = _scope(ctx)
        names = None
        if "logGroupIdentifiers" in p:
            names = [_group_name(scope, ident) for ident in p["logGroupIdentifiers"]]
        limit = page_size(p.get("limit"), default=_DESCRIBE_LIMIT, maximum=_DESCRIBE_LIMIT)
        after = self._tokens.decode(p["nextToken"]).get("name") if "nextToken" in p else None
        groups = self._store.list_groups(
            scope,
            prefix=prefix,
            pattern=pattern,
            names=names,
            log_class=p.get("logGroupClass"),
            after=after if isinstance(after, str) else None,
            limit=limit + 1,
        )
        result: Result = {"logGroups": [_group(scope, g) for g in groups[:limit]]}
        if len(groups) > limit:
            result["nextToken"] = self._tokens.encode({"name": groups[limit - 1].name})
        return result

    # -- log streams ------------------------------------------------------------------------

    def create_log_stream(self, ctx: RequestContext, p: Params) -> Result:
        self._store.create_stream(_scope(ctx), p["logGroupName"], p["logStreamName"])
        return {}

    def delete_log_stream(self, ctx: RequestContext, p: Params) -> Result:
        self._store.delete_stream(_scope(ctx), p["logGroupName"], p["logStreamName"])
        return {}

    def describe_log_streams(self, ctx: RequestContext, p: Params) -> Result:
        scope = _scope(ctx)
        group = _group_of(scope, p)
        by_last_event = p.get("orderBy") == "LastEventTime"
        if by_last_event and p.get("logStreamNamePrefix"):
            raise errors.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit = page_size(p.get("limit"), default=_DESCRIBE_LIMIT, maximum=_DESCRIBE_LIMIT)
        after: tuple[int, str] | str | None = None
        if "nextToken" in p:
            key = self._tokens.decode(p["nextToken"]).get("after")
            if by_last_event and isinstance(key, list) and len(key) == 2:
                after = (int(key[0]), str(key[1]))
            elif not by_last_event and isinstance(key, str):
                after = key
            else:
                raise errors.invalid("The specified nextToken is invalid.")
        streams = self._store.list_streams(
            scope,
            group,
            prefix=p.get("logStreamNamePrefix"),
            by_last_event=by_last_event,
            descending=bool(p.get("descending", False)),
            after=after,
            limit=limit + 1,
        )
        result: Result = {"logStreams": [_stream(scope, s) for s in streams[:limit]]}
        if len(streams) > limit:
            last = streams[limit - 1]
            key_out: Any = (
                [last.last_event_ms if last.last_event_ms is not None else -1, last.name]
                if by_last_event
                else last.name
            )
            result["nextToken"] = self._tokens.encode({"after": key_out})
        return result

    # -- events -----------------------------------------------------------------------------

    def put_log_events(self, ctx: RequestContext, p: Params) -> Result:
        batch = [InputEvent(e["timestamp"], e["message"]) for e in p["logEvents"]]
        put = self._store.put_events(_scope(ctx), p["logGroupName"], p["logStreamName"], batch)
        result: Result = {"nextSequenceToken": put.sequence_token}
        if put.rejected is not None:
            result["rejectedLogEventsInfo"] = {
                "tooNewLogEventStartIndex": put.rejected.too_new_start,
                "tooOldLogEventEndIndex": put.rejected.too_old_end,
                "expiredLogEventEndIndex": put.rejected.expired_end,
            }
        return result

    def get_log_events(self, ctx: RequestContext, p: Params) -> Result:
        scope = _scope(ctx)
        group = _group_of(scope, p)
        after = before = None
        if "nextToken" in p:
            direction, position = parse_token(p["nextToken"])
            after, before = (position, None) if direction == "f" else (None, position)
        page = self._store.get_events(
            scope,
            group,
            p["logStreamName"],
            start=_ms(p.get("startTime")),
            end=_ms(p.get("endTime")),
            after=after,
            before=before,
            from_head=bool(p.get("startFromHead", False)),
            limit=p.get("limit", _EVENTS_LIMIT),
        )
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_ms}
                for e in page.events
            ],
            "nextForwardToken": forward_token(page.forward),
            "nextBackwardToken": backward_token(page.backward),
        }

    def filter_log_events(self, ctx: RequestContext, p: Params) -> Result:
        scope = _scope(ctx)
        group = _group_of(scope, p)
        after = None
        if "nextToken" in p:
            pos = self._tokens.decode(p["nextToken"]).get("after")
            if not (
                isinstance(pos, list) and len(pos) == 2 and all(isinstance(x, int) for x in pos)
            ):
                raise errors.invalid("The specified nextToken is invalid.")
            after = Position(pos[0], pos[1])
        page = self._store.filter_events(
            scope,
            group,
            streams=p.get("logStreamNames"),
            stream_prefix=p.get("logStreamNamePrefix"),
            start=_ms(p.get("startTime")),
            end=_ms(p.get("endTime")),
            pattern=FilterPattern.parse(p.get("filterPattern")),
            after=after,
            limit=p.get("limit", _EVENTS_LIMIT),
        )
        result: Result = {
            "events": [
                {
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingestion_ms,
                    "eventId": str(e.event_id),
                }
                for e in page.events
            ],
            "searchedLogStreams": [],
        }
        if page.resume_after is not None:
            result["nextToken"] = self._tokens.encode(
                {"after": [page.resume_after.timestamp, page.resume_after.event_id]}
            )
        return result

    # -- tags and retention -----------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, p: Params) -> Result:
        scope = _scope(ctx)
        self._store.tag(scope, _group_from_arn(scope, p["resourceArn"]), p["tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, p: Params) -> Result:
        scope = _scope(ctx)
        self._store.untag(scope, _group_from_arn(scope, p["resourceArn"]), p["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, p: Params) -> Result:
        scope = _scope(ctx)
        return {"tags": self._store.tags(scope, _group_from_arn(scope, p["resourceArn"]))}

    def tag_log_group(self, ctx: RequestContext, p: Params) -> Result:
        self._store.tag(_scope(ctx), p["logGroupName"], p["tags"])
        return {}

    def untag_log_group(self, ctx: RequestContext, p: Params) -> Result:
        self._store.untag(_scope(ctx), p["logGroupName"], p["tags"])
        return {}

    def list_tags_log_group(self, ctx: RequestContext, p: Params) -> Result:
        return {"tags": self._store.tags(_scope(ctx), p["logGroupName"])}

    def put_retention_policy(self, ctx: RequestContext, p: Params) -> Result:
        self._store.set_retention(_scope(ctx), p["logGroupName"], p["retentionInDays"])
        return {}

    def delete_retention_policy(self, ctx: RequestContext, p: Params) -> Result:
        self._store.set_retention(_scope(ctx), p["logGroupName"], None)
        return {}


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


def _group_of(scope: Scope, p: Params) -> str:
    """``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN), exactly one."""
    name, ident = p.get("logGroupName"), p.get("logGroupIdentifier")
    if name and ident:
        raise errors.invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if name:
        return str(name)
    if ident:
        return _group_name(scope, ident)
    raise errors.invalid("Should provide either name or ARN of the log group.")


def _group_name(scope: Scope, identifier: str) -> str:
    return _group_from_arn(scope, identifier) if identifier.startswith("arn:") else identifier


def _group_from_arn(scope: Scope, text: str) -> str:
    """The log group an ARN names in this scope (with or without the trailing ``:*``)."""
    parsed = Arn.parse(text, error_type=VALIDATION_ERROR)
    resource = parsed.resource
    if parsed.service != "logs" or not resource.startswith("log-group:"):
        raise errors.invalid(f"Invalid resource ARN for a log group: {text}")
    name = resource[len("log-group:") :]
    if name.endswith(":*"):
        name = name[:-2]
    if (parsed.account, parsed.region) != (scope.account, scope.region) or ":" in name:
        raise errors.resource_not_found(text)
    return name


def _group(scope: Scope, g: LogGroup) -> Result:
    group_arn = scope.group_arn(g.name)
    return {
        "logGroupName": g.name,
        "creationTime": g.created_ms,
        "retentionInDays": g.retention_days,
        "metricFilterCount": 0,
        "arn": group_arn + ":*",
        "storedBytes": g.stored_bytes,
        "kmsKeyId": g.kms_key_id,
        "logGroupClass": g.log_class,
        "logGroupArn": group_arn,
    }


def _stream(scope: Scope, s: LogStream) -> Result:
    return {
        "logStreamName": s.name,
        "creationTime": s.created_ms,
        "firstEventTimestamp": s.first_event_ms,
        "lastEventTimestamp": s.last_event_ms,
        "lastIngestionTime": s.last_ingestion_ms,
        "arn": scope.stream_arn(s.group, s.name),
        "storedBytes": s.stored_bytes,
    }
