"""Container instance and attribute operations of the ECS API (a mixin of EcsProvider).

Instances normally join through the agent protocol (``/agent/v1/register``);
RegisterContainerInstance exists for completeness: an instance registered that way has no
agent, so it reports agentConnected false and gets no tasks until an agent registers the
same machine.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from cais.aws.context import RequestContext
from cais.aws.pagination import TokenCodec, page_size, paginate
from cais.ecs import errors, scheduling, shapes
from cais.ecs import scheduler as sched
from cais.ecs.model import Attribute, Cluster, ContainerInstance, Resources, Scope

if TYPE_CHECKING:
    from cais.ecs.service import Ecs
    from cais.ecs.store import EcsStore

Params = dict[str, Any]
Result = dict[str, Any]

MAX_DESCRIBE = 100
MAX_UPDATE = 10
MAX_ATTRIBUTES_PER_CALL = 10
_ATTRIBUTE_NAME = re.compile(r"^[a-zA-Z0-9_./\\-]{1,128}$")
_ATTRIBUTE_VALUE = re.compile(r"^[a-zA-Z0-9_.@/\\: -]{1,128}$")
_LIVE = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


def resources_of(items: Any) -> Resources:
    """RegisterContainerInstance's ``totalResources`` (CPU, MEMORY, PORTS, PORTS_UDP)."""
    found: dict[str, Any] = {}
    for item in items or ():
        name = item.get("name")
        if name in ("CPU", "MEMORY"):
            found[name] = int(item.get("integerValue") or item.get("longValue") or 0)
        elif name in ("PORTS", "PORTS_UDP"):
            try:
                found[name] = frozenset(int(p) for p in item.get("stringSetValue") or ())
            except ValueError:
                raise errors.invalid(f"Invalid {name} resource: ports are numbers.") from None
    return Resources(
        cpu=found.get("CPU", 0),
        memory=found.get("MEMORY", 0),
        tcp_ports=found.get("PORTS", frozenset()),
        udp_ports=found.get("PORTS_UDP", frozenset()),
    )


class InstanceOperations:
    ecs: Ecs
    store: EcsStore
    tokens: TokenCodec

    def _instance_arn_for(self, cluster: Cluster, reference: str) -> str:
        if reference.startswith("arn:"):
            return reference
        return cluster.scope.arn(f"container-instance/{cluster.name}/{reference}")

    def _instance_shape(self, instance: ContainerInstance, *, tags: bool = False) -> Result:
        return shapes.container_instance(
            instance,
            connected=self.ecs.connected(instance),
            tags=self.store.tags(instance.arn) if tags else None,
        )

    def register_container_instance(self, ctx: RequestContext, p: Params) -> Result:
        from cais.ecs.provider import tags_of

        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        document: dict[str, Any] = {}
        if p.get("instanceIdentityDocument"):
            try:
                document = json.loads(p["instanceIdentityDocument"])
            except ValueError:
                raise errors.invalid("instanceIdentityDocument is not a JSON document.") from None
        attributes = [Attribute(a["name"], a.get("value")) for a in p.get("attributes") or ()]
        for key, name in (
            ("availabilityZone", "ecs.availability-zone"),
            ("instanceType", "ecs.instance-type"),
        ):
            if document.get(key):
                attributes.append(Attribute(name, str(document[key])))
        version = p.get("versionInfo") or {}
        arn = p.get("containerInstanceArn")
        if arn is not None and self.ecs.instance(cluster, arn) is None:
            raise errors.instance_not_found()
        instance = self.ecs.register_instance(
            cluster,
            machine=str(document.get("instanceId") or ""),
            hostname=str(document.get("privateIp") or document.get("instanceId") or ""),
            resources=resources_of(p.get("totalResources")),
            attributes=attributes,
            agent_version=version.get("agentVersion", ""),
            agent_hash=version.get("agentHash", ""),
            docker_version=version.get("dockerVersion", ""),
            has_agent=False,
            arn=arn,
        )
        tags = tags_of(p.get("tags"))
        if tags:
            self.store.tag(instance.arn, tags)
        return {"containerInstance": self._instance_shape(instance, tags=True)}

    def deregister_container_instance(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        instance = self.ecs.instance(cluster, p["containerInstance"])
        if instance is None or instance.status == "INACTIVE":
            raise errors.instance_not_found()
        updated = self.ecs.deregister_instance(
            instance, force=bool(p.get("force")), reason="Instance deregistered by user"
        )
        return {"containerInstance": self._instance_shape(updated)}

    def describe_container_instances(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        wanted = p["containerInstances"]
        if len(wanted) > MAX_DESCRIBE:
            raise errors.invalid(f"containerInstances can have at most {MAX_DESCRIBE} items.")
        tags = "TAGS" in (p.get("include") or ())
        found, failures = [], []
        for reference in wanted:
            instance = self.ecs.instance(cluster, reference)
            if instance is None:
                failures.append(
                    {"arn": self._instance_arn_for(cluster, reference), "reason": "MISSING"}
                )
            else:
                found.append(self._instance_shape(instance, tags=tags))
        return {"containerInstances": found, "failures": failures}

    def list_container_instances(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        limit = page_size(p.get("maxResults"), default=100, maximum=100)
        statuses = (p["status"],) if p.get("status") else _LIVE
        instances = self.store.instances(cluster.arn, statuses=statuses)
        if p.get("filter"):
            try:
                expression = sched.parse_expression(p["filter"])
            except sched.SchedulingInputError as exc:
                raise errors.invalid(str(exc)) from None
            state = scheduling.snapshot(
                cluster.arn,
                instances,
                self.store.live_tasks(cluster.arn),
                now=self.ecs.clock(),
                window=self.ecs.settings.connection_window,
            )
            chosen = {i.arn for i in sched.select_instances(expression, state)}
            instances = [i for i in instances if i.arn in chosen]
        page = paginate(
            instances,
            key=lambda i: (i.registered_at, i.arn),
            limit=limit,
            next_token=p.get("nextToken"),
            codec=self.tokens,
        )
        out: Result = {"containerInstanceArns": [i.arn for i in page.items]}
        if page.next_token:
            out["nextToken"] = page.next_token
        return out

    def update_container_instances_state(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        status = p["status"]
        if status not in ("ACTIVE", "DRAINING"):
            raise errors.invalid("Container instances can only be set to ACTIVE or DRAINING.")
        wanted = p["containerInstances"]
        if len(wanted) > MAX_UPDATE:
            raise errors.invalid(f"containerInstances can have at most {MAX_UPDATE} items.")
        done, failures = [], []
        for reference in wanted:
            instance = self.ecs.instance(cluster, reference)
            if instance is None:
                failures.append(
                    {"arn": self._instance_arn_for(cluster, reference), "reason": "MISSING"}
                )
            elif instance.status == "INACTIVE":
                failures.append({"arn": instance.arn, "reason": "INACTIVE"})
            else:
                done.append(self._instance_shape(self.ecs.update_instance_state(instance, status)))
        return {"containerInstances": done, "failures": failures}

    # -- attributes -----------------------------------------------------------------------

    def _targets(self, ctx: RequestContext, p: Params) -> list[tuple[ContainerInstance, Attribute]]:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        items = p["attributes"]
        if not items or len(items) > MAX_ATTRIBUTES_PER_CALL:
            raise errors.invalid(
                f"attributes must have between 1 and {MAX_ATTRIBUTES_PER_CALL} items."
            )
        out = []
        for item in items:
            name, value = item["name"], item.get("value")
            if not _ATTRIBUTE_NAME.match(name):
                raise errors.invalid(f"Invalid attribute name {name!r}.")
            if value is not None and not _ATTRIBUTE_VALUE.match(value):
                raise errors.invalid(f"Invalid attribute value {value!r}.")
            if item.get("targetType", "container-instance") != "container-instance":
                raise errors.invalid("targetType must be container-instance.")
            target = item.get("targetId")
            if not target:
                raise errors.invalid("targetId is required for a container instance attribute.")
            instance = self.ecs.instance(cluster, target)
            if instance is None or instance.status == "INACTIVE":
                raise errors.target_not_found(target)
            out.append((instance, Attribute(name, value)))
        return out

    def put_attributes(self, ctx: RequestContext, p: Params) -> Result:
        items = self._targets(ctx, p)
        for _, attribute in items:
            if attribute.name.startswith("ecs."):
                raise errors.invalid("Attribute names beginning with 'ecs.' are reserved.")
        self.ecs.put_attributes(items)
        return {"attributes": [shapes.attribute(a.name, a.value, target=i.arn) for i, a in items]}

    def delete_attributes(self, ctx: RequestContext, p: Params) -> Result:
        items = self._targets(ctx, p)
        self.store.delete_attributes([(i.arn, a) for i, a in items])
        return {"attributes": [shapes.attribute(a.name, a.value, target=i.arn) for i, a in items]}

    def list_attributes(self, ctx: RequestContext, p: Params) -> Result:
        cluster = self.ecs.cluster(_scope(ctx), p.get("cluster"))
        if p["targetType"] != "container-instance":
            raise errors.invalid("targetType must be container-instance.")
        if p.get("attributeValue") is not None and p.get("attributeName") is None:
            raise errors.invalid("attributeValue can only be given with attributeName.")
        limit = page_size(p.get("maxResults"), default=100, maximum=100)
        after = None
        if p.get("nextToken"):
            position = self.tokens.decode(p["nextToken"]).get("after")
            if not isinstance(position, list) or len(position) != 2:
                raise errors.invalid("The specified nextToken is invalid.")
            after = (str(position[0]), str(position[1]))
        found = self.store.attributes(
            cluster.arn,
            name=p.get("attributeName"),
            value=p.get("attributeValue"),
            after=after,
            limit=limit + 1,
        )
        out: Result = {
            "attributes": [
                shapes.attribute(a.name, a.value, target=arn) for arn, a in found[:limit]
            ]
        }
        if len(found) > limit:
            arn, attribute = found[limit - 1]
            out["nextToken"] = self.tokens.encode({"after": [arn, attribute.name]})
        return out
