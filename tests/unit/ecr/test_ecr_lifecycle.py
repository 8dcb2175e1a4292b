"""Lifecycle policies: what is refused (with which message) and exactly what a run expires."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cais.aws.errors import AwsError
from cais.ecr.lifecycle import Candidate, LifecyclePolicy, evaluate
from ecr.ecr_harness import DAY, NOW, policy, rule

PREFIX = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)


def refused(text: str) -> str:
    with pytest.raises(AwsError) as info:
        LifecyclePolicy.parse(text)
    assert info.value.type == "InvalidParameterException"
    assert info.value.message.startswith(PREFIX)
    assert info.value.message.endswith("'")
    return info.value.message[len(PREFIX) : -1]


def sel(**selection: Any) -> str:
    return json.dumps(
        {"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]}
    )


UNTAGGED_1 = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "Could not map policyString into LifecyclePolicy."),
        ("[1, 2]", "Could not map policyString into LifecyclePolicy."),
        ("{}", 'object has missing required properties (["rules"])'),
        ('{"rules": []}', "rules must be a non-empty list of rules"),
        (
            json.dumps({"rules": [], "x": 1}),
            'policy: object instance has properties which are not allowed by the schema: (["x"])',
        ),
        (
            json.dumps({"rules": [{"rulePriority": 1, "action": {"type": "expire"}}]}),
            'rules[0]: object has missing required properties (["selection"])',
        ),
        (
            json.dumps({"rules": [{"rulePriority": 0, "selection": UNTAGGED_1, "action": {}}]}),
            "rules[0].rulePriority: numeric instance is lower than the required minimum "
            "(minimum: 1, found: 0)",
        ),
        (
            json.dumps({"rules": [{"rulePriority": "1", "selection": UNTAGGED_1, "action": {}}]}),
            'rules[0].rulePriority must be an integer, got "1"',
        ),
        (
            json.dumps(
                {"rules": [{"rulePriority": 1, "selection": UNTAGGED_1, "action": {"type": "rm"}}]}
            ),
            'rules[0].action.type: instance value ("rm") not found in enum '
            '(possible values: ["expire"])',
        ),
        (
            sel(tagStatus="some", countType="imageCountMoreThan", countNumber=1),
            'rules[0].selection.tagStatus: instance value ("some") not found in enum '
            '(possible values: ["tagged", "untagged", "any"])',
        ),
        (
            sel(tagStatus="tagged", countType="imageCountMoreThan", countNumber=1),
            "rules[0].selection: tagPrefixList or tagPatternList is required when tagStatus "
            "is tagged",
        ),
        (
            sel(
                tagStatus="tagged",
                tagPrefixList=["a"],
                tagPatternList=["a*"],
                countType="imageCountMoreThan",
                countNumber=1,
            ),
            "rules[0].selection: tagPrefixList and tagPatternList cannot both be specified",
        ),
        (
            sel(
                tagStatus="untagged",
                tagPrefixList=["a"],
                countType="imageCountMoreThan",
                countNumber=1,
            ),
            "rules[0].selection: tagPrefixList and tagPatternList can only be used when "
            "tagStatus is tagged, not untagged",
        ),
        (
            sel(
                tagStatus="tagged",
                tagPatternList=["*a*b*c*d*e"],
                countType="imageCountMoreThan",
                countNumber=1,
            ),
            'rules[0].selection.tagPatternList: "*a*b*c*d*e" has more than 4 wildcards',
        ),
        (
            sel(
                tagStatus="tagged", tagPrefixList=[], countType="imageCountMoreThan", countNumber=1
            ),
            "rules[0].selection.tagPrefixList must be a non-empty list of strings",
        ),
        (
            sel(tagStatus="any", countType="sinceImagePushed", countNumber=1),
            "rules[0].selection: countUnit is required when countType is sinceImagePushed",
        ),
        (
            sel(tagStatus="any", countType="sinceImagePushed", countUnit="hours", countNumber=1),
            'rules[0].selection.countUnit: instance value ("hours") not found in enum '
            '(possible values: ["days"])',
        ),
        (
            sel(tagStatus="any", countType="imageCountMoreThan", countUnit="days", countNumber=1),
            "rules[0].selection: countUnit cannot be used when countType is imageCountMoreThan",
        ),
        (
            sel(tagStatus="any", countType="imageCountLessThan", countNumber=1),
            'rules[0].selection.countType: instance value ("imageCountLessThan") not found in '
            'enum (possible values: ["imageCountMoreThan", "sinceImagePushed"])',
        ),
        (
            sel(tagStatus="any", countType="imageCountMoreThan", countNumber=0),
            "rules[0].selection.countNumber: numeric instance is lower than the required "
            "minimum (minimum: 1, found: 0)",
        ),
        (
            sel(tagStatus="any", countType="imageCountMoreThan", countNumber=1, other=2),
            "rules[0].selection: object instance has properties which are not allowed by the "
            'schema: (["other"])',
        ),
        (
            policy(rule(1, "untagged", count=1), rule(1, "tagged", count=1, prefixes=["v"])),
            "rulePriority 1 is used by more than one rule",
        ),
        (
            policy(rule(1, "any", count=1), rule(2, "tagged", count=1, prefixes=["v"])),
            "the rule with tagStatus any (rulePriority 1) must have the highest rulePriority "
            "(2 is higher)",
        ),
        (
            policy(rule(1, "untagged", count=1), rule(5, "untagged", count=3)),
            "only one rule may select untagged images; rulePriority 1 and 5 both do",
        ),
        (
            policy(
                rule(3, "tagged", count=1, prefixes=["v"]),
                rule(1, "tagged", count=5, prefixes=["rel", "v"]),
            ),
            'tag prefix "v" must be unique across rules; rulePriority 1 and 3 both list it',
        ),
    ],
)
def test_malformed_policies_are_refused_naming_the_problem(text: str, problem: str) -> None:
    assert refused(text) == problem


def test_a_valid_policy_keeps_its_text_and_sorts_its_rules() -> None:
    text = policy(
        rule(10, "any", count=100),
        rule(2, "tagged", count=3, patterns=["prod*"]),
        rule(1, "untagged", count=14, kind="sinceImagePushed"),
    )
    parsed = LifecyclePolicy.parse(text)
    assert parsed.text == text
    assert [r.priority for r in parsed.rules] == [1, 2, 10]


def img(digest: str, days_ago: float, *tags: str, referenced: bool = False) -> Candidate:
    return Candidate(digest, tuple(tags), NOW - days_ago * DAY, referenced)


def expired(text: str, images: list[Candidate]) -> list[tuple[str, int]]:
    return [
        (x.digest, x.rule_priority) for x in evaluate(LifecyclePolicy.parse(text), images, now=NOW)
    ]


def test_aws_example_a_an_image_kept_by_a_rule_is_not_expired_by_a_later_one() -> None:
    # ECR's documented example A: rule 2 would take A and B, but A is rule 1's and B
    # matches rule 1's tags, so rule 2 expires nothing.
    images = [
        img("A", 10, "beta-1", "prod-1"),
        img("B", 9, "beta-2", "prod-2"),
        img("C", 8, "beta-3"),
    ]
    text = policy(
        rule(1, "tagged", count=1, prefixes=["prod"]),
        rule(2, "tagged", count=1, prefixes=["beta"]),
    )
    assert expired(text, images) == [("A", 1)]


def test_aws_example_b_each_image_is_expired_by_one_rule_only() -> None:
    images = [
        img("A", 10, "beta-1", "prod-1"),
        img("B", 9, "beta-2", "prod-2"),
        img("C", 8, "beta-3", "prod-3"),
    ]
    text = policy(
        rule(1, "tagged", count=1, prefixes=["prod"]),
        rule(2, "tagged", count=1, prefixes=["beta"]),
    )
    assert expired(text, images) == [("A", 1), ("B", 1)]


def test_image_count_keeps_the_newest_n_and_expires_oldest_first() -> None:
    images = [img(f"u{i}", 10 - i) for i in range(5)]  # u0 oldest … u4 newest
    assert expired(policy(rule(1, "untagged", count=2)), images) == [
        ("u0", 1),
        ("u1", 1),
        ("u2", 1),
    ]


def test_since_image_pushed_expires_only_images_older_than_the_days() -> None:
    images = [img("new", 1), img("week", 7), img("old", 10, "v1")]
    text = policy(rule(1, "any", count=7, kind="sinceImagePushed"))
    assert expired(text, images) == [("old", 1)]  # exactly 7 days old is not older than 7


def test_several_prefixes_select_images_that_match_all_of_them() -> None:
    images = [img("both", 5, "prod-1", "release-1"), img("one", 4, "prod-2")]
    text = policy(rule(1, "tagged", count=1, kind="sinceImagePushed", prefixes=["prod", "rel"]))
    assert expired(text, images) == [("both", 1)]


def test_patterns_use_wildcards_anywhere() -> None:
    images = [
        img("rc", 6, "v1.0-rc1"),
        img("final", 5, "v1.0"),
        img("nightly", 4, "nightly-rc2-x"),
    ]
    text = policy(rule(1, "tagged", count=3, kind="sinceImagePushed", patterns=["*-rc*"]))
    assert expired(text, images) == [("rc", 1), ("nightly", 1)]


def test_any_counts_every_image_but_cannot_expire_what_an_earlier_rule_selected() -> None:
    images = [
        img("u-old", 9),
        img("t-old", 8, "v1"),
        img("u-new", 2),
        img("t-mid", 3, "v2"),
        img("t-new", 1, "v3"),
    ]
    text = policy(rule(1, "untagged", count=30, kind="sinceImagePushed"), rule(2, "any", count=2))
    # "any" would expire the 3 oldest (u-old, t-old, t-mid): untagged ones belong to rule 1
    assert expired(text, images) == [("t-old", 2), ("t-mid", 2)]


def test_images_an_index_references_are_never_expired() -> None:
    images = [img("child", 9, referenced=True), img("lone", 8), img("newest", 1)]
    assert expired(policy(rule(1, "untagged", count=1)), images) == [("lone", 1)]


def test_nothing_to_expire() -> None:
    assert expired(policy(rule(1, "any", count=5)), [img("a", 1, "x")]) == []
    assert expired(policy(rule(1, "any", count=5)), []) == []
