from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from cais.distribution.authfile import (
    AuthFile,
    AuthFileError,
    Credential,
    StaticCredentials,
    default_auth_files,
)


def test_store_writes_the_containers_auth_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {"other:5000": {"auth": "eDp5"}}, "credHelpers": {}}))
    AuthFile(path).store("127.0.0.1:5000", Credential("alice", "s3:cret"))
    doc = json.loads(path.read_text())
    assert doc["credHelpers"] == {}  # keys cais does not use are kept
    assert doc["auths"]["other:5000"] == {"auth": "eDp5"}
    assert base64.b64decode(doc["auths"]["127.0.0.1:5000"]["auth"]) == b"alice:s3:cret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = AuthFile(path).credential_for("127.0.0.1:5000")
    assert found == Credential("alice", "s3:cret")
    assert "s3:cret" not in repr(found)


def test_docker_style_keys_and_repository_scoped_entries(tmp_path: Path) -> None:
    def entry(user: str) -> dict[str, str]:
        return {"auth": base64.b64encode(f"{user}:pw".encode()).decode()}

    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": entry("hub"),
                    "reg.example": entry("everyone"),
                    "reg.example/team": entry("team"),
                }
            }
        )
    )
    auth = AuthFile(path)
    assert auth.credential_for("docker.io") == Credential("hub", "pw")
    assert auth.credential_for("reg.example", "team/app") == Credential("team", "pw")
    assert auth.credential_for("reg.example", "other/app") == Credential("everyone", "pw")
    assert auth.credential_for("nowhere.example") is None


def test_remove_and_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    auth = AuthFile(path)
    assert auth.remove("x:1") is False
    auth.store("x:1", Credential("a", "b"))
    assert auth.remove("x:1") is True
    assert auth.credential_for("x:1") is None
    path.write_text("{not json")
    with pytest.raises(AuthFileError, match="not valid JSON"):
        auth.credential_for("x:1")
    path.write_text(json.dumps({"auths": {"x:1": {"auth": "!!!"}}}))
    with pytest.raises(AuthFileError, match="not base64"):
        auth.credential_for("x:1")


def test_default_files_explicit_is_exclusive_and_fallbacks_are_read(tmp_path: Path) -> None:
    podman = tmp_path / "xdg" / "containers" / "auth.json"
    AuthFile(podman).store("r.example", Credential("from-podman", "pw"))
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    files = default_auth_files(root=tmp_path / "root", environ=env)
    assert files.primary.path == tmp_path / "root" / "auth.json"
    assert files.credential_for("r.example") == Credential("from-podman", "pw")
    files.primary.store("r.example", Credential("from-cais", "pw"))
    assert files.credential_for("r.example") == Credential("from-cais", "pw")
    explicit = default_auth_files(
        root=tmp_path / "root", environ={**env, "REGISTRY_AUTH_FILE": str(tmp_path / "e.json")}
    )
    assert explicit.primary.path == tmp_path / "e.json"
    assert explicit.credential_for("r.example") is None  # only the named file is read


def test_static_credentials() -> None:
    one = Credential("AWS", "token")
    assert StaticCredentials.single(one).credential_for("any:1") == one
    keyed = StaticCredentials({"https://reg.example": one})
    assert keyed.credential_for("reg.example") == one
    assert keyed.credential_for("other.example") is None
