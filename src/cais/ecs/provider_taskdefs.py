"""Task definition operations of the ECS API (a mixin of :class:`EcsProvider`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cais.aws.context import RequestContext
from cais.aws.pagination import TokenCodec, page_size
from cais.ecs import errors, shapes
from cais.ecs.model import Scope

if TYPE_CHECKING:
    from cais.ecs.service import Ecs
    from cais.ecs.store import EcsStore

Params = dict[str, Any]
Result = dict[str, Any]

MAX_DELETE = 10
_STATUSES = ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS")


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


class TaskDefinitionOperations:
    ecs: Ecs
    store: EcsStore
    tokens: TokenCodec

    def register_task_definition(self, ctx: RequestContext, p: Params) -> Result:
        from cais.ecs.provider import tags_of

        tags = tags_of(p.get("tags"))
        definition = self.ecs.register_task_definition(
            _scope(ctx), p, registered_by=ctx.principal.arn, tags=tags
        )
        return {"taskDefinition": shapes.task_definition(definition), "tags": shapes.tag_list(tags)}

    def describe_task_definition(self, ctx: RequestContext, p: Params) -> Result:
        definition = self.ecs.find_task_definition(_scope(ctx), p["taskDefinition"])
        if definition is None or definition.status.value == "DELETE_IN_PROGRESS":
            raise errors.cannot_describe_task_definition()
        out: Result = {"taskDefinition": shapes.task_definition(definition)}
        if "TAGS" in (p.get("include") or ()):
            out["tags"] = shapes.tag_list(self.store.tags(definition.arn))
        return out

    def deregister_task_definition(self, ctx: RequestContext, p: Params) -> Result:
        definition = self.ecs.deregister_task_definition(_scope(ctx), p["taskDefinition"])
        return {"taskDefinition": shapes.task_definition(definition)}

    def delete_task_definitions(self, ctx: RequestContext, p: Params) -> Result:
        references = p["taskDefinitions"]
        if not references or len(references) > MAX_DELETE:
            raise errors.invalid(f"taskDefinitions must name between 1 and {MAX_DELETE} revisions.")
        done, failures = [], []
        for reference in references:
            outcome = self.ecs.delete_task_definition(_scope(ctx), reference)
            if isinstance(outcome, str):
                failures.append({"arn": reference, "reason": outcome})
            else:
                done.append(shapes.task_definition(outcome))
        return {"taskDefinitions": done, "failures": failures}

    def list_task_definitions(self, ctx: RequestContext, p: Params) -> Result:
        status = p.get("status") or "ACTIVE"
        if status not in _STATUSES:
            raise errors.invalid(f"Invalid status {status}.")
        descending = p.get("sort") == "DESC"
        limit = page_size(p.get("maxResults"), default=100, maximum=100)
        after = None
        if p.get("nextToken"):
            position = self.tokens.decode(p["nextToken"])
            family, revision = position.get("family"), position.get("revision")
            if not isinstance(family, str) or not isinstance(revision, int):
                raise errors.invalid("The specified nextToken is invalid.")
            after = (family, revision)
        found = self.store.task_definitions(
            _scope(ctx),
            family=p.get("familyPrefix"),
            status=status,
            descending=descending,
            after=after,
            limit=limit + 1,
        )
        out: Result = {"taskDefinitionArns": [d.arn for d in found[:limit]]}
        if len(found) > limit:
            last = found[limit - 1]
            out["nextToken"] = self.tokens.encode(
                {"family": last.family, "revision": last.revision}
            )
        return out

    def list_task_definition_families(self, ctx: RequestContext, p: Params) -> Result:
        limit = page_size(p.get("maxResults"), default=100, maximum=100)
        after = self.tokens.decode(p["nextToken"]).get("after") if p.get("nextToken") else None
        found = self.store.families(
            _scope(ctx),
            prefix=p.get("familyPrefix"),
            status=p.get("status") or "ALL",
            after=after if isinstance(after, str) else None,
            limit=limit + 1,
        )
        out: Result = {"families": found[:limit]}
        if len(found) > limit:
            out["nextToken"] = self.tokens.encode({"after": found[limit - 1]})
        return out
