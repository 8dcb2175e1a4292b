from __future__ import annotations

import json

import pytest

from cais.oci import mediatypes as mt
from cais.oci.config import ContainerConfig, HealthConfig, HistoryEntry, ImageConfig, chain_ids
from cais.oci.digest import Digest
from cais.oci.manifest import (
    Index,
    Manifest,
    ManifestError,
    UnsupportedMediaTypeError,
    parse_manifest,
)
from cais.oci.platform import Platform, best_match

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _manifest(media_type: str = mt.OCI_MANIFEST, **extra: object) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 20}],
        **extra,
    }
    return json.dumps(doc).encode()


def test_parse_oci_manifest() -> None:
    parsed = parse_manifest(_manifest())
    assert isinstance(parsed, Manifest)
    assert parsed.config.digest == Digest.parse(D1)
    assert [layer.size for layer in parsed.layers] == [20]
    assert parsed.is_image


def test_parse_docker_manifest_and_lists() -> None:
    docker = parse_manifest(_manifest(mt.DOCKER_MANIFEST))
    assert isinstance(docker, Manifest)
    index = parse_manifest(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.DOCKER_MANIFEST_LIST,
                "manifests": [
                    {
                        "mediaType": mt.DOCKER_MANIFEST,
                        "digest": D1,
                        "size": 1,
                        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
                    },
                    {
                        "mediaType": mt.DOCKER_MANIFEST,
                        "digest": D2,
                        "size": 1,
                        "platform": {"architecture": "amd64", "os": "linux"},
                    },
                ],
            }
        ).encode()
    )
    assert isinstance(index, Index)
    choices = [(m.platform, m.digest) for m in index.manifests if m.platform]
    assert best_match(choices, Platform("linux", "amd64")) == Digest.parse(D2)
    assert best_match(choices, Platform("linux", "arm64")) == Digest.parse(D1)
    assert best_match(choices, Platform("linux", "s390x")) is None


def test_media_type_without_field_is_inferred() -> None:
    doc = json.loads(_manifest())
    del doc["mediaType"]
    assert isinstance(parse_manifest(json.dumps(doc).encode()), Manifest)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), "schema1"),
        (_manifest().replace(b'"schemaVersion": 2', b'"schemaVersion": 3'), "schemaVersion"),
        (_manifest().replace(D2.encode(), b"sha256:zz"), "invalid digest"),
        (_manifest().replace(b'"size": 20', b'"size": -1'), "size"),
        (
            _manifest(mt.DOCKER_MANIFEST).replace(mt.OCI_LAYER_GZIP.encode(), b"text/plain"),
            "unknown layer media type",
        ),
    ],
)
def test_bad_manifests_are_refused(data: bytes, needle: str) -> None:
    with pytest.raises(ManifestError) as exc:
        parse_manifest(data)
    assert needle in str(exc.value)


def test_unknown_media_type() -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        parse_manifest(_manifest("application/x-nope"))


def test_declared_media_type_must_match() -> None:
    with pytest.raises(ManifestError, match="does not match"):
        parse_manifest(_manifest(), mt.DOCKER_MANIFEST)


def test_manifest_round_trip_is_stable() -> None:
    parsed = parse_manifest(_manifest())
    assert isinstance(parsed, Manifest)
    again = parse_manifest(parsed.to_bytes())
    assert again == parsed
    assert parsed.to_bytes() == again.to_bytes()  # type: ignore[union-attr]


def test_image_config_round_trip() -> None:
    config = ImageConfig(
        architecture="amd64",
        os="linux",
        config=ContainerConfig(
            user="app",
            env=("A=1", "PATH=/bin"),
            entrypoint=("/init",),
            cmd=("serve",),
            working_dir="/srv",
            exposed_ports=("8080/tcp",),
            volumes=("/data",),
            labels={"k": "v"},
            stop_signal="SIGINT",
            healthcheck=HealthConfig(("CMD-SHELL", "true"), interval_ns=10**9, retries=3),
            shell=("/bin/bash", "-c"),
        ),
        diff_ids=(Digest.parse(D1),),
        history=(HistoryEntry(created="2024-01-01T00:00:00Z", created_by="x"),),
        created="2024-01-01T00:00:00Z",
    )
    again = ImageConfig.from_bytes(config.to_bytes())
    assert again == config
    doc = json.loads(config.to_bytes())
    assert doc["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert doc["config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"],
        "Interval": 10**9,
        "Retries": 3,
    }
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [D1]}


def test_chain_ids_follow_the_spec() -> None:
    a, b = Digest.parse(D1), Digest.parse(D2)
    chain = chain_ids((a, b))
    assert chain[0] == a
    assert chain[1] == Digest.from_bytes(f"{D1} {D2}".encode())
