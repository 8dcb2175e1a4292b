"""Two pushes of different manifests to one new IMMUTABLE tag at once: exactly one wins,
from threads of one server or from two processes on one root, and ECR's records
(DescribeImages) name the same image as the registry (GET /v2/<name>/manifests/<tag>)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cais.aws.errors import AwsError
from cais.ecr import TagMutability
from cais.oci import mediatypes as mt
from cais.registry import RegistryError
from cais.registry.storage import FilesystemDriver, MemoryDriver
from ecr.ecr_harness import ACCOUNT, REGION, Blobs, World, make_manifest

ROUNDS = 25
IMMUTABLE_MESSAGE = "cannot be overwritten because the tag is immutable"


@pytest.fixture(params=["fs", "memory"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    driver = FilesystemDriver(tmp_path / "storage") if request.param == "fs" else MemoryDriver()
    w = World(tmp_path, driver=driver)
    w.ecr.create_repository(
        "app", account=ACCOUNT, region=REGION, mutability=TagMutability("IMMUTABLE")
    )
    yield w
    w.close()


def two_images(world: World) -> tuple[Blobs, Blobs]:
    images = make_manifest(note="a"), make_manifest(note="b")
    for blobs in images:
        for blob in (blobs.config, *blobs.layers):
            world.push_blob("app", blob)
    return images


def race(first: Callable[[], None], second: Callable[[], None]) -> list[BaseException | None]:
    """Run both at once (released together by a barrier); what each raised, or None."""
    barrier = threading.Barrier(2)
    outcomes: list[BaseException | None] = [None, None]

    def run(index: int, fn: Callable[[], None]) -> None:
        barrier.wait()
        try:
            fn()
        except (RegistryError, AwsError) as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def registry_push(world: World, tag: str, blobs: Blobs) -> Callable[[], None]:
    def push() -> None:
        world.ecr.registry.put_manifest("app", tag, blobs.manifest, content_type=mt.OCI_MANIFEST)

    return push


def api_push(world: World, tag: str, blobs: Blobs) -> Callable[[], None]:
    def push() -> None:
        world.ecr.put_image("app", ACCOUNT, blobs.manifest, tag=tag)

    return push


def assert_views_agree(world: World, tag: str, winner: str) -> None:
    """DescribeImages and the registry's manifest GET name the winner for ``tag``."""
    doc = world.ok("DescribeImages", {"repositoryName": "app", "imageIds": [{"imageTag": tag}]})
    assert [d["imageDigest"] for d in doc["imageDetails"]] == [winner]
    info, _ = world.ecr.registry.get_manifest("app", tag)
    assert str(info.digest) == winner


def test_two_registry_pushes_to_one_immutable_tag_one_wins(world: World) -> None:
    a, b = two_images(world)
    for i in range(ROUNDS):
        tag = f"t{i}"
        outcomes = race(registry_push(world, tag, a), registry_push(world, tag, b))
        refused = [o for o in outcomes if o is not None]
        assert len(refused) == 1, f"round {i}: {outcomes}"
        err = refused[0]
        assert isinstance(err, RegistryError)
        assert (err.code.code, err.status) == ("TAG_INVALID", 400)
        assert IMMUTABLE_MESSAGE in err.message
        winner = b.digest if outcomes[0] is not None else a.digest
        assert_views_agree(world, tag, winner)


def test_put_image_racing_a_registry_push_one_wins(world: World) -> None:
    a, b = two_images(world)
    for i in range(ROUNDS):
        tag = f"t{i}"
        outcomes = race(api_push(world, tag, a), registry_push(world, tag, b))
        refused = [o for o in outcomes if o is not None]
        assert len(refused) == 1, f"round {i}: {outcomes}"
        if outcomes[0] is not None:
            assert isinstance(outcomes[0], AwsError)
            assert outcomes[0].type == "ImageTagAlreadyExistsException"
            winner = b.digest
        else:
            assert isinstance(outcomes[1], RegistryError)
            assert outcomes[1].code.code == "TAG_INVALID"
            winner = a.digest
        assert_views_agree(world, tag, winner)


PUSHER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from cais.ecr import open_ecr
    from cais.registry import RegistryError
    from cais.registry.storage import FilesystemDriver
    from cais.state.sqlite import Database

    root, manifest, count = Path(sys.argv[1]), Path(sys.argv[2]).read_bytes(), int(sys.argv[3])
    db = Database(root / "cais.db")
    ecr = open_ecr(db, FilesystemDriver(root / "storage"), registry_host="localhost:1")
    sys.stdin.readline()  # start together
    won = []
    for i in range(count):
        try:
            ecr.registry.put_manifest(
                "app", f"t{i}", manifest, content_type="application/vnd.oci.image.manifest.v1+json"
            )
            won.append(f"t{i}")
        except RegistryError as exc:
            assert exc.code.code == "TAG_INVALID", exc
    db.close()
    print(json.dumps(won))
    """
)


def test_two_processes_on_one_root_never_both_take_a_tag(tmp_path: Path) -> None:
    world = World(tmp_path, driver=FilesystemDriver(tmp_path / "storage"))
    try:
        world.ecr.create_repository(
            "app", account=ACCOUNT, region=REGION, mutability=TagMutability("IMMUTABLE")
        )
        images = two_images(world)
        count = 40
        procs = []
        for n, blobs in enumerate(images):
            manifest = tmp_path / f"manifest-{n}.json"
            manifest.write_bytes(blobs.manifest)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", PUSHER, str(tmp_path), str(manifest), str(count)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        won = []
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0
            won.append(set(json.loads(out)))
        assert won[0] & won[1] == set()
        assert won[0] | won[1] == {f"t{i}" for i in range(count)}
        for n, tags in enumerate(won):
            for tag in tags:
                assert_views_agree(world, tag, images[n].digest)
    finally:
        world.close()
