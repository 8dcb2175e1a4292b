"""Manifests, tags and referrers of repositories, over the shared blob pool.

A manifest is stored as a blob (its exact bytes) plus a *revision* link in each repository
it was pushed to; a tag is a link to a revision; a manifest with a ``subject`` also leaves
a referrer link under the subject's digest, holding the descriptor the referrers API lists.
Everything a manifest references is checked, under the shared commit lock, before any of
it is written.
A tag's check (the hooks may refuse to move it), its write and the hooks' record of the
push happen under the repository's exclusive lock, across threads and processes.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from cais.oci import mediatypes as mt
from cais.oci.digest import Digest
from cais.oci.manifest import Index, Manifest, ManifestError, parse_manifest
from cais.registry import errors as e
from cais.registry import paths
from cais.registry.blobs import BlobStore
from cais.registry.hooks import ManifestEvent, RegistryHooks
from cais.registry.locks import RepositoryLock
from cais.registry.names import check_tag, is_tag, looks_like_digest, parse_digest
from cais.registry.storage import PathNotFoundError

MAX_MANIFEST_SIZE = 4 << 20

MANIFEST_TYPES = frozenset(mt.MANIFESTS)


@dataclass(frozen=True)
class ManifestInfo:
    """A stored manifest's descriptor (and what its subject is, if it has one)."""

    media_type: str
    digest: Digest
    size: int
    subject: Digest | None = None


@dataclass(frozen=True)
class Referrer:
    """One entry of a referrers response: the referring manifest's descriptor."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None
    annotations: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Referrer:
        return cls(
            media_type=doc["mediaType"],
            digest=Digest.parse(doc["digest"]),
            size=int(doc["size"]),
            artifact_type=doc.get("artifactType"),
            annotations=dict(doc.get("annotations") or {}),
        )


def _artifact_type(parsed: Manifest | Index) -> str | None:
    if parsed.artifact_type:
        return parsed.artifact_type
    if isinstance(parsed, Manifest):
        return parsed.config.media_type
    return None


class ManifestStore:
    def __init__(self, blobs: BlobStore, hooks: RegistryHooks, locks: RepositoryLock) -> None:
        self.blobs = blobs
        self.driver = blobs.driver
        self.hooks = hooks
        self.locks = locks

    # --- reading --------------------------------------------------------------------

    def repository_exists(self, name: str) -> bool:
        try:
            self.driver.stat(paths.repository(name))
        except PathNotFoundError:
            return False
        return True

    def _unknown(self, name: str, reference: str) -> e.RegistryError:
        if not self.repository_exists(name):
            return e.RegistryError(e.NAME_UNKNOWN, detail={"name": name})
        return e.RegistryError(e.MANIFEST_UNKNOWN, detail={"reference": reference})

    def resolve_tag(self, name: str, tag: str) -> Digest | None:
        try:
            return Digest.parse(self.driver.get_content(paths.tag_link(name, tag)).decode())
        except PathNotFoundError:
            return None

    def _revision(self, name: str, digest: Digest) -> ManifestInfo | None:
        try:
            doc = json.loads(self.driver.get_content(paths.revision_link(name, digest)))
        except PathNotFoundError:
            return None
        subject = doc.get("subject")
        return ManifestInfo(
            doc["mediaType"], digest, int(doc["size"]), Digest.parse(subject) if subject else None
        )

    def stat(self, name: str, reference: str) -> ManifestInfo:
        """The descriptor of a manifest by tag or digest; MANIFEST_UNKNOWN / NAME_UNKNOWN."""
        tagged = is_tag(reference)
        digest = self.resolve_tag(name, reference) if tagged else parse_digest(reference)
        info = self._revision(name, digest) if digest is not None else None
        if info is None:
            raise self._unknown(name, reference)
        return info

    def get(self, name: str, reference: str) -> tuple[ManifestInfo, bytes]:
        info = self.stat(name, reference)
        try:
            return info, self.blobs.read(info.digest)
        except PathNotFoundError:
            raise self._unknown(name, reference) from None

    def tags(self, name: str) -> list[str]:
        try:
            entries = self.driver.list(paths.tags(name))
        except PathNotFoundError:
            if not self.repository_exists(name):
                raise e.RegistryError(e.NAME_UNKNOWN, detail={"name": name}) from None
            return []
        return sorted(entry.rsplit("/", 1)[1] for entry in entries)

    def referrers(self, name: str, subject: Digest) -> list[Referrer]:
        try:
            files = list(self.driver.walk(paths.referrers(name, subject)))
        except PathNotFoundError:
            return []
        found = []
        for info in files:
            if info.path.endswith("/link"):
                with contextlib.suppress(PathNotFoundError):
                    found.append(Referrer.from_json(json.loads(self.driver.get_content(info.path))))
        return found

    # --- writing --------------------------------------------------------------------

    def put(self, name: str, reference: str, data: bytes, content_type: str | None) -> ManifestInfo:
        """Check and store a manifest, then tag it if ``reference`` is a tag."""
        self.hooks.check_push(name)
        if len(data) > MAX_MANIFEST_SIZE:
            raise e.RegistryError(
                e.SIZE_INVALID,
                f"manifest is larger than {MAX_MANIFEST_SIZE} bytes",
                status=413,
            )
        tag: str | None = None
        if not looks_like_digest(reference):
            tag = check_tag(reference)  # TAG_INVALID, as distribution answers
            digest = Digest.from_bytes(data)
        else:
            expected = parse_digest(reference)
            digest = Digest.from_bytes(data, expected.algorithm)
            if digest != expected:
                raise e.RegistryError(
                    e.DIGEST_INVALID,
                    detail={"expected": str(expected), "actual": str(digest)},
                )
        declared = (content_type or "").split(";", 1)[0].strip() or None
        if declared not in MANIFEST_TYPES:
            declared = None
        try:
            parsed = parse_manifest(data, declared)
        except ManifestError as exc:
            raise e.RegistryError(e.MANIFEST_INVALID, str(exc)) from None
        subject = parsed.subject.digest if parsed.subject is not None else None
        info = ManifestInfo(parsed.media_type, digest, len(data), subject)
        with self.locks.hold(name):
            self._store(name, tag, data, parsed, info)
        return info

    def _store(
        self, name: str, tag: str | None, data: bytes, parsed: Manifest | Index, info: ManifestInfo
    ) -> None:
        """Check the tag, write, and tell the hooks: under the repository lock, as one step."""
        digest, subject = info.digest, info.subject
        if tag is not None:
            self.hooks.check_tag(name, tag, current=self.resolve_tag(name, tag), new=digest)
        with self.blobs.lock.shared():
            self._check_references(name, parsed)
            self.blobs.put_bytes(digest, data)
            revision: dict[str, Any] = {
                "mediaType": info.media_type,
                "digest": str(digest),
                "size": info.size,
            }
            if subject is not None:
                revision["subject"] = str(subject)
                referrer = Referrer(
                    info.media_type,
                    digest,
                    info.size,
                    _artifact_type(parsed),
                    dict(parsed.annotations),
                )
                self.driver.put_content(
                    paths.referrer_link(name, subject, digest),
                    json.dumps(referrer.to_json()).encode(),
                )
            self.driver.put_content(
                paths.revision_link(name, digest), json.dumps(revision).encode()
            )
            if tag is not None:
                self.driver.put_content(paths.tag_link(name, tag), str(digest).encode())
        self.hooks.manifest_stored(
            ManifestEvent(
                name,
                digest,
                info.media_type,
                info.size,
                tag=tag,
                subject=subject,
                artifact_type=_artifact_type(parsed),
            )
        )

    def _check_references(self, name: str, parsed: Manifest | Index) -> None:
        missing: list[str] = []
        if isinstance(parsed, Index):
            for child in parsed.manifests:
                known = self._revision(name, child.digest)
                if known is None:
                    missing.append(str(child.digest))
                elif known.size != child.size:
                    raise e.RegistryError(
                        e.MANIFEST_INVALID,
                        f"size of {child.digest} is {known.size}, not {child.size}",
                    )
        else:
            for blob in (parsed.config, *parsed.layers):
                if blob.urls:
                    continue  # foreign (non-distributable) layers are fetched from urls
                stored = self.blobs.pool_stat(blob.digest)
                if stored is None or not self.blobs.is_linked(name, blob.digest):
                    missing.append(str(blob.digest))
                elif stored.size != blob.size:
                    raise e.RegistryError(
                        e.MANIFEST_INVALID,
                        f"size of {blob.digest} is {stored.size}, not {blob.size}",
                    )
        if missing:
            raise e.RegistryError(e.MANIFEST_BLOB_UNKNOWN, detail={"digests": missing})

    def delete(self, name: str, reference: str) -> ManifestInfo:
        """Delete a tag, or a manifest by digest along with every tag pointing at it."""
        with self.locks.hold(name):
            return self._delete(name, reference)

    def _delete(self, name: str, reference: str) -> ManifestInfo:
        if is_tag(reference):
            digest = self.resolve_tag(name, reference)
            if digest is None:
                raise self._unknown(name, reference)
            with contextlib.suppress(PathNotFoundError):
                self.driver.delete(paths.tag_dir(name, reference))
            info = self._revision(name, digest) or ManifestInfo("", digest, 0)
            self.hooks.manifest_deleted(
                ManifestEvent(name, digest, info.media_type, info.size, tag=reference)
            )
            return info
        info = self.stat(name, reference)
        for tag in self.tags(name):
            if self.resolve_tag(name, tag) == info.digest:
                with contextlib.suppress(PathNotFoundError):
                    self.driver.delete(paths.tag_dir(name, tag))
        if info.subject is not None:
            with contextlib.suppress(PathNotFoundError):
                self.driver.delete(
                    paths.referrer_link(name, info.subject, info.digest).rsplit("/", 1)[0]
                )
        with contextlib.suppress(PathNotFoundError):
            self.driver.delete(paths.revision_link(name, info.digest).rsplit("/", 1)[0])
        self.hooks.manifest_deleted(
            ManifestEvent(name, info.digest, info.media_type, info.size, subject=info.subject)
        )
        return info
