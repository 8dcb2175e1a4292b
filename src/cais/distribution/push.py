"""Push: a local image → blobs the registry lacks → the manifest, last.

For each blob: HEAD it (the registry has it: skip); else ask for a cross-repository mount
from a repository of the same registry known to hold it (see ``sources.py``); else upload
it, in one PUT or, past ``chunk_size``, in PATCHed chunks. Layers go concurrently.

Layers stored uncompressed (after ``cais load`` of a docker-archive, say) are gzipped
first, as Docker does, which changes the manifest: the pushed manifest is then recorded as
the image's manifest (same image ID: the config does not change) with
``repository@digest`` as a RepoDigest, so the next push of it sends the same bytes.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cais.content.store import Lease
from cais.distribution.authfile import CredentialSource
from cais.distribution.client import RegistryClient
from cais.distribution.errors import (
    DeniedError,
    DistributionError,
    RegistryResponseError,
    UnauthorizedError,
)
from cais.distribution.progress import NoProgress, TransferProgress
from cais.distribution.sources import BlobSources
from cais.errors import InvalidArgumentError
from cais.images.store import Image
from cais.layers.compression import compressed_writer
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.oci.manifest import Descriptor, Manifest, parse_manifest
from cais.oci.reference import Reference, ReferenceError, parse_reference

if TYPE_CHECKING:
    import httpx

    from cais.engine import Engine

DEFAULT_CONCURRENCY = 5  # Docker's max-concurrent-uploads
DEFAULT_CHUNK_SIZE = 32 << 20
GZIP_LEVEL = 6  # gzip's default, as Docker compresses layers on push
_READ = 1 << 20


@dataclass(frozen=True)
class PushResult:
    """``digest`` and ``size`` are the pushed manifest's, as ``docker push`` prints them."""

    reference: Reference
    digest: Digest
    size: int
    pushed_bytes: int
    image: Image


class Pusher:
    """Pushes local images of one engine to registries."""

    def __init__(
        self,
        engine: Engine,
        *,
        credentials: CredentialSource | None = None,
        tls_verify: bool = True,
        progress: TransferProgress | None = None,
        transport: httpx.BaseTransport | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        gzip_level: int = GZIP_LEVEL,
    ) -> None:
        self.engine = engine
        self.credentials = credentials
        self.tls_verify = tls_verify
        self.progress: TransferProgress = progress or NoProgress()
        self.transport = transport
        self.concurrency = max(1, concurrency)
        self.chunk_size = max(1, chunk_size)
        self.gzip_level = gzip_level

    def push(self, image: str | Image, destination: Reference | str | None = None) -> PushResult:
        """Push ``image`` (a name, an ID or an Image) to ``destination`` (default: its name)."""
        local = self.engine.image_store.resolve(image) if isinstance(image, str) else image
        if destination is None:
            if not isinstance(image, str):
                raise InvalidArgumentError("push needs a destination for an image given by value")
            destination = image
        try:
            dest = parse_reference(destination) if isinstance(destination, str) else destination
        except ReferenceError as exc:
            raise InvalidArgumentError(f"cannot push to {destination!r}: {exc}") from None
        if dest.digest is not None:
            raise InvalidArgumentError(f"cannot push to a digest reference: {dest}")
        dest = dest.with_tag(dest.tag or "latest")
        with RegistryClient(
            dest.domain,
            credentials=self.credentials,
            tls_verify=self.tls_verify,
            transport=self.transport,
        ) as client:
            return _PushJob(self, client, local, dest).run()


class _PushJob:
    def __init__(self, pusher: Pusher, client: RegistryClient, image: Image, dest: Reference):
        self.pusher = pusher
        self.client = client
        self.image = image
        self.dest = dest
        self.repo = dest.path
        self.content = pusher.engine.content
        self.images = pusher.engine.images
        self.sources = BlobSources(pusher.engine.db)
        self.progress = pusher.progress
        self.pushed = 0
        self._lock = threading.Lock()

    def run(self) -> PushResult:
        self.progress.note(f"The push refers to repository [{self.dest.repository}]")
        data = self.content.read(self.image.manifest_digest)
        manifest = parse_manifest(data)
        if not isinstance(manifest, Manifest):
            raise DistributionError(f"image {self.image.short_id} has no image manifest")
        for desc in (manifest.config, *manifest.layers):
            if self.content.info(desc.digest) is None and not desc.urls:
                raise DistributionError(
                    f"blob {desc.digest} of image {self.image.short_id} is missing locally"
                )
        with self.images.ingest_session() as lease:
            layers = self._push_blobs(manifest, lease)
            if layers != manifest.layers:
                manifest = replace(manifest, layers=layers)
                data = manifest.to_bytes()
            digest = self.client.put_manifest(
                self.repo, str(self.dest.tag), data, manifest.media_type
            )
            repo_digest = Reference(self.dest.domain, self.dest.path, digest=digest)
            image = self.images.add_manifest(data, names=[repo_digest], lease=lease)
        self.sources.remember(
            self.dest.domain,
            self.repo,
            [manifest.config.digest, *(layer.digest for layer in layers)],
        )
        return PushResult(self.dest, digest, len(data), self.pushed, image)

    def _push_blobs(self, manifest: Manifest, lease: Lease) -> tuple[Descriptor, ...]:
        for layer in manifest.layers:
            self.progress.add(layer.digest.short, total=layer.size, status="Preparing")
        pool = ThreadPoolExecutor(self.pusher.concurrency, thread_name_prefix="cais-push")
        try:
            config: Future[Descriptor] = pool.submit(self._push_blob, manifest.config, lease, "")
            futures = [
                pool.submit(self._push_layer, layer, lease, manifest.media_type)
                for layer in manifest.layers
            ]
            every: list[Future[Descriptor]] = [config, *futures]
            done, _ = wait(every, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    raise error
            return tuple(f.result() for f in futures)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _push_layer(self, layer: Descriptor, lease: Lease, manifest_type: str) -> Descriptor:
        key = layer.digest.short
        if layer.urls and layer.media_type in (mt.DOCKER_FOREIGN_LAYER, mt.OCI_LAYER_NONDIST_GZIP):
            self.progress.status(key, "Skipped foreign layer")
            return layer
        if mt.layer_compression(layer.media_type) == "":
            layer = self._compress(layer, lease, manifest_type)
        return self._push_blob(layer, lease, key)

    def _compress(self, layer: Descriptor, lease: Lease, manifest_type: str) -> Descriptor:
        """gzip an uncompressed layer into the store (deterministic bytes: same digest)."""
        with self.content.open(layer.digest) as source, self.content.writer(lease=lease) as blob:
            gz = compressed_writer(blob, "gzip", self.pusher.gzip_level)
            while chunk := source.read(_READ):
                gz.write(chunk)
            gz.close()
            info = blob.commit()
        media_type = (
            mt.DOCKER_LAYER_GZIP if manifest_type == mt.DOCKER_MANIFEST else mt.OCI_LAYER_GZIP
        )
        return Descriptor(media_type, info.digest, info.size, annotations=layer.annotations)

    def _push_blob(self, desc: Descriptor, lease: Lease, key: str) -> Descriptor:
        """Make sure the registry has ``desc``; ``key`` is its progress line ("" for none)."""
        self.content.hold(lease, desc.digest)
        if self.client.blob_size(self.repo, desc.digest) is not None:
            self._status(key, "Layer already exists", total=desc.size)
            return desc
        session = None
        candidates = self._mount_sources(desc.digest)
        for i, source in enumerate(candidates):
            try:
                session = self.client.start_upload(self.repo, mount=desc.digest, source=source)
            except (UnauthorizedError, DeniedError):
                self.sources.forget(self.dest.domain, source, desc.digest)
                continue
            if session is None:
                self._status(key, f"Mounted from {source}", total=desc.size)
                return desc
            if i + 1 < len(candidates):
                self.client.cancel_upload(session)
                session = None
        if session is None:
            session = self.client.start_upload(self.repo)
            if session is None:
                raise DistributionError(f"{self.dest.domain} opened no upload for {desc.digest}")
        self._status(key, "Pushing", total=desc.size, transferring=True)

        def advance(amount: int) -> None:
            with self._lock:
                self.pushed += amount
            if key:
                self.progress.advance(key, amount)

        try:
            self.client.upload_blob(
                session,
                self.content.path(desc.digest),
                digest=desc.digest,
                size=desc.size,
                chunk_size=self.pusher.chunk_size,
                progress=advance,
            )
        except RegistryResponseError:
            self.client.cancel_upload(session)
            raise
        self._status(key, "Pushed", total=desc.size)
        return desc

    def _mount_sources(self, digest: Digest) -> list[str]:
        """Repositories of the destination registry that should hold ``digest``."""
        found = self.sources.repositories(self.dest.domain, digest, exclude=self.repo)
        for name in (*self.image.repo_digests, *self.image.tags):
            if (
                name.domain == self.dest.domain
                and name.path != self.repo
                and name.path not in found
            ):
                found.append(name.path)
        return found[:3]

    def _status(self, key: str, status: str, *, total: int, transferring: bool = False) -> None:
        if key:
            self.progress.add(key, total=total, status=status)
            self.progress.status(key, status, transferring=transferring)
