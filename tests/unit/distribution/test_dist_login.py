"""login/logout against cais's registry (Basic and token auth) served in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cais.distribution import (
    AuthFile,
    Credential,
    RegistryUnreachableError,
    UnauthorizedError,
    login,
    logout,
    registry_of,
)
from distribution.fakeregistry import FakeRegistry
from distribution.liveregistry import serve


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_login_checks_the_credential_before_saving_it(kind: str, tmp_path: Path) -> None:
    auth_file = AuthFile(tmp_path / "auth.json")
    with serve(tmp_path, kind) as live:
        with pytest.raises(UnauthorizedError, match="unauthorized"):
            login(live.host, Credential("alice", "wrong"), auth_file=auth_file)
        assert not auth_file.path.exists()
        login(live.host, Credential("alice", "secret"), auth_file=auth_file)
    assert auth_file.credential_for(live.host) == Credential("alice", "secret")
    assert list(json.loads(auth_file.path.read_text())["auths"]) == [live.host]
    assert logout(live.host, auth_file=auth_file) is True
    assert logout(live.host, auth_file=auth_file) is False


def test_login_through_a_bearer_token_realm(tmp_path: Path) -> None:
    fake = FakeRegistry(auth="bearer")
    auth_file = AuthFile(tmp_path / "auth.json")
    with pytest.raises(UnauthorizedError, match="incorrect username or password"):
        login(
            "registry.test",
            Credential("alice", "no"),
            auth_file=auth_file,
            transport=fake.transport(),
        )
    login(
        "registry.test",
        Credential("alice", "secret"),
        auth_file=auth_file,
        transport=fake.transport(),
    )
    assert fake.token_requests[-1]["account"] == "alice"
    assert auth_file.credential_for("registry.test") is not None


def test_unreachable_registry(tmp_path: Path) -> None:
    with pytest.raises(
        RegistryUnreachableError, match=r"cannot reach registry 127\.0\.0\.1:1: connection refused"
    ):
        login("127.0.0.1:1", Credential("a", "b"), auth_file=AuthFile(tmp_path / "a.json"))


def test_registry_names_as_users_type_them() -> None:
    assert registry_of("https://127.0.0.1:5000/v2/") == "127.0.0.1:5000"
    assert registry_of("https://index.docker.io/v1/") == "docker.io"
    assert registry_of("quay.io") == "quay.io"
