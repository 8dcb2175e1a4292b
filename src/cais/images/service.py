"""Image operations that span the content store, the snapshotter and the image records:
add (validate → unpack → record), remove and prune with Docker's rules, garbage collection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cais.content.store import Lease, LocalContentStore
from cais.errors import ConflictError
from cais.images.store import Image, ImageStore
from cais.images.unpack import layer_size, unpack
from cais.oci import mediatypes as mt
from cais.oci.config import ImageConfig, chain_ids
from cais.oci.digest import Digest
from cais.oci.manifest import Manifest, ManifestError, parse_manifest
from cais.oci.reference import Reference, ReferenceError, parse_reference
from cais.snapshots.types import Kind, Snapshotter


@dataclass(frozen=True)
class ContainerUse:
    """A container that uses an image (the images room only needs these three facts)."""

    id: str
    name: str
    running: bool


@dataclass(frozen=True)
class RemovalEvent:
    """One line of ``rmi``/``prune`` output: ``Untagged: …`` or ``Deleted: …``."""

    action: str  # "Untagged" or "Deleted"
    subject: str


@dataclass(frozen=True)
class GCResult:
    blobs: int
    blob_bytes: int
    snapshots: int


ImageUsers = Callable[[Digest], list[ContainerUse]]


def no_users(_: Digest) -> list[ContainerUse]:
    return []


class ImageService:
    def __init__(
        self,
        store: ImageStore,
        content: LocalContentStore,
        snapshotter: Snapshotter,
        *,
        locks: Path,
        users: ImageUsers = no_users,
    ) -> None:
        self.store = store
        self.content = content
        self.snapshotter = snapshotter
        self.locks = locks
        self.users = users

    # adding

    def add_manifest(
        self,
        manifest_bytes: bytes,
        *,
        names: Iterable[Reference] = (),
        lease: Lease | None = None,
        trusted: bool = False,
        intermediate: bool = False,
    ) -> Image:
        """Validate a manifest whose blobs are in the store, unpack it, record it."""
        manifest = parse_manifest(manifest_bytes)
        if not isinstance(manifest, Manifest):
            raise ManifestError("expected an image manifest, got an index")
        config = self.store.validate(manifest)
        with contextlib.ExitStack() as stack:
            if lease is None:
                lease = stack.enter_context(self.content.lease())
            info = self.content.put(manifest_bytes, lease=lease)
            unpack(
                self.content,
                self.snapshotter,
                manifest,
                config,
                locks=self.locks,
                lease=lease,
                trusted=trusted,
            )
            size = sum(layer_size(self.snapshotter, c) for c in chain_ids(config.diff_ids))
            return self.store.add(
                info.digest, manifest, config, size=size, names=names, intermediate=intermediate
            )

    @contextlib.contextmanager
    def ingest_session(self) -> Iterator[Lease]:
        """A lease for adding images; afterwards, blobs it created that no image uses go away

        (all of them after an error, so a failed load leaves the store as it was).
        """
        lease = self.content.create_lease()
        try:
            yield lease
        finally:
            created = self.content.created_under(lease)
            self.content.release_lease(lease)
            if created:
                self._drop_unreferenced(created)

    def _drop_unreferenced(self, digests: list[Digest]) -> None:
        with self.content.gc_lock():
            keep = self._marked_blobs() | self.content.leased()
            for digest in digests:
                if digest not in keep:
                    with contextlib.suppress(FileNotFoundError):
                        self.content.path(digest).unlink()

    # removing

    def remove(self, text: str, *, force: bool = False) -> list[RemovalEvent]:
        """``rmi``: untag a name, or delete an image by ID, with Docker's conflict rules."""
        image = self.store.resolve(text)
        ref = _as_name(text)
        names = (*image.tags, *image.repo_digests)
        users = self.users(image.id)
        running = [u for u in users if u.running]
        events: list[RemovalEvent] = []
        if ref is not None and ref in names:
            # Docker refuses only when this is the image's last reference (one tag, and
            # digests of its repository): untagging it would leave a container's image dangling
            if users and not force and _single_reference(image.tags, image.repo_digests):
                raise ConflictError(
                    f'conflict: unable to remove repository reference "{ref.familiar()}" '
                    f"(must force) - container {users[0].id[:12]} is using its referenced "
                    f"image {image.short_id}"
                )
            doomed = [ref]
            if ref.tag and not any(t.repository == ref.repository for t in image.tags if t != ref):
                doomed += [d for d in image.repo_digests if d.repository == ref.repository]
            for name in doomed:
                self.store.untag(name)
                events.append(RemovalEvent("Untagged", name.familiar()))
            if any(n not in doomed for n in names) or running:
                return events
        else:
            if len({t.repository for t in image.tags}) > 1 and not force:
                raise ConflictError(
                    f"conflict: unable to delete {image.short_id} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
            if running:
                raise ConflictError(
                    f"conflict: unable to delete {image.short_id} (cannot be forced) - image "
                    f"is being used by running container {running[0].id[:12]}"
                )
            if users and not force:
                raise ConflictError(
                    f"conflict: unable to delete {image.short_id} (must be forced) - image "
                    f"is being used by stopped container {users[0].id[:12]}"
                )
            for name in names:
                self.store.untag(name)
                events.append(RemovalEvent("Untagged", name.familiar()))
        self.store.delete(image.id)
        events.append(RemovalEvent("Deleted", str(image.id)))
        self.gc()
        return events

    def prune(self, *, all_images: bool = False) -> tuple[list[RemovalEvent], int]:
        """Remove dangling images (all unused ones with ``all_images``); bytes reclaimed."""
        events: list[RemovalEvent] = []
        reclaimed = 0
        for image in self.store.all():
            if (image.tags and not all_images) or self.users(image.id):
                continue
            for name in (*image.tags, *image.repo_digests):
                self.store.untag(name)
                events.append(RemovalEvent("Untagged", name.familiar()))
            self.store.delete(image.id)
            events.append(RemovalEvent("Deleted", str(image.id)))
        if events:
            before = self.disk_usage()
            self.gc()
            reclaimed = max(0, before - self.disk_usage())
        return events, reclaimed

    # garbage collection

    def _marked_blobs(self) -> set[Digest]:
        marked: set[Digest] = set()
        for digest in self.store.manifests():
            marked.add(digest)
            with contextlib.suppress(Exception):
                parsed = parse_manifest(self.content.read(digest))
                if isinstance(parsed, Manifest):
                    marked.add(parsed.config.digest)
                    marked.update(layer.digest for layer in parsed.layers)
        return marked

    def _marked_snapshots(self) -> set[str]:
        keep: set[str] = set()
        for image_id in self.store.ids():
            with contextlib.suppress(Exception):
                config = self.store.read_config(image_id)
                keep.update(str(c) for c in chain_ids(config.diff_ids))
        return keep

    def gc(self) -> GCResult:
        """Mark from image records and leases; sweep unreferenced blobs and layer snapshots.

        The GC lock is held across both sweeps: an unpack holds each layer under its lease
        (taking the lock shared) before it looks at it, so nothing in use can go.
        """
        with self.content.gc_lock():
            removed = self.content.sweep(self._marked_blobs())
            snapshots = self._sweep_snapshots(self.content.leased_snapshots())
        return GCResult(len(removed), sum(b.size for b in removed), snapshots)

    def _sweep_snapshots(self, leased: set[str]) -> int:
        keep = self._marked_snapshots() | leased
        removed = 0
        while True:
            infos = list(self.snapshotter.walk())
            parents = {i.parent for i in infos if i.parent}
            victims = [
                i
                for i in infos
                if i.kind is Kind.COMMITTED and i.key not in keep and i.key not in parents
            ]
            if not victims:
                break
            for info in victims:
                self.snapshotter.remove(info.key)
                removed += 1
        removed += self.snapshotter.cleanup()
        return removed

    # figures

    def layer_sizes(self, config: ImageConfig) -> list[int]:
        return [layer_size(self.snapshotter, c) for c in chain_ids(config.diff_ids)]

    def disk_usage(self) -> int:
        """Bytes of unique layers (each shared layer counted once)."""
        total = 0
        for info in self.snapshotter.walk():
            if info.kind is Kind.COMMITTED:
                total += int(info.labels.get("cais.layer.size", "0"))
        return total

    def disk_usage_of(self, images: Iterable[Image]) -> int:
        """Bytes of the unique layers of ``images``."""
        chains: set[Digest] = set()
        for image in images:
            chains.update(chain_ids(image.config.diff_ids))
        return sum(layer_size(self.snapshotter, c) for c in chains)

    def shared_size(self, image: Image, others: list[Image]) -> int:
        mine = set(chain_ids(image.config.diff_ids))
        theirs: set[Digest] = set()
        for other in others:
            if other.id != image.id:
                theirs.update(chain_ids(other.config.diff_ids))
        return sum(layer_size(self.snapshotter, c) for c in mine & theirs)


def _single_reference(tags: Sequence[Reference], digests: Sequence[Reference]) -> bool:
    """Docker's isSingleReference: at most one tag, and every digest of that tag's repository."""
    if len(tags) + len(digests) <= 1:
        return len(tags) + len(digests) == 1
    if len(tags) > 1:
        return False
    single = tags[0] if tags else digests[0]
    repositories = {d.repository for d in digests}
    return repositories == {single.repository}


def _as_name(text: str) -> Reference | None:
    try:
        ref = parse_reference(text)
    except ReferenceError:
        return None
    return ref


def docker_manifest(
    config_digest: Digest, config_size: int, layers: list[tuple[Digest, int, str]]
) -> Manifest:
    """A Docker schema2 manifest for a locally made image (layers: digest, size, compression)."""
    from cais.oci.manifest import Descriptor

    return Manifest(
        media_type=mt.DOCKER_MANIFEST,
        config=Descriptor(mt.DOCKER_CONFIG, config_digest, config_size),
        layers=tuple(Descriptor(mt.docker_layer_type(c), d, s) for d, s, c in layers),
    )


def oci_manifest(
    config_digest: Digest, config_size: int, layers: list[tuple[Digest, int, str]]
) -> Manifest:
    """An OCI image manifest for a locally made image."""
    from cais.oci.manifest import Descriptor

    return Manifest(
        media_type=mt.OCI_MANIFEST,
        config=Descriptor(mt.OCI_CONFIG, config_digest, config_size),
        layers=tuple(Descriptor(mt.oci_layer_type(c), d, s) for d, s, c in layers),
    )
