"""The ECS API (``AmazonEC2ContainerServiceV20141113.*``) over the :class:`Ecs` domain.

Thin on purpose: each method maps an operation's members to domain calls and the domain's
values back to AWS's shapes. The dispatcher has checked the input against botocore's
model; the rules the model cannot state are checked here or in the domain. Cluster and tag
operations live here; task definitions, container instances and tasks in their own
modules (one class through mixins, split for size).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cais.aws.context import RequestContext
from cais.aws.pagination import TokenCodec, page_size
from cais.ecs import errors, shapes
from cais.ecs.model import Scope
from cais.ecs.provider_instances import InstanceOperations
from cais.ecs.provider_taskdefs import TaskDefinitionOperations
from cais.ecs.provider_tasks import TaskApi
from cais.ecs.service import Ecs

Params = dict[str, Any]
Result = dict[str, Any]

VALIDATION_ERROR = errors.INVALID_PARAMETER
MAX_DESCRIBE_CLUSTERS = 100
_CLUSTER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
_TAG_KEY = re.compile(r"^[\w\s+=.:/@-]{1,128}$", re.UNICODE)
_SETTINGS = {"containerInsights": ("enabled", "disabled", "enhanced")}


def scope_of(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


def tags_of(items: Any) -> dict[str, str]:
    """ECS's ``tags`` list (``key``/``value``) checked and as a dict."""
    out: dict[str, str] = {}
    for item in items or ():
        key, value = item.get("key"), item.get("value", "")
        if not key or not _TAG_KEY.match(key) or len(value) > 256:
            raise errors.invalid(
                f"Invalid tag {key!r}: keys are 1-128 characters, values up to 256."
            )
        if key.lower().startswith("aws:"):
            raise errors.invalid("Tag keys beginning with 'aws:' are reserved.")
        out[key] = value
    return out


class EcsProvider(TaskDefinitionOperations, InstanceOperations, TaskApi):
    """One method per supported operation: ``(ctx, params) -> response members``."""

    def __init__(self, ecs: Ecs) -> None:
        self.ecs = ecs
        self.store = ecs.store
        self.tokens = TokenCodec(error_type=VALIDATION_ERROR)

    # -- clusters -----------------------------------------------------------------------

    def _cluster_shape(self, cluster: Any, *, include: Any = (), settings: bool = False) -> Result:
        counts = self.store.cluster_counts(cluster.arn)
        wants_tags = settings or "TAGS" in (include or ())
        tags = self.store.tags(cluster.arn) if wants_tags else None
        return shapes.cluster(cluster, counts, include=include or (), tags=tags, settings=settings)

    def create_cluster(self, ctx: RequestContext, p: Params) -> Result:
        name = p.get("clusterName") or "default"
        if not _CLUSTER_NAME.match(name):
            raise errors.invalid(
                "Cluster name can contain up to 255 letters (uppercase and lowercase), "
                "numbers, hyphens and underscores."
            )
        if p.get("capacityProviders") or p.get("defaultCapacityProviderStrategy"):
            raise errors.invalid("Capacity providers are not supported by cais yet.")
        cluster = self.ecs.create_cluster(
            scope_of(ctx),
            name,
            tags=tags_of(p.get("tags")),
            settings=_settings(p.get("settings")),
            configuration=p.get("configuration"),
        )
        return {"cluster": self._cluster_shape(cluster, settings=True)}

    def describe_clusters(self, ctx: RequestContext, p: Params) -> Result:
        scope = scope_of(ctx)
        names = p.get("clusters") or ["default"]
        if len(names) > MAX_DESCRIBE_CLUSTERS:
            raise errors.invalid(f"clusters can have at most {MAX_DESCRIBE_CLUSTERS} items.")
        found, failures = [], []
        for reference in names:
            cluster = self.ecs.find_cluster(scope, reference)
            if cluster is None:
                arn = (
                    reference if reference.startswith("arn:") else scope.arn(f"cluster/{reference}")
                )
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(self._cluster_shape(cluster, include=p.get("include") or ()))
        return {"clusters": found, "failures": failures}

    def list_clusters(self, ctx: RequestContext, p: Params) -> Result:
        limit = page_size(p.get("maxResults"), default=100, maximum=100)
        after = self.tokens.decode(p["nextToken"]).get("after") if p.get("nextToken") else None
        found = self.store.clusters(scope_of(ctx), after=after, limit=limit + 1)
        out: Result = {"clusterArns": [c.arn for c in found[:limit]]}
        if len(found) > limit:
            out["nextToken"] = self.tokens.encode({"after": found[limit - 1].name})
        return out

    def delete_cluster(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(scope_of(ctx), p["cluster"])
        counts = self.store.cluster_counts(cluster.arn)
        deleted = self.store.deactivate_cluster(cluster.arn)
        return {"cluster": shapes.cluster(deleted, counts, settings=True, tags={})}

    def update_cluster(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(scope_of(ctx), p["cluster"])
        updated = self.store.update_cluster(
            cluster.arn,
            settings=_settings(p.get("settings")) if p.get("settings") is not None else None,
            configuration=p.get("configuration"),
        )
        return {"cluster": self._cluster_shape(updated, settings=True)}

    def update_cluster_settings(self, ctx: RequestContext, p: Params) -> Result:
        return self.update_cluster(ctx, p)

    # -- tags -----------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, resource_arn: str) -> str:
        """The ARN of an existing resource of the caller's scope (ECS's errors otherwise)."""
        scope = scope_of(ctx)
        parts = resource_arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs":
            raise errors.invalid(f"Invalid resource ARN: {resource_arn}")
        resource = parts[5]
        kind, _, rest = resource.partition("/")
        if (parts[3], parts[4]) != (scope.region, scope.account):
            raise errors.resource_not_found(resource_arn)
        if kind == "cluster":
            found = self.ecs.find_cluster(scope, resource_arn)
            if found is None or found.status != "ACTIVE":
                raise errors.cluster_not_found()
            return found.arn
        if kind == "task-definition":
            definition = self.ecs.find_task_definition(scope, resource_arn)
            if definition is not None:
                return definition.arn
        elif kind in ("task", "container-instance"):
            cluster_name, _, ident = rest.rpartition("/")
            cluster = self.ecs.find_cluster(scope, cluster_name) if cluster_name else None
            if cluster is not None:
                item = (
                    self.store.task(cluster.arn, ident)
                    if kind == "task"
                    else self.store.instance(cluster.arn, ident)
                )
                if item is not None:
                    return item.arn
        else:
            raise errors.invalid(f"Invalid resource ARN: {resource_arn}")
        raise errors.resource_not_found(resource_arn)

    def tag_resource(self, ctx: RequestContext, p: Params) -> Result:
        self.store.tag(self._tagged(ctx, p["resourceArn"]), tags_of(p["tags"]))
        return {}

    def untag_resource(self, ctx: RequestContext, p: Params) -> Result:
        self.store.untag(self._tagged(ctx, p["resourceArn"]), p["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, p: Params) -> Result:
        tags = self.store.tags(self._tagged(ctx, p["resourceArn"]))
        return {"tags": shapes.tag_list(tags)}


def _settings(items: Any) -> list[tuple[str, str]]:
    out = []
    for item in items or ():
        name, value = item.get("name"), item.get("value")
        allowed: Mapping[str, tuple[str, ...]] = _SETTINGS
        if name not in allowed or value not in allowed[name]:
            raise errors.invalid(
                f"Invalid cluster setting {name}={value}: containerInsights takes enabled, "
                "disabled or enhanced."
            )
        out.append((name, value))
    return out
