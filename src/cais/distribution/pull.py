"""Pull: reference → manifest (an index resolved to this platform) → blobs → image record.

Every blob goes through the content store's writer, which checks digest and size on commit,
so no unverified byte is ever visible. Layers download concurrently, each into a resumable
writer named after its digest: a pull that is interrupted (connection lost, Ctrl-C, kill)
leaves the bytes it had, and the next pull asks for the rest with a Range request. Blobs
already in the store are not fetched again.

The image is recorded with ``ImageService.add_manifest`` inside ``ingest_session``: if the
pull fails on bad content (a tampered blob, an unknown manifest), the blobs it added go
away with it and nothing is recorded. Verified layers of an *interrupted* pull are held by
a lease for a day instead, so that the retry need not fetch them again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cais.content.store import DigestMismatchError, Lease, SizeMismatchError
from cais.distribution.authfile import CredentialSource
from cais.distribution.client import FetchedManifest, RegistryClient
from cais.distribution.errors import (
    ContentMismatchError,
    DistributionError,
    NoMatchingPlatformError,
    RegistryResponseError,
    RegistryUnreachableError,
    TooManyRequestsError,
    TransferInterruptedError,
    UnsupportedContentError,
)
from cais.distribution.progress import NoProgress, TransferProgress
from cais.distribution.sources import BlobSources
from cais.images.store import MAX_CONFIG_BYTES, Image
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.oci.manifest import Descriptor, Index, Manifest, parse_manifest
from cais.oci.platform import Platform, best_match, host_platform
from cais.oci.reference import Reference, parse_reference

if TYPE_CHECKING:
    import httpx

    from cais.engine import Engine

DEFAULT_CONCURRENCY = 3  # Docker's max-concurrent-downloads
DEFAULT_RETRIES = 3
_MAX_INDEX_DEPTH = 4


class PullCancelledError(DistributionError):
    """Another layer of the same pull failed; this one stopped where it was."""


@dataclass(frozen=True)
class PullResult:
    """What a pull did. ``digest`` is what the reference resolved to at the registry (an
    index's digest for a multi-arch image): the one ``RepoDigests`` records.
    """

    image: Image
    reference: Reference
    digest: Digest
    updated: bool
    fetched_bytes: int


def is_interruption(exc: BaseException) -> bool:
    """Failures a retry may get past (keep verified bytes), as opposed to bad content."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, TransferInterruptedError)):
        return True
    if isinstance(exc, (RegistryUnreachableError, TooManyRequestsError, PullCancelledError)):
        return True
    return isinstance(exc, RegistryResponseError) and exc.status >= 500


class Puller:
    """Pulls images from registries into one engine's stores."""

    def __init__(
        self,
        engine: Engine,
        *,
        credentials: CredentialSource | None = None,
        tls_verify: bool = True,
        platform: Platform | None = None,
        progress: TransferProgress | None = None,
        transport: httpx.BaseTransport | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.engine = engine
        self.credentials = credentials
        self.tls_verify = tls_verify
        self.platform = platform or host_platform()
        self.progress: TransferProgress = progress or NoProgress()
        self.transport = transport
        self.concurrency = max(1, concurrency)
        self.retries = retries

    def client(self, registry: str) -> RegistryClient:
        return RegistryClient(
            registry,
            credentials=self.credentials,
            tls_verify=self.tls_verify,
            transport=self.transport,
        )

    def pull(self, reference: Reference | str) -> PullResult:
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        with self.client(ref.domain) as client:
            return _PullJob(self, client, ref).run()


class _PullJob:
    """One pull of one reference (the state a Puller must not keep between pulls)."""

    def __init__(self, puller: Puller, client: RegistryClient, ref: Reference) -> None:
        self.puller = puller
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.images = puller.engine.images
        self.content = puller.engine.content
        self.progress = puller.progress
        self.stop = threading.Event()
        self.keep_partial = True
        self.completed: list[Digest] = []
        self.fetched = 0
        self._count_lock = threading.Lock()

    def run(self) -> PullResult:
        ref = self.ref
        top = self.client.get_manifest(self.repo, str(ref.digest) if ref.digest else str(ref.tag))
        self.progress.note(f"{ref.tag or ref.digest}: Pulling from {ref.path}")
        fetched = self._resolve(top)
        manifest = parse_manifest(fetched.data, _declared(fetched.media_type))
        if not isinstance(manifest, Manifest) or not manifest.is_image:
            raise UnsupportedContentError(
                f"{ref} is not a container image (config type {_config_type(manifest)})"
            )
        digest_ref = Reference(ref.domain, ref.path, digest=top.digest)
        names = [ref.with_tag(ref.tag), digest_ref] if ref.tag and not ref.digest else [digest_ref]
        before = self.images.store.lookup_name(names[0])
        with self.images.ingest_session() as lease:
            try:
                self._fetch_config(manifest.config, lease)
                self._fetch_layers(manifest.layers, lease)
                for layer in manifest.layers:
                    if layer.digest in self.completed:
                        self.progress.status(layer.digest.short, "Extracting")
                image = self.images.add_manifest(fetched.data, names=names, lease=lease)
            except BaseException as exc:
                if is_interruption(exc):
                    self._keep_completed()
                raise
        for layer in manifest.layers:
            if layer.digest in self.completed:
                self.progress.status(layer.digest.short, "Pull complete")
        blobs = [manifest.config.digest, *(layer.digest for layer in manifest.layers)]
        BlobSources(self.puller.engine.db).remember(ref.domain, self.repo, blobs)
        return PullResult(image, ref, top.digest, before != image.id, self.fetched)

    # manifests

    def _resolve(self, fetched: FetchedManifest) -> FetchedManifest:
        """Follow indexes down to the image manifest for the wanted platform."""
        wanted = self.puller.platform
        for _ in range(_MAX_INDEX_DEPTH):
            parsed = parse_manifest(fetched.data, _declared(fetched.media_type))
            if not isinstance(parsed, Index):
                return fetched
            candidates: list[tuple[Platform, Descriptor]] = [
                (d.platform, d)
                for d in parsed.manifests
                if d.platform is not None and d.media_type in mt.MANIFESTS
            ]
            chosen = best_match(candidates, wanted)
            if chosen is None:
                offered = ", ".join(sorted({str(p) for p, _ in candidates})) or "none"
                raise NoMatchingPlatformError(
                    f"no image for {wanted} in {self.ref} (it has: {offered})"
                )
            assert isinstance(chosen, Descriptor)
            fetched = self.client.get_manifest(self.repo, str(chosen.digest))
        raise UnsupportedContentError(f"{self.ref}: indexes nest too deeply")

    # blobs

    def _have(self, desc: Descriptor, lease: Lease) -> bool:
        """True if the store has the blob (it is then held by the lease against GC)."""
        if not self.content.hold(lease, desc.digest):
            return False
        info = self.content.info(desc.digest)
        return info is not None and info.size == desc.size

    def _fetch_config(self, desc: Descriptor, lease: Lease) -> None:
        if self._have(desc, lease):
            return
        if desc.size > MAX_CONFIG_BYTES:
            raise ContentMismatchError(f"image config {desc.digest} is {desc.size} bytes: too big")
        data = self.client.fetch_blob(self.repo, desc.digest, max_size=MAX_CONFIG_BYTES)
        if len(data) != desc.size:
            raise ContentMismatchError(
                f"image config {desc.digest} is {len(data)} bytes, the manifest says {desc.size}"
            )
        self.content.put(data, expected=desc.digest, lease=lease)
        self._count(len(data))
        self._completed(desc.digest)

    def _fetch_layers(self, layers: tuple[Descriptor, ...], lease: Lease) -> None:
        todo: list[Descriptor] = []
        seen: set[Digest] = set()
        for desc in layers:
            if desc.digest in seen:
                continue
            seen.add(desc.digest)
            if self._have(desc, lease):
                self.progress.add(desc.digest.short, total=desc.size, status="Already exists")
            else:
                self.progress.add(desc.digest.short, total=desc.size, status="Pulling fs layer")
                todo.append(desc)
        if not todo:
            return
        pool = ThreadPoolExecutor(self.puller.concurrency, thread_name_prefix="cais-pull")
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(self._fetch_layer, desc, lease) for desc in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f.exception() for f in done if f.exception() is not None]
            if failed:
                # siblings keep their partial bytes only if a retry could use them
                self.keep_partial = all(is_interruption(e) for e in failed if e is not None)
                self.stop.set()
                wait(futures)
                errors = [f.exception() for f in futures if f.exception() is not None]
                first = next((e for e in errors if not isinstance(e, PullCancelledError)), None)
                raise first or errors[0]  # type: ignore[misc]
        except BaseException:
            self.stop.set()  # Ctrl-C while waiting: keep_partial stays True
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_layer(self, desc: Descriptor, lease: Lease) -> None:
        key = desc.digest.short
        with self._layer_lock(desc.digest):
            if self._have(desc, lease):  # another pull got it meanwhile
                self.progress.status(key, "Download complete")
                self._completed(desc.digest)
                return
            attempts = 0
            while True:
                try:
                    self._download(desc, lease)
                    break
                except TransferInterruptedError:
                    attempts += 1
                    if attempts > self.puller.retries or self.stop.is_set():
                        raise
                    self.progress.status(key, f"Retrying ({attempts})")
                    time.sleep(min(0.2 * 2**attempts, 2.0))
        self.progress.status(key, "Download complete")
        self._completed(desc.digest)

    def _download(self, desc: Descriptor, lease: Lease) -> None:
        """One attempt: resume the ingest of this blob from where it stands."""
        key = desc.digest.short
        ref = f"pull:{desc.digest}"
        writer = self.content.writer(lease=lease, ref=ref, expected=desc.digest)
        try:
            if writer.offset > desc.size:
                writer.abort()
                writer = self.content.writer(lease=lease, ref=ref, expected=desc.digest)
            with self.client.open_blob(self.repo, desc.digest, offset=writer.offset) as blob:
                if blob.offset != writer.offset:  # the registry ignored the Range
                    writer.abort()
                    writer = self.content.writer(lease=lease, ref=ref, expected=desc.digest)
                self.progress.add(key, total=desc.size, status="Downloading")
                self.progress.advance(key, writer.offset)
                self.progress.status(key, "Downloading", transferring=True)
                for chunk in blob.chunks:
                    if self.stop.is_set():
                        raise PullCancelledError(f"pull of {desc.digest} stopped")
                    writer.write(chunk)
                    self._count(len(chunk))
                    self.progress.advance(key, len(chunk))
                    if writer.offset > desc.size:
                        raise ContentMismatchError(
                            f"layer {desc.digest} from {self.client.registry}/{self.repo} is "
                            f"larger than the {desc.size} bytes its manifest says"
                        )
            self.progress.status(key, "Verifying Checksum")
            try:
                writer.commit(desc.digest, desc.size)
            except (DigestMismatchError, SizeMismatchError) as exc:
                raise ContentMismatchError(
                    f"layer {desc.digest} from {self.client.registry}/{self.repo}: {exc}"
                ) from None
        except BaseException as exc:
            cancelled = isinstance(exc, PullCancelledError)
            if (cancelled and self.keep_partial) or (not cancelled and is_interruption(exc)):
                writer.suspend()  # keep the bytes for a resume
            else:
                writer.abort()
            raise

    @contextlib.contextmanager
    def _layer_lock(self, digest: Digest) -> Iterator[None]:
        """One download of a blob at a time on this machine (they would share an ingest)."""
        locks = self.images.locks
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            locks / f"pull-{digest.algorithm}-{digest.encoded}.lock", os.O_RDWR | os.O_CREAT
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _count(self, amount: int) -> None:
        with self._count_lock:
            self.fetched += amount

    def _completed(self, digest: Digest) -> None:
        with self._count_lock:
            self.completed.append(digest)

    def _keep_completed(self) -> None:
        """Hold the verified layers of an interrupted pull for a day (the retry reuses them)."""
        with self._count_lock:
            done = list(self.completed)
        if not done:
            return
        lease = self.content.create_lease()
        for digest in done:
            self.content.hold(lease, digest)


def _declared(media_type: str) -> str | None:
    return media_type if media_type in mt.MANIFESTS else None


def _config_type(parsed: Manifest | Index) -> str:
    return parsed.config.media_type if isinstance(parsed, Manifest) else parsed.media_type
