"""Auth: htpasswd Basic and Bearer tokens; with auth on, nothing without a valid credential."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import pytest
import pytest_asyncio

from cais.registry import Registry
from cais.registry.auth import BasicAuth, Htpasswd, TokenAuth
from cais.registry.scopes import AclPolicy, Scope
from cais.registry.storage import MemoryDriver
from registry.registry_harness import Harness, digest_of, error_code, serve

pytestmark = pytest.mark.asyncio

ACL = {
    "alice": {"*": ["pull", "push", "delete"], "_catalog": ["*"]},
    "bob": {"pub/*": ["pull"]},
    "dave": {"pub/*": ["pull", "push"]},
}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    lines = [
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()}"
        for user, pw in (("alice", "wonderland"), ("bob", "builder"), ("dave", "d"))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def policy() -> AclPolicy:
    return AclPolicy({u: {g: frozenset(a) for g, a in r.items()} for u, r in ACL.items()})


@pytest_asyncio.fixture
async def basic_harness(htpasswd: Path, policy: AclPolicy) -> AsyncIterator[Harness]:
    registry = Registry(MemoryDriver())
    client = await serve(registry, BasicAuth(Htpasswd(htpasswd), policy=policy))
    try:
        yield Harness(client, registry)
    finally:
        await client.close()


@pytest_asyncio.fixture
async def token_harness(
    htpasswd: Path, policy: AclPolicy
) -> AsyncIterator[tuple[Harness, TokenAuth]]:
    registry = Registry(MemoryDriver())
    auth = TokenAuth(Htpasswd(htpasswd), policy=policy, secret=b"s" * 32)
    client = await serve(registry, auth)
    try:
        yield Harness(client, registry), auth
    finally:
        await client.close()


async def test_basic_auth_refuses_everything_without_valid_credentials(
    basic_harness: Harness,
) -> None:
    client = basic_harness.client
    digest = str(digest_of(b"x"))
    for method, path in (
        ("GET", "/v2/"),
        ("GET", "/v2/_catalog"),
        ("GET", "/v2/pub/a/tags/list"),
        ("GET", "/v2/pub/a/manifests/v1"),
        ("GET", f"/v2/pub/a/blobs/{digest}"),
        ("POST", "/v2/pub/a/blobs/uploads/"),
        ("DELETE", f"/v2/pub/a/manifests/{digest}"),
        ("GET", f"/v2/pub/a/referrers/{digest}"),
    ):
        for headers in (
            {},
            basic("alice", "wrong"),
            basic("mallory", "x"),
            {"Authorization": "Basic !!"},
        ):
            resp = await client.request(method, path, headers=headers)
            assert resp.status == 401, (method, path, headers)
            assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
            assert await error_code(resp) == "UNAUTHORIZED"


async def test_basic_auth_allows_and_denies_by_policy(basic_harness: Harness) -> None:
    client = basic_harness.client
    ok = await client.get("/v2/", headers=basic("alice", "wonderland"))
    assert ok.status == 200
    data = b"layer"
    before = basic_harness.snapshot()
    denied = await client.post(
        "/v2/pub/a/blobs/uploads/",
        params={"digest": str(digest_of(data))},
        data=data,
        headers=basic("bob", "builder"),
    )
    assert (denied.status, await error_code(denied)) == (403, "DENIED")
    assert basic_harness.snapshot() == before
    pushed = await client.post(
        "/v2/pub/a/blobs/uploads/",
        params={"digest": str(digest_of(data))},
        data=data,
        headers=basic("alice", "wonderland"),
    )
    assert pushed.status == 201
    pulled = await client.get(f"/v2/pub/a/blobs/{digest_of(data)}", headers=basic("bob", "builder"))
    assert (pulled.status, await pulled.read()) == (200, data)
    other = await client.get(
        f"/v2/private/blobs/{digest_of(data)}", headers=basic("bob", "builder")
    )
    assert other.status == 403
    catalog = await client.get("/v2/_catalog", headers=basic("bob", "builder"))
    assert catalog.status == 403
    catalog = await client.get("/v2/_catalog", headers=basic("alice", "wonderland"))
    assert (await catalog.json())["repositories"] == ["pub/a"]


async def test_bearer_challenge_and_token_flow(token_harness: tuple[Harness, TokenAuth]) -> None:
    harness, _ = token_harness
    client = harness.client
    resp = await client.get("/v2/pub/a/tags/list")
    assert resp.status == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="http://')
    assert '/v2/token"' in challenge
    assert 'service="cais-registry"' in challenge
    assert 'scope="repository:pub/a:pull"' in challenge
    push = await client.post("/v2/pub/a/blobs/uploads/")
    assert 'scope="repository:pub/a:pull,push"' in push.headers["WWW-Authenticate"]

    anonymous = await client.get("/v2/token", params={"service": "cais-registry"})
    assert (anonymous.status, await error_code(anonymous)) == (401, "UNAUTHORIZED")
    wrong = await client.get("/v2/token", headers=basic("alice", "nope"))
    assert wrong.status == 401

    issued = await client.get(
        "/v2/token",
        params={"service": "cais-registry", "scope": "repository:pub/a:pull,push"},
        headers=basic("alice", "wonderland"),
    )
    assert issued.status == 200
    token = (await issued.json())["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    data = b"blob"
    pushed = await client.post(
        "/v2/pub/a/blobs/uploads/",
        params={"digest": str(digest_of(data))},
        data=data,
        headers=bearer,
    )
    assert pushed.status == 201
    assert (await client.get(f"/v2/pub/a/blobs/{digest_of(data)}", headers=bearer)).status == 200
    # a scope the token lacks but alice may have: 401 so the client fetches a new token
    elsewhere = await client.get("/v2/pub/b/tags/list", headers=bearer)
    assert elsewhere.status == 401
    assert 'error="insufficient_scope"' in elsewhere.headers["WWW-Authenticate"]


async def test_token_endpoint_grants_only_what_policy_allows(
    token_harness: tuple[Harness, TokenAuth],
) -> None:
    harness, auth = token_harness
    resp = await harness.client.get(
        "/v2/token",
        params={"service": "cais-registry", "scope": "repository:pub/a:pull,push"},
        headers=basic("bob", "builder"),
    )
    token = (await resp.json())["token"]
    claims = auth.signer.verify(token, audience="cais-registry", now=int(__import__("time").time()))
    assert claims is not None
    assert claims.access == (Scope.repository("pub/a", "pull"),)
    before = harness.snapshot()
    denied = await harness.client.post(
        "/v2/pub/a/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
    )
    assert (denied.status, await error_code(denied)) == (403, "DENIED")
    assert harness.snapshot() == before


async def test_forged_expired_and_foreign_tokens_are_refused(
    token_harness: tuple[Harness, TokenAuth],
) -> None:
    harness, auth = token_harness
    now = int(__import__("time").time())
    scope = [Scope.repository("pub/a", "pull")]
    good = auth.signer.sign(
        subject="alice", audience="cais-registry", access=scope, now=now, ttl=60
    )
    header, claims, signature = good.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged_claims["access"][0]["actions"] = ["pull", "push", "delete"]
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    from cais.registry.tokens import TokenSigner

    other_key = TokenSigner(b"k" * 32).sign(
        subject="alice", audience="cais-registry", access=scope, now=now, ttl=60
    )
    expired = auth.signer.sign(
        subject="alice", audience="cais-registry", access=scope, now=now - 600, ttl=60
    )
    wrong_audience = auth.signer.sign(
        subject="alice", audience="elsewhere", access=scope, now=now, ttl=60
    )
    for token in (
        f"{header}.{forged_body}.{signature}",
        other_key,
        expired,
        wrong_audience,
        "garbage",
    ):
        resp = await harness.client.get(
            "/v2/pub/a/tags/list", headers={"Authorization": f"Bearer {token}"}
        )
        assert (resp.status, await error_code(resp)) == (401, "UNAUTHORIZED"), token
    ok = await harness.client.get(
        "/v2/pub/a/tags/list", headers={"Authorization": f"Bearer {good}"}
    )
    assert (ok.status, await error_code(ok)) == (404, "NAME_UNKNOWN")


async def test_token_oauth2_password_grant(token_harness: tuple[Harness, TokenAuth]) -> None:
    harness, _ = token_harness
    resp = await harness.client.post(
        "/v2/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "wonderland",
            "service": "cais-registry",
            "scope": "repository:x:pull",
        },
    )
    assert resp.status == 200
    assert "access_token" in await resp.json()
    bad = await harness.client.post(
        "/v2/token", data={"grant_type": "password", "username": "alice", "password": "no"}
    )
    assert bad.status == 401


async def test_mount_needs_pull_on_the_source(basic_harness: Harness) -> None:
    client = basic_harness.client
    data = b"private layer"
    digest = digest_of(data)
    await client.post(
        "/v2/secret/blobs/uploads/",
        params={"digest": str(digest)},
        data=data,
        headers=basic("alice", "wonderland"),
    )
    stolen = await client.post(
        "/v2/pub/copy/blobs/uploads/",
        params={"mount": str(digest), "from": "secret"},
        headers=basic("dave", "d"),
    )
    assert stolen.status == 202  # dave may not read "secret": no mount, an upload instead
    assert (
        await client.head(f"/v2/pub/copy/blobs/{digest}", headers=basic("dave", "d"))
    ).status == 404
    mounted = await client.post(
        "/v2/pub/copy/blobs/uploads/",
        params={"mount": str(digest), "from": "secret"},
        headers=basic("alice", "wonderland"),
    )
    assert mounted.status == 201
    fromless = await client.post(
        "/v2/pub/copy2/blobs/uploads/",
        params={"mount": str(digest)},
        headers=basic("alice", "wonderland"),
    )
    assert fromless.status == 202  # with auth on, a mount must name a readable source
