"""Push to the fake registry: skip, mount, upload (whole or in chunks), recompress."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Callable

import pytest

from cais.distribution import Puller, Pusher, UnauthorizedError
from cais.engine import Engine
from cais.errors import InvalidArgumentError
from cais.images.archive import load
from cais.images.store import Image
from cais.oci import mediatypes as mt
from distribution.fakeregistry import FakeRegistry, docker_archive, layer_tar, sha


@pytest.fixture
def pulled(fake: FakeRegistry, make_puller: Callable[..., Puller]) -> Image:
    """An image pulled from registry.test/base/img:v1 (so cais knows where its blobs live)."""
    fake.add_image("base/img", "v1", [layer_tar({"f": os.urandom(5000)}), layer_tar({"g": b"g"})])
    return make_puller().pull("registry.test/base/img:v1").image


def test_push_uploads_blobs_then_the_manifest_and_records_the_repo_digest(
    engine: Engine, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    loaded = load(
        engine.images, io.BytesIO(docker_archive("app:v1", [layer_tar({"x": b"1" * 9000})]))
    )
    image = loaded[0].image
    result = make_pusher().push("app:v1", "registry.test/team/app:v2")
    assert str(result.reference) == "registry.test/team/app:v2"
    data, media_type = fake.manifests["team/app"]["v2"]
    assert (
        media_type == mt.DOCKER_MANIFEST
        and sha(data) == str(result.digest)
        and len(data) == result.size
    )
    doc = json.loads(data)
    layer = doc["layers"][0]
    assert layer["mediaType"] == mt.DOCKER_LAYER_GZIP  # compressed on the way, as Docker does
    assert gzip.decompress(fake.blobs[layer["digest"]]) == layer_tar({"x": b"1" * 9000})
    assert doc["config"]["digest"] == str(image.id)
    methods = [e.method for e in fake.log if "/team/app/" in e.path]
    assert methods[-1] == "PUT" and "/manifests/" in fake.log[-1].path  # manifest last
    recorded = engine.image_store.resolve(f"registry.test/team/app@{result.digest}")
    assert recorded.id == image.id
    assert f"registry.test/team/app@{result.digest}" in [str(d) for d in recorded.repo_digests]
    assert engine.content.read(recorded.manifest_digest) == data


def test_second_push_skips_every_blob(
    engine: Engine, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    load(engine.images, io.BytesIO(docker_archive("app:v1", [layer_tar({"x": b"abc"})])))
    first = make_pusher().push("app:v1", "registry.test/team/app:v1")
    fake.log.clear()
    second = make_pusher().push("app:v1", "registry.test/team/app:v1")
    assert second.digest == first.digest  # deterministic compression: the same manifest
    assert [e.method for e in fake.log if "/blobs/" in e.path] == ["HEAD", "HEAD"]
    assert second.pushed_bytes == 0


def test_blobs_from_another_repository_are_mounted(
    pulled: Image, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    result = make_pusher().push("registry.test/base/img:v1", "registry.test/team/copy:v1")
    posts = fake.requests("POST", "/team/copy/blobs/uploads/")
    assert len(posts) == 3 and all(p.status == 201 for p in posts)  # config and two layers
    assert {p.query["from"] for p in posts} == {"base/img"}
    assert not fake.requests("PUT", "/blobs/uploads/") and not fake.requests("PATCH")
    assert result.pushed_bytes == 0
    assert fake.manifests["team/copy"]["v1"][0] == fake.manifests["base/img"]["v1"][0]


def test_a_refused_mount_falls_back_to_an_upload(
    pulled: Image, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    fake.mounts = False
    result = make_pusher().push("registry.test/base/img:v1", "registry.test/team/copy:v1")
    assert all(p.status == 202 for p in fake.requests("POST", "/team/copy/"))
    assert len(fake.requests("PUT", "/team/copy/blobs/uploads/")) == 3
    assert result.pushed_bytes > 5000


def test_big_layers_go_in_chunks(
    engine: Engine, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    payload = os.urandom(300_000)
    load(engine.images, io.BytesIO(docker_archive("big:v1", [layer_tar({"r": payload})])))
    result = make_pusher(chunk_size=64 * 1024).push("big:v1", "registry.test/team/big:v1")
    patches = fake.requests("PATCH")
    assert len(patches) >= 4
    assert patches[0].headers["content-range"] == f"0-{64 * 1024 - 1}"
    assert patches[1].headers["content-range"].startswith(f"{64 * 1024}-")
    layer = json.loads(fake.manifests["team/big"]["v1"][0])["layers"][0]
    assert len(fake.blobs[layer["digest"]]) == layer["size"]
    assert result.pushed_bytes >= layer["size"]


@pytest.mark.parametrize("signed_state", [False, True])
def test_a_chunk_whose_answer_is_lost_is_not_sent_twice_or_lost(
    signed_state: bool, engine: Engine, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    payload = layer_tar({"r": os.urandom(300_000)})
    load(engine.images, io.BytesIO(docker_archive("big:v1", [payload])))
    fake.drop_patch = 2
    fake.signed_state = signed_state
    make_pusher(chunk_size=64 * 1024).push("big:v1", "registry.test/team/big:v1")
    uploads = [(e.method, e.status) for e in fake.log if "/team/big/blobs/uploads/" in e.path]
    if signed_state:  # distribution: the old Location is dead, a new upload starts over
        assert ("GET", 400) in uploads
        assert uploads.count(("POST", 202)) == 3  # config, layer, and the layer again
    else:  # a registry that reports its offset: carry on from there
        assert ("GET", 204) in uploads
        assert uploads.count(("POST", 202)) == 2
    layer = json.loads(fake.manifests["team/big"]["v1"][0])["layers"][0]
    assert gzip.decompress(fake.blobs[layer["digest"]]) == payload


def test_push_with_bearer_tokens_asks_for_push_and_source_pull(
    pulled: Image, fake: FakeRegistry, make_pusher: Callable[..., Pusher]
) -> None:
    fake.auth = "bearer"
    make_pusher(user="alice").push("registry.test/base/img:v1", "registry.test/team/copy:v1")
    scopes = {s for r in fake.token_requests for s in r["scopes"]}
    assert "repository:team/copy:pull,push" in scopes
    assert "repository:base/img:pull" in scopes
    assert all(
        p.status == 201 for p in fake.requests("POST", "/team/copy/") if p.query.get("mount")
    )
    with pytest.raises(UnauthorizedError, match="unauthorized"):
        make_pusher().push("registry.test/base/img:v1", "registry.test/team/other:v1")
    assert "other" not in "".join(fake.manifests)


def test_push_needs_a_name_and_no_digest(
    engine: Engine, pulled: Image, make_pusher: Callable[..., Pusher]
) -> None:
    with pytest.raises(InvalidArgumentError, match="digest reference"):
        make_pusher().push(
            "registry.test/base/img:v1", f"registry.test/x/y@{pulled.manifest_digest}"
        )
