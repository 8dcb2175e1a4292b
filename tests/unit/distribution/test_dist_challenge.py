from __future__ import annotations

from cais.distribution.auth import Scope, merge_scopes
from cais.distribution.challenge import parse_challenges, pick


def test_bearer_challenge_with_quoted_commas_and_escapes() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:team/app:pull,push repository:base:pull",error="insufficient_scope"'
    )
    (challenge,) = parse_challenges([header])
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example/token"
    assert challenge.service == "registry.example"
    assert challenge.scopes == ("repository:team/app:pull,push", "repository:base:pull")
    assert challenge.insufficient_scope


def test_several_challenges_in_one_header_and_bearer_is_preferred() -> None:
    found = parse_challenges(['Basic realm="a, b", Bearer realm=https://t/x , service=s'])
    assert [c.scheme for c in found] == ["basic", "bearer"]
    assert found[0].realm == "a, b"
    assert found[1].realm == "https://t/x" and found[1].service == "s"
    chosen = pick(found)
    assert chosen is not None and chosen.scheme == "bearer"


def test_escaped_quote_and_unknown_scheme() -> None:
    found = parse_challenges([r'Basic realm="say \"hi\""', "Negotiate"])
    assert found[0].realm == 'say "hi"'
    assert found[1].scheme == "negotiate"
    assert pick(found[1:]) is None
    assert parse_challenges([""]) == ()


def test_scopes_merge_per_repository() -> None:
    pairs = Scope.repository("a", "pull").pairs() | Scope.repository("a", "push").pairs()
    pairs |= Scope.repository("b", "pull").pairs()
    assert [str(s) for s in merge_scopes(pairs)] == ["repository:a:pull,push", "repository:b:pull"]
    parsed = Scope.parse("repository:team/app:pull,push")
    assert parsed == Scope.repository("team/app", "pull", "push")
    assert Scope.parse("nonsense") is None
