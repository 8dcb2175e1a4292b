"""Pull against the fake registry: what lands in the store, and what went over the wire."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from cais.distribution import (
    ContentMismatchError,
    ManifestUnknownError,
    NoMatchingPlatformError,
    Puller,
    TransferInterruptedError,
    UnauthorizedError,
)
from cais.distribution.pull import PullResult
from cais.engine import Engine
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.oci.platform import Platform
from distribution.fakeregistry import FakeRegistry, layer_tar, store_state

REF = "registry.test/team/app:v1"


def image(
    fake: FakeRegistry, tag: str = "v1", *, size: int = 4096, **kw: object
) -> tuple[str, bytes]:
    layers = [layer_tar({"a.txt": b"hello\n"}), layer_tar({"big.bin": os.urandom(size)})]
    return fake.add_image("team/app", tag, layers, **kw)  # type: ignore[arg-type]


def test_pull_records_tag_and_repo_digest_with_the_registry_bytes(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    digest, data = image(fake)
    result = make_puller().pull(REF)
    assert isinstance(result, PullResult)
    assert str(result.digest) == digest and result.updated
    img = engine.image_store.resolve(REF)
    assert [str(t) for t in img.tags] == [REF]
    assert [str(d) for d in img.repo_digests] == [f"registry.test/team/app@{digest}"]
    assert engine.content.read(img.manifest_digest) == data  # stored unchanged, not re-serialised
    assert str(img.manifest_digest) == digest
    assert (
        engine.snapshotter.directory(str(img.config.diff_ids[0])) / "a.txt"
    ).read_bytes() == b"hello\n"
    assert engine.image_store.resolve(f"registry.test/team/app@{digest}").id == img.id
    accept = fake.requests("GET", "/manifests/")[0].headers["accept"]
    for media_type in (mt.OCI_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST):
        assert media_type in accept


def test_second_pull_fetches_no_blob_and_is_up_to_date(
    fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    image(fake)
    make_puller().pull(REF)
    blob_gets = len(fake.requests("GET", "/blobs/"))
    again = make_puller().pull(REF)
    assert not again.updated and again.fetched_bytes == 0
    assert len(fake.requests("GET", "/blobs/")) == blob_gets


def test_docker_schema2_and_a_tag_that_moves(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    image(fake, docker=True)
    first = make_puller().pull(REF).image
    image(fake)  # the tag now names another image
    second = make_puller().pull(REF)
    assert second.updated and second.image.id != first.id
    assert engine.image_store.resolve(REF).id == second.image.id
    assert first.media_type == mt.DOCKER_MANIFEST


def test_missing_tag_changes_nothing(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    image(fake)
    before = store_state(engine)
    with pytest.raises(ManifestUnknownError) as info:
        make_puller().pull("registry.test/team/app:nope")
    assert str(info.value) == (
        "manifest for registry.test/team/app:nope not found: manifest unknown"
    )
    assert store_state(engine) == before


def test_tampered_layer_fails_and_stores_nothing(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    _, data = image(fake, size=300_000)
    layer = json.loads(data)["layers"][1]
    good = fake.blobs[layer["digest"]]
    fake.tampered[layer["digest"]] = good[:-10] + b"X" * 10  # same size, other bytes
    before = store_state(engine)
    with pytest.raises(ContentMismatchError, match="digest mismatch"):
        make_puller().pull(REF)
    assert store_state(engine) == before  # not even the good layer or the config stayed


def test_tampered_manifest_is_refused(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    digest, data = image(fake)
    fake.tampered[digest] = data.replace(b'"size"', b'"size" ', 1)
    before = store_state(engine)
    with pytest.raises(ContentMismatchError, match="expected " + digest):
        make_puller().pull(f"registry.test/team/app@{digest}")
    assert store_state(engine) == before


def test_index_resolves_to_this_platform_only(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    amd, amd_data = fake.add_image("team/app", None, [layer_tar({"arch": b"amd64"})])
    arm, arm_data = fake.add_image("team/app", None, [layer_tar({"arch": b"arm64"})], arch="arm64")
    index = fake.add_index("team/app", "multi", [("arm64", arm, "v8"), ("amd64", amd, "")])
    result = make_puller(platform=Platform("linux", "amd64")).pull("registry.test/team/app:multi")
    assert str(result.digest) == index
    img = result.image
    assert img.config.architecture == "amd64" and str(img.manifest_digest) == amd
    assert [str(d) for d in img.repo_digests] == [f"registry.test/team/app@{index}"]
    fetched = {e.path.rsplit("/", 1)[1] for e in fake.requests("GET", "/blobs/")}
    arm_layer = json.loads(arm_data)["layers"][0]["digest"]
    assert arm_layer not in fetched and json.loads(amd_data)["layers"][0]["digest"] in fetched
    other = make_puller(platform=Platform.parse("linux/arm64")).pull("registry.test/team/app:multi")
    assert other.image.config.architecture == "arm64"
    before = store_state(engine)
    with pytest.raises(
        NoMatchingPlatformError, match=r"no image for linux/s390x .*amd64, linux/arm64"
    ):
        make_puller(platform=Platform("linux", "s390x")).pull("registry.test/team/app:multi")
    assert store_state(engine) == before


def test_broken_download_resumes_with_a_range_request(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    _, data = image(fake, size=2_000_000)
    layer = json.loads(data)["layers"][1]
    fake.break_after[layer["digest"]] = 700_000
    make_puller().pull(REF)
    gets = list(fake.requests("GET", layer["digest"]))
    assert [g.status for g in gets] == [200, 206]
    assert gets[1].headers["range"] == "bytes=700000-"
    assert gets[0].sent + gets[1].sent == layer["size"]  # every byte fetched once
    assert engine.content.info(Digest.parse(layer["digest"])) is not None


def test_interrupted_pull_keeps_verified_bytes_and_the_next_pull_fetches_the_rest(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    _, data = image(fake, size=2_000_000)
    small, big = json.loads(data)["layers"]
    fake.break_after[big["digest"]] = 500_000
    with pytest.raises(TransferInterruptedError, match="broke off"):
        make_puller(retries=0, concurrency=1).pull(REF)
    assert engine.image_store.all() == []
    assert engine.content.info(Digest.parse(small["digest"])) is not None
    fake.log.clear()
    result = make_puller().pull(REF)
    gets = fake.requests("GET", "/blobs/sha256")
    assert [g.path.rsplit("/", 1)[1] for g in gets] == [big["digest"]]  # config and small kept
    assert gets[0].status == 206 and gets[0].headers["range"] == "bytes=500000-"
    assert gets[0].sent == big["size"] - 500_000
    assert result.fetched_bytes == big["size"] - 500_000


def test_a_registry_that_ignores_range_is_read_from_the_start(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    _, data = image(fake, size=1_000_000)
    big = json.loads(data)["layers"][1]
    fake.break_after[big["digest"]] = 100_000
    fake.ignore_range = True
    img = make_puller().pull(REF).image
    assert [g.status for g in fake.requests("GET", big["digest"])] == [200, 200]
    assert engine.content.info(img.manifest_digest) is not None


def test_basic_auth(engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]) -> None:
    fake.auth = "basic"
    image(fake)
    with pytest.raises(UnauthorizedError) as info:
        make_puller().pull(REF)
    assert str(info.value) == (
        "reading manifest v1 in registry.test/team/app: unauthorized: authentication required"
    )
    with pytest.raises(UnauthorizedError):
        make_puller(user="alice", password="wrong").pull(REF)
    fake.log.clear()
    make_puller(user="alice").pull(REF)
    assert all(
        e.headers["authorization"].startswith("Basic ") for e in fake.requests(part="/team/")
    )


def test_bearer_token_with_scopes(fake: FakeRegistry, make_puller: Callable[..., Puller]) -> None:
    fake.auth = "bearer"
    image(fake)
    make_puller(user="alice").pull(REF)
    (request,) = fake.token_requests
    assert request["scopes"] == ["repository:team/app:pull"]
    assert request["service"] == "fake-registry" and request["account"] == "alice"
    assert request["authorization"].startswith("Basic ")
    assert all(
        e.headers["authorization"].startswith("Bearer ")
        for e in fake.requests(part="/team/")
        if e.status != 401
    )


def test_anonymous_token_and_its_refusal(
    fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    fake.auth = "bearer"
    image(fake)
    with pytest.raises(UnauthorizedError, match="unauthorized"):
        make_puller().pull(REF)
    fake.anonymous_pull = True
    make_puller().pull(REF)
    assert fake.token_requests[-1]["authorization"] == ""
    with pytest.raises(UnauthorizedError, match="incorrect username or password"):
        make_puller(user="alice", password="bad").pull(REF)


def test_revoked_token_is_renewed_after_a_401(
    engine: Engine, fake: FakeRegistry, make_puller: Callable[..., Puller]
) -> None:
    fake.auth = "bearer"
    _, _data = image(fake)
    puller = make_puller(user="alice")
    original = puller.client

    def revoking_client(registry: str):  # type: ignore[no-untyped-def]
        client = original(registry)
        get_manifest = client.get_manifest

        def then_revoke(repo: str, ref: str):  # type: ignore[no-untyped-def]
            found = get_manifest(repo, ref)
            fake.revoke_tokens()
            return found

        client.get_manifest = then_revoke  # type: ignore[method-assign]
        return client

    puller.client = revoking_client  # type: ignore[method-assign]
    puller.pull(REF)
    assert len(fake.token_requests) == 2
    assert any(e.status == 401 and "/blobs/" in e.path for e in fake.log)
    assert engine.image_store.resolve(REF).tags


def test_the_python_api_takes_credentials_in_code(engine: Engine, fake: FakeRegistry) -> None:
    from cais.distribution import Credential, StaticCredentials, pull

    fake.auth = "basic"
    image(fake)
    got = pull(engine, REF, auth=Credential("alice", "secret"), transport=fake.transport())
    assert engine.image_store.resolve(REF).id == got.id
    keyed = StaticCredentials({"other.test": Credential("alice", "secret")})
    with pytest.raises(UnauthorizedError):
        pull(engine, REF, auth=keyed, transport=fake.transport())
