"""How ECS calls name things: a short name, an ID or a full ARN, interchangeably.

An ARN is only accepted when it is an ECS ARN of the caller's scope and of the expected
resource kind; anything else is not found (the call's own not-found error), as ECS answers
for another account's or region's resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from cais.ecs.model import Scope


@dataclass(frozen=True)
class TaskDefinitionRef:
    family: str
    revision: int | None


def _resource(reference: str, scope: Scope, kind: str) -> str | None:
    """The part after ``<kind>/`` of an ECS ARN of ``scope``; None when it is not one."""
    parts = reference.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs":
        return None
    if parts[3] != scope.region or parts[4] != scope.account:
        return None
    prefix = f"{kind}/"
    if not parts[5].startswith(prefix):
        return None
    return parts[5][len(prefix) :]


def is_arn(reference: str) -> bool:
    return reference.startswith("arn:")


def cluster_name(reference: str, scope: Scope) -> str | None:
    """``default``, ``web`` or ``arn:aws:ecs:<region>:<account>:cluster/web`` → ``web``."""
    if not is_arn(reference):
        return reference
    return _resource(reference, scope, "cluster")


def task_definition(reference: str, scope: Scope) -> TaskDefinitionRef | None:
    """``family``, ``family:3`` or a task definition ARN; None if malformed."""
    text: str | None = reference
    if is_arn(reference):
        text = _resource(reference, scope, "task-definition")
        if text is None or ":" not in text:
            return None
    assert text is not None
    family, sep, revision = text.rpartition(":")
    if not sep:
        return TaskDefinitionRef(text, None)
    if not revision.isdigit() or not family:
        return None
    return TaskDefinitionRef(family, int(revision))


def in_cluster(reference: str, scope: Scope, kind: str, cluster: str) -> str | None:
    """A task or container instance reference (ID, or ARN of the form
    ``<kind>/<cluster>/<id>`` or the older ``<kind>/<id>``) → the ID, or the ARN itself
    when it is one of this scope; None for an ARN of another cluster, kind or scope."""
    if not is_arn(reference):
        return reference
    rest = _resource(reference, scope, kind)
    if rest is None:
        return None
    named, _, ident = rest.rpartition("/")
    if named and named != cluster:
        return None
    return ident
