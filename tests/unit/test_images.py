from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from cais.engine import Engine
from cais.errors import CaisError, ConflictError
from cais.images.archive import ArchiveError, load, save
from cais.images.bootstrap import bootstrap
from cais.images.importer import import_rootfs
from cais.images.service import ContainerUse
from cais.images.store import ImageNotFoundError
from cais.layers import LayerError
from cais.oci.config import chain_ids
from cais.oci.digest import Digest
from cais.oci.manifest import ManifestError
from cais.oci.reference import parse_reference
from tarfixtures import MALICIOUS, file, make_tar


def state(engine: Engine) -> tuple[object, ...]:
    """Everything a failed operation must leave as it was."""
    return (
        sorted(str(i.id) for i in engine.image_store.all()),
        sorted(str(b.digest) for b in engine.content.walk()),
        sorted(s.key for s in engine.snapshotter.walk()),
        sorted(p.name for p in (engine.content.root / "ingest").glob("*"))
        if (engine.content.root / "ingest").exists()
        else [],
    )


@pytest.fixture
def busybox(engine: Engine) -> object:
    return bootstrap(engine.images, "busybox")


def _import(engine: Engine, name: str, files: dict[str, bytes]) -> object:
    data = make_tar([file(k, v) for k, v in files.items()])
    return import_rootfs(engine.images, io.BytesIO(data), names=[parse_reference(name)])


def test_bootstrap_busybox_is_reproducible(engine: Engine, busybox: object) -> None:
    image = engine.image_store.resolve("busybox")
    assert [t.familiar() for t in image.tags] == ["busybox:latest"]
    assert image.config.config.cmd == ("sh",)
    assert len(image.config.diff_ids) == 1
    again = bootstrap(engine.images, "busybox", tag="bb2:v1")
    assert again.id == image.id
    root = engine.snapshotter.directory(str(image.config.diff_ids[0]))
    assert (root / "bin/busybox").is_file()
    assert (root / "bin/sh").is_symlink()
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0")


def test_resolve_by_name_id_prefix_and_digest(engine: Engine, busybox: object) -> None:
    image = engine.image_store.resolve("busybox:latest")
    assert engine.image_store.resolve(str(image.id)).id == image.id
    assert engine.image_store.resolve(image.id.encoded[:12]).id == image.id
    assert engine.image_store.resolve("docker.io/library/busybox").id == image.id
    with pytest.raises(ImageNotFoundError, match="no such image: nope"):
        engine.image_store.resolve("nope")


def test_tags_and_rmi_rules(engine: Engine, busybox: object) -> None:
    image = engine.image_store.resolve("busybox")
    engine.image_store.tag(image.id, parse_reference("mine:v1"))
    engine.image_store.tag(image.id, parse_reference("busybox:other"))
    with pytest.raises(ConflictError, match="referenced in multiple repositories"):
        engine.images.remove(image.id.encoded[:12])
    events = engine.images.remove("mine:v1")
    assert [(e.action, e.subject) for e in events] == [("Untagged", "mine:v1")]
    assert engine.image_store.resolve("busybox").id == image.id
    events = engine.images.remove(image.id.encoded[:12])  # one repository left: allowed
    assert ("Deleted", str(image.id)) in [(e.action, e.subject) for e in events]
    assert engine.image_store.all() == []
    assert list(engine.content.walk()) == []
    assert list(engine.snapshotter.walk()) == []


def test_rmi_refuses_an_image_a_container_uses(engine: Engine, busybox: object) -> None:
    image = engine.image_store.resolve("busybox")
    engine.images.users = lambda d: [ContainerUse("c" * 64, "web", running=d == image.id)]
    with pytest.raises(ConflictError, match="must force"):
        engine.images.remove("busybox")
    with pytest.raises(ConflictError, match="cannot be forced"):
        engine.images.remove(str(image.id), force=True)
    engine.images.users = lambda d: [ContainerUse("c" * 64, "web", running=False)]
    with pytest.raises(ConflictError, match="stopped container"):
        engine.images.remove(str(image.id))
    engine.images.remove(str(image.id), force=True)
    with pytest.raises(ImageNotFoundError):
        engine.image_store.resolve("busybox")


def test_rmi_of_one_of_several_tags_only_untags_an_image_in_use(
    engine: Engine, busybox: object
) -> None:
    image = engine.image_store.resolve("busybox")
    engine.image_store.tag(image.id, parse_reference("mine:v1"))
    engine.image_store.tag(image.id, parse_reference("mine:v2"))
    engine.images.users = lambda d: [ContainerUse("c" * 64, "web", running=True)]
    events = engine.images.remove("mine:v1")
    assert [(e.action, e.subject) for e in events] == [("Untagged", "mine:v1")]
    events = engine.images.remove("busybox")
    assert [(e.action, e.subject) for e in events] == [("Untagged", "busybox:latest")]
    refused = r'reference "mine:v2" \(must force\) - container c{12} is using'
    with pytest.raises(ConflictError, match=refused):
        engine.images.remove("mine:v2")  # the last name of an image a container uses
    assert [t.familiar() for t in engine.image_store.resolve(str(image.id)).tags] == ["mine:v2"]
    events = engine.images.remove("mine:v2", force=True)
    assert [(e.action, e.subject) for e in events] == [("Untagged", "mine:v2")]
    assert engine.image_store.resolve(str(image.id)).tags == ()  # kept: a container runs it


def test_shared_layers_are_kept_while_used(engine: Engine) -> None:
    _import(engine, "one:1", {"a": b"1"})
    data = make_tar([file("a", b"1")])
    import_rootfs(engine.images, io.BytesIO(data), names=[parse_reference("two:1")])
    assert len(list(engine.snapshotter.walk())) == 1
    engine.images.remove("one:1")
    assert len(list(engine.snapshotter.walk())) == 1
    assert engine.image_store.resolve("two:1")


def test_prune_removes_dangling_then_all(engine: Engine) -> None:
    _import(engine, "keep:1", {"k": b"k"})
    dangling = import_rootfs(engine.images, io.BytesIO(make_tar([file("d")])))
    events, reclaimed = engine.images.prune()
    assert [(e.action, e.subject) for e in events] == [("Deleted", str(dangling.id))]  # type: ignore[attr-defined]
    assert reclaimed > 0
    assert [i.tags[0].familiar() for i in engine.image_store.all()] == ["keep:1"]
    engine.images.prune(all_images=True)
    assert engine.image_store.all() == []


def test_import_applies_changes(engine: Engine) -> None:
    data = gzip.compress(make_tar([file("app/run.sh", b"echo hi")]))
    image = import_rootfs(
        engine.images,
        io.BytesIO(data),
        names=[parse_reference("app:1")],
        changes=[
            'CMD ["/app/run.sh"]',
            "ENV A=1 B=two",
            "EXPOSE 8080",
            "WORKDIR /app",
            "LABEL team=core",
            "USER nobody",
        ],
        message="first",
    )
    cfg = image.config.config
    assert cfg.cmd == ("/app/run.sh",)
    assert cfg.env == ("A=1", "B=two")
    assert cfg.exposed_ports == ("8080/tcp",)
    assert (cfg.working_dir, cfg.user, dict(cfg.labels)) == ("/app", "nobody", {"team": "core"})
    assert image.config.history[0].comment == "first"
    with pytest.raises(CaisError, match="RUN is not one of"):
        import_rootfs(engine.images, io.BytesIO(data), changes=["RUN true"])


def test_save_then_load_round_trip(engine: Engine, busybox: object, tmp_path: Path) -> None:
    image = engine.image_store.resolve("busybox")
    out = io.BytesIO()
    save(engine.images, [(image, list(image.tags))], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert {"oci-layout", "index.json", "manifest.json"} <= set(tar.getnames())
        member = tar.extractfile("manifest.json")
        assert member is not None
        manifest = json.loads(member.read())
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    other = Engine(engine.settings.__class__(root=tmp_path / "r2", runroot=tmp_path / "run2"))
    loaded = load(other.images, io.BytesIO(out.getvalue()))
    assert [(x.image.id, [n.familiar() for n in x.names]) for x in loaded] == [
        (image.id, ["busybox:latest"])
    ]
    assert other.image_store.resolve("busybox").config == image.config
    again = load(other.images, io.BytesIO(gzip.compress(out.getvalue())))
    assert again[0].image.id == image.id


def _archive(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _docker_archive(
    layer: bytes, *, diff_id: str | None = None, config_extra: dict[str, object] | None = None
) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id or str(Digest.from_bytes(layer))]},
        **(config_extra or {}),
    }
    return _archive(
        {
            "layer.tar": layer,
            "config.json": json.dumps(config).encode(),
            "manifest.json": json.dumps(
                [{"Config": "config.json", "RepoTags": ["bad:1"], "Layers": ["layer.tar"]}]
            ).encode(),
        }
    )


def _good_save(engine: Engine) -> bytes:
    bootstrap(engine.images, "busybox")
    image = engine.image_store.resolve("busybox")
    out = io.BytesIO()
    save(engine.images, [(image, list(image.tags))], out)
    return out.getvalue()


_LAYER = make_tar([file("a")])

BAD_ARCHIVES = {
    "garbled": (lambda e: b"\x00garbage" * 700, ArchiveError, "not a valid image archive"),
    "truncated": (lambda e: _good_save(e)[:5000], ArchiveError, "truncated"),
    "no manifest": (lambda e: _archive({"hello": b"x"}), ArchiveError, "neither index.json"),
    "diff id mismatch": (
        lambda e: _docker_archive(make_tar([file("a")]), diff_id="sha256:" + "0" * 64),
        ArchiveError,
        "does not match the diff ID",
    ),
    "missing layer file": (
        lambda e: _archive(
            {
                "config.json": b"{}",
                "manifest.json": json.dumps(
                    [{"Config": "config.json", "Layers": ["nope.tar"]}]
                ).encode(),
            }
        ),
        ArchiveError,
        "does not contain",
    ),
    "blob digest mismatch": (
        lambda e: _archive({"blobs/sha256/" + "1" * 64: b"tampered", "index.json": b"{}"}),
        ArchiveError,
        "digest mismatch",
    ),
    "index names a missing blob": (
        lambda e: _archive(
            {
                "oci-layout": b"{}",
                "index.json": json.dumps(
                    {
                        "schemaVersion": 2,
                        "manifests": [
                            {
                                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": "sha256:" + "2" * 64,
                                "size": 10,
                            }
                        ],
                    }
                ).encode(),
            }
        ),
        ArchiveError,
        "lacks",
    ),
    "manifest names a missing blob": (
        lambda e: _oci_archive_with_layer_type(omit_layer=True),
        ManifestError,
        f"manifest names blob {Digest.from_bytes(_LAYER)}, which is missing",
    ),
    "blob size differs from the manifest": (
        lambda e: _oci_archive_with_layer_type(size_delta=7),
        ManifestError,
        f"blob {Digest.from_bytes(_LAYER)} is {len(_LAYER)} bytes, "
        f"the manifest says {len(_LAYER) + 7}",
    ),
    "unknown media type": (
        lambda e: _oci_archive_with_layer_type("application/x-unknown"),
        ManifestError,
        "unknown layer media type",
    ),
    "malicious layer": (
        lambda e: _docker_archive(make_tar(MALICIOUS["dotdot"])),
        LayerError,
        "outside the root",
    ),
    "symlink write layer": (
        lambda e: _docker_archive(make_tar(MALICIOUS["absolute-symlink-write"])),
        LayerError,
        "symlink",
    ),
    "hardlink to shadow": (
        lambda e: _docker_archive(make_tar(MALICIOUS["hardlink-to-shadow"])),
        LayerError,
        "/etc/shadow",
    ),
}


def _oci_archive_with_layer_type(
    media_type: str = "application/vnd.oci.image.layer.v1.tar",
    *,
    omit_layer: bool = False,
    size_delta: int = 0,
) -> bytes:
    """An OCI archive of one image; its layer may be left out or announced with a wrong size."""
    layer = _LAYER
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [str(Digest.from_bytes(layer))]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": str(Digest.from_bytes(config)),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": media_type,
                    "digest": str(Digest.from_bytes(layer)),
                    "size": len(layer) + size_delta,
                }
            ],
        }
    ).encode()
    contents = (config, manifest) if omit_layer else (layer, config, manifest)
    blobs = {f"blobs/sha256/{Digest.from_bytes(b).encoded}": b for b in contents}
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": str(Digest.from_bytes(manifest)),
                    "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": "x/y:1"},
                }
            ],
        }
    ).encode()
    return _archive({"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', **blobs, "index.json": index})


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_bad_archives_leave_the_store_as_it_was(engine: Engine, case: str) -> None:
    make, error, needle = BAD_ARCHIVES[case]
    data = make(engine)
    before = state(engine)
    with pytest.raises(error) as exc:  # type: ignore[call-overload]
        load(engine.images, io.BytesIO(data))
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)
    assert state(engine) == before


def test_gc_keeps_everything_images_need(engine: Engine, busybox: object) -> None:
    _import(engine, "other:1", {"o": b"o"})
    before = state(engine)
    result = engine.images.gc()
    assert (result.blobs, result.snapshots) == (0, 0)
    assert state(engine) == before
    stray = engine.content.put(b"stray").digest
    assert engine.images.gc().blobs == 1
    assert not engine.content.exists(stray)


@pytest.mark.parametrize("shared", [False, True], ids=["new layer", "layer of a removed image"])
def test_gc_between_unpack_and_record_keeps_the_layers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """A GC (or an rmi of the only other image with the layer) while a load is between
    unpacking and recording its image must not take the layer away from it."""
    layer = make_tar([file("a", b"payload")])
    if shared:
        import_rootfs(engine.images, io.BytesIO(layer), names=[parse_reference("one:1")])
    record = engine.image_store.add

    def gc_then_record(*args: object, **kwargs: object) -> object:
        if shared:
            engine.images.remove("one:1")
        else:
            engine.images.gc()
        return record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.image_store, "add", gc_then_record)
    load(engine.images, io.BytesIO(_docker_archive(layer)))
    monkeypatch.undo()
    image = engine.image_store.resolve("bad:1")
    [top] = chain_ids(image.config.diff_ids)
    assert (engine.snapshotter.directory(str(top)) / "a").read_bytes() == b"payload"
    assert engine.images.gc().snapshots == 0  # the load's lease is gone; the record keeps it
    assert (engine.snapshotter.directory(str(top)) / "a").read_bytes() == b"payload"


def test_debian_mirror_comes_from_apts_own_sources(tmp_path: Path) -> None:
    from cais.images.bootstrap import DEBIAN_MIRROR, host_debian_mirror

    assert host_debian_mirror(tmp_path) == DEBIAN_MIRROR
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "other.list").write_text(
        "deb https://packages.example.com/apt stable main\n"
    )
    assert host_debian_mirror(tmp_path) == DEBIAN_MIRROR
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.local/debian/\nSuites: bookworm\n"
    )
    assert host_debian_mirror(tmp_path) == "http://mirror.local/debian"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://ftp.example.org/debian bookworm main\n"
    )
    assert host_debian_mirror(tmp_path) == "http://ftp.example.org/debian"


def test_bootstrap_refuses_what_it_cannot_make(engine: Engine) -> None:
    with pytest.raises(CaisError, match="cannot bootstrap 'alpine'"):
        bootstrap(engine.images, "alpine")
