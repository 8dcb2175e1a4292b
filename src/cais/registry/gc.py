"""Garbage collection: delete blobs no manifest references, without racing a push.

Mark: every manifest revision in every repository, and every blob those manifests name
(config, layers, index children). Also kept: blobs written, or linked into a repository,
within the last ``grace`` seconds — a push uploads its layers before it puts the manifest
that references them, and those layers must survive until it does. Sweep: the rest.

Mark and sweep run under the exclusive commit lock, while every blob or manifest commit
takes it shared; so a manifest can never be checked against a blob that GC then deletes.
Uploads in progress live apart (``_uploads``) and are never collected, unless older than
``upload_ttl`` (abandoned).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass

from cais.oci.digest import Digest, DigestError
from cais.oci.manifest import Index, ManifestError, parse_manifest
from cais.registry import paths
from cais.registry.registry import Registry
from cais.registry.storage import PathNotFoundError

log = logging.getLogger(__name__)

DEFAULT_GRACE = 3600.0
DEFAULT_UPLOAD_TTL = 7 * 24 * 3600.0


@dataclass(frozen=True)
class GcReport:
    manifests: int
    blobs_kept: int
    blobs_deleted: tuple[str, ...]
    bytes_freed: int
    uploads_deleted: int
    dry_run: bool


def _digest_from_path(path: str) -> Digest | None:
    """``…/<alg>/<hex>/link`` or ``/blobs/<alg>/<xx>/<hex>/data`` → the digest."""
    parts = path.split("/")
    if parts[1] == "blobs":
        algorithm, encoded = parts[2], parts[4]
    else:
        algorithm, encoded = parts[-3], parts[-2]
    try:
        return Digest.parse(f"{algorithm}:{encoded}")
    except DigestError:
        return None


def _mark(registry: Registry, now: float, grace: float) -> tuple[set[Digest], int]:
    driver = registry.driver
    marked: set[Digest] = set()
    manifests = 0
    for name in registry.repositories():
        with contextlib.suppress(PathNotFoundError):
            for info in driver.walk(paths.layers(name)):
                digest = _digest_from_path(info.path)
                if digest is not None and now - info.mod_time < grace:
                    marked.add(digest)  # linked recently: a push may still reference it
        with contextlib.suppress(PathNotFoundError):
            for info in driver.walk(paths.revisions(name)):
                digest = _digest_from_path(info.path)
                if digest is None:
                    continue
                manifests += 1
                marked.add(digest)
                try:
                    revision = json.loads(driver.get_content(info.path))
                    parsed = parse_manifest(registry.blobs.read(digest), revision.get("mediaType"))
                except (PathNotFoundError, ManifestError, ValueError):
                    log.warning("gc: cannot read manifest %s in %s", digest, name)
                    continue
                if isinstance(parsed, Index):
                    marked.update(child.digest for child in parsed.manifests)
                else:
                    marked.add(parsed.config.digest)
                    marked.update(layer.digest for layer in parsed.layers)
    return marked, manifests


def _expired_uploads(registry: Registry, now: float, ttl: float) -> list[str]:
    found = []
    for name in registry.repositories():
        with contextlib.suppress(PathNotFoundError):
            for entry in registry.driver.list(paths.uploads(name)):
                try:
                    started = registry.driver.stat(f"{entry}/startedat").mod_time
                except PathNotFoundError:
                    started = registry.driver.stat(entry).mod_time
                if now - started > ttl:
                    found.append(entry)
    return found


def collect_garbage(
    registry: Registry,
    *,
    dry_run: bool = False,
    grace: float = DEFAULT_GRACE,
    upload_ttl: float = DEFAULT_UPLOAD_TTL,
) -> GcReport:
    """Delete unreferenced blobs (and links to them); report what was (or would be) freed."""
    driver = registry.driver
    with registry.lock.exclusive():
        now = registry.clock()
        marked, manifests = _mark(registry, now, grace)
        doomed: list[tuple[Digest, int]] = []
        kept = 0
        with contextlib.suppress(PathNotFoundError):
            for info in driver.walk(paths.BLOBS):
                digest = _digest_from_path(info.path)
                if digest is None:
                    continue
                if digest in marked or now - info.mod_time < grace:
                    kept += 1
                else:
                    doomed.append((digest, info.size))
        uploads = _expired_uploads(registry, now, upload_ttl)
        if not dry_run:
            doomed_set = {d for d, _ in doomed}
            for digest, _ in doomed:
                with contextlib.suppress(PathNotFoundError):
                    driver.delete(paths.blob_dir(digest))
            for name in registry.repositories():
                with contextlib.suppress(PathNotFoundError):
                    for info in list(driver.walk(paths.layers(name))):
                        digest = _digest_from_path(info.path)
                        if digest in doomed_set:
                            with contextlib.suppress(PathNotFoundError):
                                driver.delete(info.path.rsplit("/", 1)[0])
            for entry in uploads:
                with contextlib.suppress(PathNotFoundError):
                    driver.delete(entry)
    return GcReport(
        manifests=manifests,
        blobs_kept=kept,
        blobs_deleted=tuple(str(d) for d, _ in doomed),
        bytes_freed=sum(size for _, size in doomed),
        uploads_deleted=len(uploads),
        dry_run=dry_run,
    )
