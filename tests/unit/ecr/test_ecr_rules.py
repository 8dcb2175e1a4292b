"""Repository policy documents and tag mutability: ECR's rules, without storage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cais.aws.errors import AwsError
from cais.ecr.model import TagMutability, wildcard_match
from cais.ecr.policy import check_repository_policy

ACTIONS = ("BatchGetImage", "GetDownloadUrlForLayer", "PutImage", "DescribeImages")
PREFIX = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid repository policy provided: "
)


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Sid": "pull",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return json.dumps(out)


def refused(text: str) -> str:
    with pytest.raises(AwsError) as info:
        check_repository_policy(text, actions=ACTIONS)
    assert info.value.type == "InvalidParameterException"
    assert info.value.message.startswith(PREFIX)
    return info.value.message[len(PREFIX) : -1]


def test_valid_documents() -> None:
    check_repository_policy(doc(statement()), actions=ACTIONS)
    single = json.dumps(
        {
            "Version": "2008-10-17",
            "Statement": {"Effect": "Deny", "Principal": "*", "Action": "ecr:*"},
        }
    )
    check_repository_policy(single, actions=ACTIONS)
    check_repository_policy(
        doc(
            statement(
                Principal={"AWS": ["123456789012", "*"], "Service": "codebuild.amazonaws.com"}
            ),
            statement(
                Sid="wild",
                Action="ecr:Describe*",
                Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            ),
        ),
        actions=ACTIONS,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "the policy is not valid JSON"),
        ("[]", "the policy must be a JSON object"),
        (doc(statement(), version=None), "Version must be 2012-10-17 or 2008-10-17, got null"),
        (
            doc(statement(), version="2020-01-01"),
            'Version must be 2012-10-17 or 2008-10-17, got "2020-01-01"',
        ),
        (
            json.dumps({"Version": "2012-10-17", "Statement": []}),
            "Statement must be a statement or a non-empty list of statements",
        ),
        (
            json.dumps({"Version": "2012-10-17", "Statement": [], "Extra": 1}),
            "unknown top-level field 'Extra'",
        ),
        (
            doc(statement(Effect="Permit")),
            'Statement[0].Effect must be Allow or Deny, got "Permit"',
        ),
        (doc(statement(Principal=None)), "Statement[0] needs a Principal (or NotPrincipal)"),
        (
            doc(statement(Principal={"Users": "bob"})),
            "Statement[0].Principal has an unknown principal type 'Users'",
        ),
        (
            doc(statement(Principal={"AWS": "bob"})),
            "Statement[0].Principal.AWS 'bob' is not an account id, an IAM ARN or *",
        ),
        (doc(statement(Action=None)), "Statement[0] needs a Action (or NotAction)"),
        (
            doc(statement(Action="s3:GetObject")),
            "Statement[0].Action 's3:GetObject' is not an ECR action (ecr:<Action>)",
        ),
        (
            doc(statement(Action="ecr:FlyAway")),
            "Statement[0].Action 'ecr:FlyAway' is not an ECR action",
        ),
        (
            doc(statement(Action=[])),
            "Statement[0].Action must be a non-empty string or list of strings",
        ),
        (
            doc(statement(), statement()),
            "Statement[1].Sid 'pull' is used by more than one statement",
        ),
        (
            doc(statement(Condition={"StringEquals": "x"})),
            "Statement[0].Condition must map operators to objects of keys and values",
        ),
        (doc(statement(Resoruce="*")), "Statement[0] has an unknown field 'Resoruce'"),
    ],
)
def test_malformed_documents_name_the_problem(text: str, problem: str) -> None:
    assert refused(text) == problem


def test_wildcards_match_any_run_and_nothing_else() -> None:
    assert wildcard_match("prod*", "prod")
    assert wildcard_match("prod*", "prod-1")
    assert wildcard_match("*-rc*", "v1-rc2")
    assert not wildcard_match("prod*", "preprod")
    assert not wildcard_match("v1.?", "v1.2")  # only * is special
    assert wildcard_match("v1.?", "v1.?")
    assert not wildcard_match("v1.0", "v1x0")  # dots are literal


@pytest.mark.parametrize(
    ("mutability", "tag", "immutable"),
    [
        (TagMutability("MUTABLE"), "latest", False),
        (TagMutability("IMMUTABLE"), "latest", True),
        (TagMutability("IMMUTABLE_WITH_EXCLUSION", ("latest", "dev-*")), "latest", False),
        (TagMutability("IMMUTABLE_WITH_EXCLUSION", ("latest", "dev-*")), "dev-7", False),
        (TagMutability("IMMUTABLE_WITH_EXCLUSION", ("latest", "dev-*")), "v1.0", True),
        (TagMutability("MUTABLE_WITH_EXCLUSION", ("v*",)), "v1.0", True),
        (TagMutability("MUTABLE_WITH_EXCLUSION", ("v*",)), "latest", False),
    ],
)
def test_tag_mutability_with_and_without_exclusions(
    mutability: TagMutability, tag: str, immutable: bool
) -> None:
    assert mutability.is_immutable(tag) is immutable
