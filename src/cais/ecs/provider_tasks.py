"""Task operations of the ECS API (a mixin of :class:`EcsProvider`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cais.aws.context import RequestContext
from cais.aws.pagination import TokenCodec, page_size
from cais.ecs import errors, references, shapes
from cais.ecs.model import Cluster, Scope, Task
from cais.ecs.store import TaskFilter
from cais.ecs.tasks import Placed

if TYPE_CHECKING:
    from cais.ecs.service import Ecs
    from cais.ecs.store import EcsStore

Params = dict[str, Any]
Result = dict[str, Any]

MAX_DESCRIBE = 100
_DESIRED = ("RUNNING", "PENDING", "STOPPED")


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


class TaskApi:
    ecs: Ecs
    store: EcsStore
    tokens: TokenCodec

    def _task_shapes(self, tasks: Sequence[Task], *, tags: bool = False) -> list[Result]:
        modes: dict[str, str] = {}
        out = []
        for task in tasks:
            mode = modes.get(task.task_definition_arn)
            if mode is None:
                definition = self.ecs.find_task_definition(task.scope, task.task_definition_arn)
                mode = modes[task.task_definition_arn] = (
                    definition.network_mode if definition is not None else "bridge"
                )
            out.append(
                shapes.task(
                    task, network_mode=mode, tags=self.store.tags(task.arn) if tags else None
                )
            )
        return out

    def _launch(self, ctx: RequestContext, p: Params) -> tuple[Cluster, Any]:
        from cais.ecs.provider import tags_of

        scope = _scope(ctx)
        cluster = self.ecs.cluster(scope, p.get("cluster"))
        definition = self.ecs.task_definition_to_run(scope, p["taskDefinition"])
        if p.get("capacityProviderStrategy"):
            raise errors.invalid("Capacity provider strategies are not supported by cais yet.")
        tags_of(p.get("tags"))
        launch = self.ecs.launch(
            definition,
            overrides=p.get("overrides"),
            group=p.get("group"),
            started_by=p.get("startedBy"),
            launch_type=p.get("launchType"),
            access_key_id=ctx.principal.access_key_id,
            client_token=p.get("clientToken"),
        )
        return cluster, launch

    def _placed(self, placed: Placed, p: Params) -> Result:
        from cais.ecs.provider import tags_of

        tags = tags_of(p.get("tags"))
        for task in placed.tasks:
            if tags:
                self.store.tag(task.arn, tags)
        return {
            "tasks": self._task_shapes(placed.tasks, tags=bool(tags)),
            "failures": [dict(f) for f in placed.failures],
        }

    def run_task(self, ctx: RequestContext, p: Params) -> Result:
        cluster, launch = self._launch(ctx, p)
        placed = self.ecs.run_task(
            cluster,
            launch,
            count=int(p["count"]) if p.get("count") is not None else 1,
            strategies=p.get("placementStrategy") or (),
            constraints=p.get("placementConstraints") or (),
        )
        return self._placed(placed, p)

    def start_task(self, ctx: RequestContext, p: Params) -> Result:
        cluster, launch = self._launch(ctx, p)
        placed = self.ecs.start_task(cluster, launch, instances=p["containerInstances"])
        return self._placed(placed, p)

    def stop_task(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        ident = references.in_cluster(p["task"], cluster.scope, "task", cluster.name)
        task = self.store.task(cluster.arn, ident) if ident else None
        if task is None:
            raise errors.task_not_found()
        stopped = self.ecs.stop_task(task, reason=p.get("reason"))
        return {"task": self._task_shapes([stopped])[0]}

    def describe_tasks(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        wanted = p["tasks"]
        if not wanted:
            raise errors.invalid("Tasks cannot be empty.")
        if len(wanted) > MAX_DESCRIBE:
            raise errors.invalid(f"taskIds can have at most {MAX_DESCRIBE} items.")
        idents = {
            ref: references.in_cluster(ref, cluster.scope, "task", cluster.name) for ref in wanted
        }
        known = [i for i in idents.values() if i]
        found = self.store.tasks_by_reference(cluster.arn, known) if known else []
        by_key = {t.arn: t for t in found} | {t.id: t for t in found}
        tasks, failures, seen = [], [], set()
        for reference, ident in idents.items():
            task = by_key.get(ident) if ident else None
            if task is None:
                arn = (
                    reference
                    if reference.startswith("arn:")
                    else cluster.scope.arn(f"task/{cluster.name}/{reference}")
                )
                failures.append({"arn": arn, "reason": "MISSING"})
            elif task.arn not in seen:
                seen.add(task.arn)
                tasks.append(task)
        tags = "TAGS" in (p.get("include") or ())
        return {"tasks": self._task_shapes(tasks, tags=tags), "failures": failures}

    def list_tasks(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        desired = p.get("desiredStatus") or "RUNNING"
        if desired not in _DESIRED:
            raise errors.invalid(f"Invalid desiredStatus {desired}.")
        instance_arn = None
        if p.get("containerInstance"):
            instance = self.ecs.instance(cluster, p["containerInstance"])
            if instance is None:
                return {"taskArns": []}
            instance_arn = instance.arn
        if p.get("serviceName"):
            raise errors.service_not_found()
        family = p.get("family")
        limit = page_size(p.get("maxResults"), default=100, maximum=100)
        after = self.tokens.decode(p["nextToken"]).get("after") if p.get("nextToken") else None
        arns = self.store.task_arns(
            cluster.arn,
            TaskFilter(
                desired_status=desired,
                family=family,
                started_by=p.get("startedBy"),
                instance_arn=instance_arn,
                launch_type=p.get("launchType"),
            ),
            after=after if isinstance(after, str) else None,
            limit=limit + 1,
        )
        out: Result = {"taskArns": arns[:limit]}
        if len(arns) > limit:
            out["nextToken"] = self.tokens.encode({"after": arns[limit - 1]})
        return out
