"""Lifecycle policies: ECR's rule language, checked strictly, and evaluated as ECR does.

Words: a *rule* selects images by tag status (``tagged`` with a prefix or pattern list,
``untagged`` or ``any``) and marks some of the selected ones by count
(``imageCountMoreThan`` keeps the newest N) or by age (``sinceImagePushed``). Evaluation
follows ECR's published rules:

- rules apply in ``rulePriority`` order, lowest first;
- an image is expired by at most one rule;
- an image that a rule *selects* cannot be expired by any rule of lower priority (a rule
  with a higher value), even if the first rule kept it;
- a rule still counts images that higher-priority rules selected or expired (it identifies
  them "as if they had not been expired"), it just cannot mark them;
- expiry always takes the oldest images (by push time) first;
- an image that an index (manifest list) references is never expired.

Pure: no storage, no clock (``now`` is an argument). The preview and a real run call the
same :func:`evaluate`, so the preview shows exactly what a run would expire.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cais.aws.errors import AwsError
from cais.ecr import errors
from cais.ecr.model import wildcard_match

TAGGED, UNTAGGED, ANY = "tagged", "untagged", "any"
COUNT_MORE_THAN, SINCE_PUSHED = "imageCountMoreThan", "sinceImagePushed"
DAYS = "days"
EXPIRE = "expire"
MAX_WILDCARDS = 4
DAY_SECONDS = 86_400

_RULE_KEYS = frozenset({"rulePriority", "description", "selection", "action"})
_SELECTION_KEYS = frozenset(
    {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit", "countNumber"}
)
_ACTION_KEYS = frozenset({"type"})


def policy_error(problem: str) -> AwsError:
    """ECR's InvalidParameterException for a policy text, naming the problem."""
    return errors.invalid_at(
        "LifecyclePolicyText", f"Lifecycle policy validation failure: {problem}"
    )


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str
    count_type: str
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    description: str | None = None

    def selects(self, tags: Sequence[str]) -> bool:
        """Whether the rule's tag requirements take in an image with these tags.

        With several prefixes (or patterns) an image must match every one of them, each
        with any of its tags, as ECR documents it.
        """
        if self.tag_status == ANY:
            return True
        if self.tag_status == UNTAGGED:
            return not tags
        if not tags:
            return False
        return all(any(t.startswith(p) for t in tags) for p in self.tag_prefixes) and all(
            any(wildcard_match(pattern, t) for t in tags) for pattern in self.tag_patterns
        )


@dataclass(frozen=True)
class LifecyclePolicy:
    """A checked policy; ``rules`` sorted by priority; ``text`` as the user sent it."""

    text: str
    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, text: str) -> LifecyclePolicy:
        """The policy, or InvalidParameterException naming the first problem found."""
        try:
            doc = json.loads(text)
        except (ValueError, TypeError):
            raise policy_error("Could not map policyString into LifecyclePolicy.") from None
        if not isinstance(doc, dict):
            raise policy_error("Could not map policyString into LifecyclePolicy.")
        _no_extra(doc, frozenset({"rules"}), "policy")
        raw_rules = doc.get("rules")
        if raw_rules is None:
            raise policy_error('object has missing required properties (["rules"])')
        if not isinstance(raw_rules, list) or not raw_rules:
            raise policy_error("rules must be a non-empty list of rules")
        rules = [_rule(raw, f"rules[{i}]") for i, raw in enumerate(raw_rules)]
        _check_together(rules)
        return cls(text, tuple(sorted(rules, key=lambda r: r.priority)))


def _no_extra(doc: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        names = ", ".join(json.dumps(k) for k in extra)
        raise policy_error(
            f"{where}: object instance has properties which are not allowed by the schema: "
            f"([{names}])"
        )


def _missing(doc: dict[str, Any], required: Sequence[str], where: str) -> None:
    missing = [k for k in required if k not in doc]
    if missing:
        names = ", ".join(json.dumps(k) for k in missing)
        raise policy_error(f"{where}: object has missing required properties ([{names}])")


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise policy_error(f"{where} must be an integer, got {json.dumps(value)}")
    if value < 1:
        raise policy_error(
            f"{where}: numeric instance is lower than the required minimum "
            f"(minimum: 1, found: {value})"
        )
    return value


def _enum(value: Any, allowed: Sequence[str], where: str) -> str:
    if value not in allowed:
        shown = ", ".join(json.dumps(a) for a in allowed)
        raise policy_error(
            f"{where}: instance value ({json.dumps(value)}) not found in enum "
            f"(possible values: [{shown}])"
        )
    return str(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise policy_error(f"{where} must be a non-empty list of strings")
    for item in value:
        if not isinstance(item, str) or not item:
            raise policy_error(f"{where} must hold non-empty strings, got {json.dumps(item)}")
    return tuple(value)


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise policy_error(f"{where} must be an object")
    _no_extra(raw, _RULE_KEYS, where)
    _missing(raw, ("rulePriority", "selection", "action"), where)
    priority = _positive_int(raw["rulePriority"], f"{where}.rulePriority")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise policy_error(f"{where}.description must be a string")
    action = raw["action"]
    if not isinstance(action, dict):
        raise policy_error(f"{where}.action must be an object")
    _no_extra(action, _ACTION_KEYS, f"{where}.action")
    _missing(action, ("type",), f"{where}.action")
    _enum(action["type"], (EXPIRE,), f"{where}.action.type")
    selection = raw["selection"]
    if not isinstance(selection, dict):
        raise policy_error(f"{where}.selection must be an object")
    return _selection(selection, f"{where}.selection", priority, description)


def _selection(sel: dict[str, Any], where: str, priority: int, description: str | None) -> Rule:
    _no_extra(sel, _SELECTION_KEYS, where)
    _missing(sel, ("tagStatus", "countType", "countNumber"), where)
    status = _enum(sel["tagStatus"], (TAGGED, UNTAGGED, ANY), f"{where}.tagStatus")
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    if "tagPrefixList" in sel and "tagPatternList" in sel:
        raise policy_error(f"{where}: tagPrefixList and tagPatternList cannot both be specified")
    if "tagPrefixList" in sel:
        prefixes = _strings(sel["tagPrefixList"], f"{where}.tagPrefixList")
    if "tagPatternList" in sel:
        patterns = _strings(sel["tagPatternList"], f"{where}.tagPatternList")
        for pattern in patterns:
            if pattern.count("*") > MAX_WILDCARDS:
                raise policy_error(
                    f"{where}.tagPatternList: {json.dumps(pattern)} has more than "
                    f"{MAX_WILDCARDS} wildcards"
                )
    if status == TAGGED and not (prefixes or patterns):
        raise policy_error(
            f"{where}: tagPrefixList or tagPatternList is required when tagStatus is tagged"
        )
    if status != TAGGED and (prefixes or patterns):
        raise policy_error(
            f"{where}: tagPrefixList and tagPatternList can only be used when tagStatus is "
            f"tagged, not {status}"
        )
    count_type = _enum(sel["countType"], (COUNT_MORE_THAN, SINCE_PUSHED), f"{where}.countType")
    count_number = _positive_int(sel["countNumber"], f"{where}.countNumber")
    if count_type == SINCE_PUSHED:
        if "countUnit" not in sel:
            raise policy_error(f"{where}: countUnit is required when countType is {SINCE_PUSHED}")
        _enum(sel["countUnit"], (DAYS,), f"{where}.countUnit")
    elif "countUnit" in sel:
        raise policy_error(f"{where}: countUnit cannot be used when countType is {count_type}")
    return Rule(priority, status, count_type, count_number, prefixes, patterns, description)


def _check_together(rules: Sequence[Rule]) -> None:
    seen: set[int] = set()
    for rule in rules:
        if rule.priority in seen:
            raise policy_error(f"rulePriority {rule.priority} is used by more than one rule")
        seen.add(rule.priority)
    highest = max(seen)
    for rule in rules:
        if rule.tag_status == ANY and rule.priority != highest:
            raise policy_error(
                f"the rule with tagStatus any (rulePriority {rule.priority}) must have the "
                f"highest rulePriority ({highest} is higher)"
            )
    owner: dict[str, int] = {}
    for rule in sorted(rules, key=lambda r: r.priority):
        for prefix in dict.fromkeys(rule.tag_prefixes):
            if prefix in owner:
                raise policy_error(
                    f"tag prefix {json.dumps(prefix)} must be unique across rules; rulePriority "
                    f"{owner[prefix]} and {rule.priority} both list it"
                )
            owner[prefix] = rule.priority
    untagged = [r.priority for r in rules if r.tag_status == UNTAGGED]
    if len(untagged) > 1:
        raise policy_error(
            "only one rule may select untagged images; rulePriority "
            + " and ".join(str(p) for p in sorted(untagged))
            + " both do"
        )


# -- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An image as the evaluator sees it; ``referenced`` when an index lists it."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    referenced: bool = False


@dataclass(frozen=True)
class Expiry:
    """One image a run expires, and the priority of the rule that expires it."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    rule_priority: int


def evaluate(policy: LifecyclePolicy, images: Sequence[Candidate], *, now: float) -> list[Expiry]:
    """The images a run of ``policy`` at time ``now`` expires, oldest first."""
    ordered = sorted(images, key=lambda c: (c.pushed_at, c.digest))
    chosen: dict[str, int] = {}
    claimed: set[str] = set()
    for rule in policy.rules:
        selected = [c for c in ordered if rule.selects(c.tags)]
        if rule.count_type == COUNT_MORE_THAN:
            marked = selected[: max(0, len(selected) - rule.count_number)]
        else:
            limit = rule.count_number * DAY_SECONDS
            marked = [c for c in selected if now - c.pushed_at > limit]
        for image in marked:
            if image.digest not in claimed and not image.referenced:
                chosen[image.digest] = rule.priority
        claimed.update(c.digest for c in selected)
    return [
        Expiry(c.digest, c.tags, c.pushed_at, chosen[c.digest])
        for c in ordered
        if c.digest in chosen
    ]
