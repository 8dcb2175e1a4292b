"""Repository policies: IAM policy documents, checked the way ECR checks them on
SetRepositoryPolicy.

A document has a ``Version`` (``2012-10-17`` or ``2008-10-17``), an optional ``Id`` and a
``Statement`` (one object or a list). Each statement has an ``Effect`` (Allow or Deny), a
``Principal`` or ``NotPrincipal`` (``"*"`` or a map of ``AWS`` / ``Service`` /
``Federated`` to one value or a list), an ``Action`` or ``NotAction`` naming ECR actions
(``ecr:*``, ``ecr:BatchGetImage``, ``ecr:Get*``…), and optionally ``Sid``, ``Condition``,
``Resource``/``NotResource``. A malformed document is InvalidParameterException naming the
first problem. cais stores and returns policies; it does not enforce them (see
:mod:`cais.ecr`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from cais.aws.errors import AwsError
from cais.ecr import errors

VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*):.+$")
_ACTION = re.compile(r"^ecr:[A-Za-z*?]+$")


def policy_error(problem: str) -> AwsError:
    return errors.invalid_at("PolicyText", f"Invalid repository policy provided: {problem}")


def check_repository_policy(text: str, *, actions: Collection[str]) -> dict[str, Any]:
    """The parsed document, or InvalidParameterException; ``actions`` are the ECR action
    names (without ``ecr:``) a statement may name without wildcards."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError):
        raise policy_error("the policy is not valid JSON") from None
    if not isinstance(doc, dict):
        raise policy_error("the policy must be a JSON object")
    extra = sorted(set(doc) - {"Version", "Id", "Statement"})
    if extra:
        raise policy_error(f"unknown top-level field {extra[0]!r}")
    version = doc.get("Version")
    if version not in VERSIONS:
        raise policy_error(f"Version must be {' or '.join(VERSIONS)}, got {json.dumps(version)}")
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise policy_error("Id must be a string")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise policy_error("Statement must be a statement or a non-empty list of statements")
    sids: set[str] = set()
    for i, statement in enumerate(statements):
        _statement(statement, f"Statement[{i}]", actions, sids)
    return doc


def _statement(st: Any, where: str, actions: Collection[str], sids: set[str]) -> None:
    if not isinstance(st, dict):
        raise policy_error(f"{where} must be an object")
    extra = sorted(set(st) - _STATEMENT_KEYS)
    if extra:
        raise policy_error(f"{where} has an unknown field {extra[0]!r}")
    sid = st.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise policy_error(f"{where}.Sid must be a string")
        if sid in sids:
            raise policy_error(f"{where}.Sid {sid!r} is used by more than one statement")
        sids.add(sid)
    if st.get("Effect") not in ("Allow", "Deny"):
        raise policy_error(
            f"{where}.Effect must be Allow or Deny, got {json.dumps(st.get('Effect'))}"
        )
    principal_key = _one_of(st, "Principal", "NotPrincipal", where)
    _principal(st[principal_key], f"{where}.{principal_key}")
    action_key = _one_of(st, "Action", "NotAction", where)
    for action in _values(st[action_key], f"{where}.{action_key}"):
        _action(action, f"{where}.{action_key}", actions)
    if "Resource" in st and "NotResource" in st:
        raise policy_error(f"{where} cannot have both Resource and NotResource")
    for key in ("Resource", "NotResource"):
        if key in st:
            _values(st[key], f"{where}.{key}")
    condition = st.get("Condition")
    if condition is not None and not (
        isinstance(condition, dict) and all(isinstance(v, dict) for v in condition.values())
    ):
        raise policy_error(f"{where}.Condition must map operators to objects of keys and values")


def _one_of(st: dict[str, Any], first: str, second: str, where: str) -> str:
    if first in st and second in st:
        raise policy_error(f"{where} cannot have both {first} and {second}")
    if first not in st and second not in st:
        raise policy_error(f"{where} needs a {first} (or {second})")
    return first if first in st else second


def _values(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise policy_error(f"{where} must be a non-empty string or list of strings")
    return items


def _principal(value: Any, where: str) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise policy_error(f'{where} must be "*" or a map such as {{"AWS": "<account or ARN>"}}')
    for kind, entries in value.items():
        if kind not in _PRINCIPAL_KINDS:
            raise policy_error(f"{where} has an unknown principal type {kind!r}")
        for entry in _values(entries, f"{where}.{kind}"):
            if kind == "AWS" and not (
                entry == "*" or _ACCOUNT.match(entry) or _IAM_ARN.match(entry)
            ):
                raise policy_error(f"{where}.AWS {entry!r} is not an account id, an IAM ARN or *")


def _action(action: str, where: str, actions: Collection[str]) -> None:
    if action == "*":
        return
    if not _ACTION.match(action):
        raise policy_error(f"{where} {action!r} is not an ECR action (ecr:<Action>)")
    name = action[len("ecr:") :]
    if "*" not in name and "?" not in name and name not in actions:
        raise policy_error(f"{where} {action!r} is not an ECR action")
