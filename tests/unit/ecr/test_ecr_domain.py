"""The ECR domain over a real registry (in memory): the registry's paths and the domain's
calls agree, ECR's rules hold on both, and records follow storage."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cais.aws.errors import AwsError
from cais.ecr import ImageId, TagMutability
from cais.ecr.auth import LoginTokens
from cais.ecr.service import ImageFailure
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.registry import Registry, RegistryError
from ecr.ecr_harness import (
    ACCOUNT,
    DAY,
    NOW,
    OTHER_ACCOUNT,
    REGION,
    World,
    make_manifest,
    policy,
    rule,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def create(world: World, name: str = "app", mode: str = "MUTABLE", *filters: str) -> None:
    world.ecr.create_repository(
        name, account=ACCOUNT, region=REGION, mutability=TagMutability(mode, filters)
    )


def registry_error(fn: object, *args: object, **kw: object) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        fn(*args, **kw)  # type: ignore[operator]
    return info.value


def test_a_registry_push_is_an_ecr_image(world: World) -> None:
    create(world)
    blobs = world.push("app", "v1", layers=[b"x" * 1000, b"y" * 24])
    image = world.ecr.store.image("app", blobs.digest)
    assert image is not None
    assert image.tags == ("v1",)
    assert image.pushed_at == NOW
    assert image.media_type == mt.OCI_MANIFEST
    assert image.artifact_media_type == mt.OCI_CONFIG
    assert image.size == len(blobs.config) + 1024
    world.clock.now += 60
    world.push("app", "v2", blobs)  # the same image again under another tag
    again = world.ecr.store.image("app", blobs.digest)
    assert again is not None and again.tags == ("v1", "v2") and again.pushed_at == NOW


def test_pushing_to_a_repository_that_was_never_created_is_name_unknown(world: World) -> None:
    before = world.snapshot()
    err = registry_error(world.ecr.registry.start_upload, "ghost")
    assert err.code.code == "NAME_UNKNOWN"
    assert "ghost" in err.message
    assert world.snapshot() == before


def test_immutable_tags_hold_on_the_registry_path_and_the_api_path(world: World) -> None:
    create(world, "locked", "IMMUTABLE")
    first = world.push("locked", "v1")
    other = make_manifest(note="other")
    world.push_blob("locked", other.config)
    world.push_blob("locked", other.layers[0])
    before = world.snapshot()
    err = registry_error(
        world.ecr.registry.put_manifest,
        "locked",
        "v1",
        other.manifest,
        content_type=mt.OCI_MANIFEST,
    )
    assert (err.code.code, err.status) == ("TAG_INVALID", 400)
    assert "cannot be overwritten because the tag is immutable" in err.message
    with pytest.raises(AwsError) as info:
        world.ecr.put_image("locked", ACCOUNT, other.manifest, tag="v1")
    assert info.value.type == "ImageTagAlreadyExistsException"
    assert world.snapshot() == before
    assert world.ecr.store.resolve_tag("locked", "v1") == first.digest
    world.push("locked", "v1", first)  # the same digest again is no move
    world.push("locked", "v2", other)  # a new tag is fine


def test_exclusion_filters_leave_some_tags_mutable(world: World) -> None:
    create(world, "mixed", "IMMUTABLE_WITH_EXCLUSION", "latest", "dev-*")
    world.push("mixed", "latest")
    world.push("mixed", "latest")  # moves: excluded from immutability
    world.push("mixed", "v1")
    with pytest.raises(RegistryError):
        world.push("mixed", "v1")


def test_moving_a_mutable_tag_leaves_the_old_image_untagged(world: World) -> None:
    create(world)
    old = world.push("app", "latest")
    new = world.push("app", "latest")
    assert world.ecr.store.resolve_tag("app", "latest") == new.digest
    untagged = world.ecr.store.image("app", old.digest)
    assert untagged is not None and untagged.tags == ()


def test_put_image_needs_the_layers_in_the_repository(world: World) -> None:
    create(world)
    blobs = make_manifest()
    before = world.snapshot()
    with pytest.raises(AwsError) as info:
        world.ecr.put_image("app", ACCOUNT, blobs.manifest, tag="v1")
    assert info.value.type == "LayersNotFoundException"
    assert digest_in(info.value.message, blobs.layers[0])
    assert world.snapshot() == before


def digest_in(message: str, data: bytes) -> bool:
    return str(Digest.from_bytes(data)) in message


def test_put_image_digest_checks_and_repeats(world: World) -> None:
    create(world)
    blobs = world.push("app", "v1")
    with pytest.raises(AwsError) as info:
        world.ecr.put_image("app", ACCOUNT, blobs.manifest, tag="v2", digest="sha256:" + "0" * 64)
    assert info.value.type == "ImageDigestDoesNotMatchException"
    with pytest.raises(AwsError) as info:
        world.ecr.put_image("app", ACCOUNT, blobs.manifest, tag="v1")
    assert info.value.type == "ImageAlreadyExistsException"
    assert info.value.message == (
        f"Image with digest '{blobs.digest}' and tag 'v1' already exists in the repository "
        f"with name 'app' in registry with id '{ACCOUNT}'"
    )
    put = world.ecr.put_image("app", ACCOUNT, blobs.manifest, tag="v2", digest=blobs.digest)
    assert put.image_id == ImageId(blobs.digest, "v2")
    _, data = world.ecr.registry.get_manifest("app", "v2")
    assert data == blobs.manifest


def test_batch_delete_by_tag_and_by_digest(world: World) -> None:
    create(world)
    a = world.push("app", "a1")
    world.push("app", "a2", a)
    b = world.push("app", "b1")
    deleted, failures = world.ecr.delete_images(
        "app", ACCOUNT, [ImageId(tag="a1"), ImageId(digest=b.digest), ImageId(tag="zz")]
    )
    assert deleted == [ImageId(a.digest, "a1"), ImageId(b.digest, "b1")]
    assert failures == [
        ImageFailure(ImageId(tag="zz"), "ImageNotFound", "Requested image not found")
    ]
    # a keeps its other tag; b is gone from the registry too
    assert world.ecr.registry.get_manifest("app", "a2")[1] == a.manifest
    assert registry_error(world.ecr.registry.get_manifest, "app", b.digest).code.code == (
        "MANIFEST_UNKNOWN"
    )
    deleted, _ = world.ecr.delete_images("app", ACCOUNT, [ImageId(tag="a2")])
    assert deleted == [ImageId(a.digest, "a2")]
    assert world.ecr.store.image("app", a.digest) is None  # the last tag took the image
    assert registry_error(world.ecr.registry.get_manifest, "app", a.digest).code.code == (
        "MANIFEST_UNKNOWN"
    )


def test_an_image_an_index_lists_cannot_be_deleted_alone(world: World) -> None:
    create(world)
    child = world.push("app", None)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                {"mediaType": mt.OCI_MANIFEST, "digest": child.digest, "size": len(child.manifest)}
            ],
        }
    ).encode()
    world.ecr.put_image("app", ACCOUNT, index, tag="multi")
    _, failures = world.ecr.delete_images("app", ACCOUNT, [ImageId(digest=child.digest)])
    assert [f.code for f in failures] == ["ImageReferencedByManifestList"]
    deleted, _ = world.ecr.delete_images("app", ACCOUNT, [ImageId(tag="multi")])
    assert len(deleted) == 1
    deleted, _ = world.ecr.delete_images("app", ACCOUNT, [ImageId(digest=child.digest)])
    assert deleted == [ImageId(child.digest, None)]


def test_delete_repository_needs_force_when_it_has_images(world: World) -> None:
    create(world)
    world.push("app", "v1")
    before = world.snapshot()
    with pytest.raises(AwsError) as info:
        world.ecr.delete_repository("app", ACCOUNT, force=False)
    assert info.value.type == "RepositoryNotEmptyException"
    assert world.snapshot() == before
    world.ecr.delete_repository("app", ACCOUNT, force=True)
    assert world.ecr.store.find_repository("app") is None
    assert world.ecr.registry.repositories() == []
    create(world)  # the name is free again, and empty
    assert world.ecr.store.images("app") == []


def test_another_accounts_repository_is_not_found(world: World) -> None:
    create(world)
    with pytest.raises(AwsError) as info:
        world.ecr.store.get_repository("app", OTHER_ACCOUNT)
    assert info.value.message == (
        f"The repository with name 'app' does not exist in the registry with id '{OTHER_ACCOUNT}'"
    )


def test_reconcile_catches_up_with_storage_after_a_crash(world: World) -> None:
    create(world)
    kept = world.push("app", "v1")
    vanished = world.push("app", "v2")
    # what a crash between a storage write and its hook leaves: storage moved on alone
    bare = Registry(world.driver)
    bare.delete_manifest("app", vanished.digest)
    extra = make_manifest(note="unrecorded")
    for blob in (extra.config, *extra.layers):
        world.push_blob("app", blob)
    bare.put_manifest("app", "v3", extra.manifest, content_type=mt.OCI_MANIFEST)
    world.ecr.reconcile()
    tags = {i.digest: i.tags for i in world.ecr.store.images("app")}
    assert tags == {kept.digest: ("v1",), extra.digest: ("v3",)}


def test_fetching_an_image_records_a_pull(world: World) -> None:
    create(world)
    blobs = world.push("app", "v1")
    world.clock.now = NOW + 5
    found, failures = world.ecr.fetch_images("app", ACCOUNT, [ImageId(tag="v1")])
    assert [(f.image_id, f.manifest) for f in found] == [
        (ImageId(blobs.digest, "v1"), blobs.manifest)
    ]
    assert failures == []
    image = world.ecr.store.image("app", blobs.digest)
    assert image is not None and image.last_pull == NOW + 5
    _, failures = world.ecr.fetch_images(
        "app", ACCOUNT, [ImageId(tag="v1")], accepted=[mt.DOCKER_MANIFEST]
    )
    assert [f.code for f in failures] == ["ImageNotFound"]


def test_a_lifecycle_run_expires_what_the_preview_showed(world: World) -> None:
    create(world)
    pushed = []
    for i in range(4):
        world.clock.now = NOW - (10 - i) * DAY
        pushed.append(world.push("app", f"v{i}"))
    world.clock.now = NOW
    text = policy(rule(1, "tagged", count=1, patterns=["v*"]))
    world.ecr.store.set_lifecycle_policy("app", ACCOUNT, text)
    preview = world.ecr.preview_lifecycle("app", ACCOUNT, None)
    assert [x.digest for x in preview] == [b.digest for b in pushed[:3]]
    [run] = world.ecr.run_lifecycle()
    assert run.expired == tuple(preview)
    assert [i.digest for i in world.ecr.store.images("app")] == [pushed[3].digest]
    for blobs in pushed[:3]:
        err = registry_error(world.ecr.registry.get_manifest, "app", blobs.digest)
        assert err.code.code == "MANIFEST_UNKNOWN"
    stored = world.ecr.store.lifecycle_policy("app", ACCOUNT)
    assert stored == (text, NOW)
    [again] = world.ecr.run_lifecycle()
    assert again.expired == ()


def test_logins_expire_after_12_hours_and_die_with_their_key(world: World) -> None:
    login = world.ecr.login(account=ACCOUNT, access_key_id="AKIACAISLOCALDEFAULT")
    user, _, password = base64.b64decode(login.token).decode().partition(":")
    assert (user, password) == ("AWS", login.password)
    assert login.expires_at == NOW + 12 * 3600
    tokens = world.ecr.tokens
    grant = tokens.verify(password)
    assert grant is not None and grant.account == ACCOUNT
    assert tokens.verify(password[:-2] + "xx") is None  # forged
    assert tokens.verify("not-a-token") is None
    world.clock.now = NOW + 12 * 3600
    assert tokens.verify(password) is None  # expired
    world.clock.now = NOW
    # a restart (a new LoginTokens on the same database) still accepts it
    assert LoginTokens(world.ecr.store, keys=world.keys, clock=world.clock).verify(password)
    world.keys.set_status("AKIACAISLOCALDEFAULT", "Inactive")
    assert tokens.verify(password) is None  # revoked with its key
