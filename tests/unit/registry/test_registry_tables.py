"""The route table and the error-code table are data: check their shape and the CLI entry."""

from __future__ import annotations

import subprocess
import sys

from cais.registry import errors, routes
from cais.registry.errors import CODES


def test_every_spec_error_code_is_registered_once_with_its_status() -> None:
    expected = {
        "BLOB_UNKNOWN": 404,
        "BLOB_UPLOAD_INVALID": 400,
        "BLOB_UPLOAD_UNKNOWN": 404,
        "DIGEST_INVALID": 400,
        "MANIFEST_BLOB_UNKNOWN": 400,
        "MANIFEST_INVALID": 400,
        "MANIFEST_UNKNOWN": 404,
        "NAME_INVALID": 400,
        "NAME_UNKNOWN": 404,
        "SIZE_INVALID": 400,
        "UNAUTHORIZED": 401,
        "DENIED": 403,
        "UNSUPPORTED": 405,
        "TOO_MANY_REQUESTS": 429,
    }
    for code, status in expected.items():
        assert CODES[code].status == status
    err = errors.RegistryError(CODES["DENIED"], detail={"x": 1})
    assert err.to_json() == {
        "errors": [{"code": "DENIED", "message": CODES["DENIED"].message, "detail": {"x": 1}}]
    }


def test_route_table_names_are_unique_and_match_expected_paths() -> None:
    names = [r.name for r in routes.ROUTES]
    assert len(names) == len(set(names))
    cases = {
        "/v2/": ("base", {}),
        "/v2/_catalog": ("catalog", {}),
        "/v2/a/b/tags/list": ("tags", {"name": "a/b"}),
        "/v2/a/manifests/v1": ("manifest", {"name": "a", "reference": "v1"}),
        "/v2/a/blobs/uploads/": ("upload_start", {"name": "a"}),
        "/v2/a/blobs/uploads/abc": ("upload", {"name": "a", "uuid": "abc"}),
        "/v2/a/blobs/sha256:00": ("blob", {"name": "a", "digest": "sha256:00"}),
        "/v2/x/y/referrers/sha256:00": ("referrers", {"name": "x/y", "digest": "sha256:00"}),
    }
    for path, (name, params) in cases.items():
        found = routes.match(path)
        assert found is not None, path
        assert found[0].name == name
        assert found[1] == params
    assert routes.match("/v2/a/unknown") is None


def test_registry_command_is_registered_and_cli_import_stays_light() -> None:
    from cais.cli.main import COMMANDS

    assert COMMANDS["registry"][0] == "cais.cli.registry"
    code = (
        "import sys, cais.cli.main, cais.cli.registry;"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported';"
        "assert 'bcrypt' not in sys.modules, 'bcrypt imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
