"""ECR as a domain: repositories and images over the registry's storage and ECR's records.

:class:`Ecr` is what the API provider, the lifecycle schedule and in-process callers (the
ECS agent pulling images, the CLI) use. It writes images only through the
:class:`~cais.registry.Registry`, whose hooks (:mod:`cais.ecr.hooks`) keep the records in
step, so the API and ``/v2`` can never disagree on what a repository holds. Blocking (SQLite
and storage I/O): call it from worker threads.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from cais.aws.errors import AwsError
from cais.ecr import errors
from cais.ecr.auth import Login, LoginTokens
from cais.ecr.hooks import stored_manifest
from cais.ecr.lifecycle import Candidate, Expiry, LifecyclePolicy, evaluate
from cais.ecr.model import TAG_PATTERN, Image, ImageId, Repository, TagMutability
from cais.ecr.store import EcrStore
from cais.oci.digest import Digest, DigestError
from cais.oci.manifest import Index, Manifest, ManifestError, parse_manifest
from cais.registry import Registry, RegistryError
from cais.registry import errors as e
from cais.registry.hooks import ManifestEvent

log = logging.getLogger(__name__)

NOT_FOUND = "ImageNotFound"


@dataclass(frozen=True)
class ImageFailure:
    """One entry of a batch call's ``failures``: ECR's failure code and reason."""

    image_id: ImageId
    code: str
    reason: str


@dataclass(frozen=True)
class FetchedImage:
    image_id: ImageId
    manifest: bytes
    media_type: str


@dataclass(frozen=True)
class LayerCheck:
    digest: str
    size: int | None  # None: not available in the repository
    valid: bool = True  # False: not a digest at all


@dataclass(frozen=True)
class LifecycleRun:
    repository: str
    expired: tuple[Expiry, ...]


class Ecr:
    """ECR's operations on one cais root; ``registry_host`` is what repository URIs name."""

    def __init__(
        self,
        store: EcrStore,
        registry: Registry,
        tokens: LoginTokens,
        *,
        registry_host: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.tokens = tokens
        self.registry_host = registry_host
        self._clock = clock

    # -- repositories -----------------------------------------------------------------------

    def create_repository(
        self,
        name: str,
        *,
        account: str,
        region: str,
        mutability: TagMutability,
        scan_on_push: bool = False,
        encryption_type: str = "AES256",
        kms_key: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Repository:
        repo = Repository(
            name=name,
            registry_id=account,
            region=region,
            created_at=self._clock(),
            mutability=mutability,
            scan_on_push=scan_on_push,
            encryption_type=encryption_type,
            kms_key=kms_key,
        )
        self.store.create_repository(repo, tags or {})
        self.reconcile_repository(name)  # adopt what the registry may already hold
        return repo

    def delete_repository(self, name: str, account: str, *, force: bool) -> Repository:
        """Delete a repository (its images too with ``force``); the registry's copy goes
        first, so an interrupted delete leaves an empty repository to delete again."""
        repo = self.store.get_repository(name, account)
        if not force and self.store.has_images(name):
            raise errors.repository_not_empty(name, account)
        self.registry.delete_repository(name)
        self.store.delete_repository(name, account, force=True)
        self.registry.delete_repository(name)  # anything pushed meanwhile
        return repo

    # -- images -----------------------------------------------------------------------------

    def resolve(self, name: str, image_id: ImageId) -> Image | ImageFailure:
        """The image an id names, or ECR's failure for it."""
        if not image_id.digest and not image_id.tag:
            return ImageFailure(
                image_id,
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )
        if image_id.digest is not None:
            try:
                Digest.parse(image_id.digest)
            except DigestError:
                return ImageFailure(image_id, "InvalidImageDigest", "Invalid image digest")
        digest = image_id.digest
        if image_id.tag:
            tagged = self.store.resolve_tag(name, image_id.tag)
            if tagged is None:
                return ImageFailure(image_id, NOT_FOUND, "Requested image not found")
            if digest is not None and tagged != digest:
                return ImageFailure(
                    image_id,
                    "ImageTagDoesNotMatchDigest",
                    "Invalid request parameters: given tag does not map to the given digest",
                )
            digest = tagged
        image = self.store.image(name, digest) if digest is not None else None
        if image is None:
            return ImageFailure(image_id, NOT_FOUND, "Requested image not found")
        return image

    def put_image(
        self,
        name: str,
        account: str,
        manifest: bytes,
        *,
        media_type: str | None = None,
        tag: str | None = None,
        digest: str | None = None,
    ) -> FetchedImage:
        """PutImage: store manifest bytes (layers already pushed) under a tag or digest."""
        repo = self.store.get_repository(name, account)
        if tag is not None and not TAG_PATTERN.match(tag):
            raise errors.invalid_at(
                "imageTag", f"Invalid image tag '{tag}': expected {TAG_PATTERN.pattern}"
            )
        actual = str(Digest.from_bytes(manifest))
        if digest is not None:
            try:
                Digest.parse(digest)
            except DigestError:
                raise errors.invalid_at("imageDigest", "Invalid image digest") from None
            if digest != actual:
                raise errors.digest_mismatch(digest, actual)
        try:
            parsed = parse_manifest(manifest, media_type)
        except ManifestError as exc:
            raise errors.invalid_at("imageManifest", f"Invalid manifest: {exc}") from None
        with self.registry.hold(name):  # the checks below stay true until the write
            if tag is not None:
                current = self.store.resolve_tag(name, tag)
                if current == actual:
                    raise errors.image_exists(actual, tag, name, account)
                if current is not None and repo.mutability.is_immutable(tag):
                    raise errors.tag_exists(tag, name)
            elif self.store.image(name, actual) is not None:
                raise errors.image_exists(actual, None, name, account)
            try:
                info = self.registry.put_manifest(
                    name, tag or actual, manifest, content_type=media_type or parsed.media_type
                )
            except RegistryError as exc:
                raise self._put_error(exc, parsed, name, account, tag) from None
        return FetchedImage(ImageId(actual, tag), manifest, info.media_type)

    def _put_error(
        self, exc: RegistryError, parsed: Manifest | Index, name: str, account: str, tag: str | None
    ) -> AwsError:
        code = exc.code
        missing = exc.detail.get("digests", []) if isinstance(exc.detail, dict) else []
        if code is e.MANIFEST_BLOB_UNKNOWN:
            if isinstance(parsed, Index):
                return errors.referenced_images_not_found(missing, name)
            return errors.layers_not_found(missing, name, account)
        if code is e.TAG_INVALID:
            return errors.tag_exists(tag or "", name)
        if code is e.NAME_UNKNOWN:
            return errors.repository_not_found(name, account)
        return errors.invalid_at("imageManifest", exc.message)

    def fetch_images(
        self, name: str, account: str, ids: Sequence[ImageId], *, accepted: Sequence[str] = ()
    ) -> tuple[list[FetchedImage], list[ImageFailure]]:
        """BatchGetImage: manifests by id (in the accepted media types), failures for the
        rest; each fetch counts as a pull."""
        self.store.get_repository(name, account)
        found: list[FetchedImage] = []
        failures: list[ImageFailure] = []
        for image_id in ids:
            image = self.resolve(name, image_id)
            if isinstance(image, ImageFailure):
                failures.append(image)
                continue
            if accepted and image.media_type not in accepted:
                failures.append(
                    ImageFailure(
                        image_id,
                        NOT_FOUND,
                        f"Requested image is not available as {', '.join(accepted)} "
                        f"(it is {image.media_type})",
                    )
                )
                continue
            try:
                _, data = self.registry.get_manifest(name, image.digest)
            except RegistryError:
                failures.append(ImageFailure(image_id, NOT_FOUND, "Requested image not found"))
                continue
            found.append(FetchedImage(ImageId(image.digest, image_id.tag), data, image.media_type))
            self.store.record_pull(name, image.digest, self._clock())
        return found, failures

    def delete_images(
        self, name: str, account: str, ids: Sequence[ImageId]
    ) -> tuple[list[ImageId], list[ImageFailure]]:
        """BatchDeleteImage: a tag is removed (and its image, when it was the last tag); a
        digest removes the image with all its tags."""
        self.store.get_repository(name, account)
        deleted: list[ImageId] = []
        failures: list[ImageFailure] = []
        for image_id in ids:
            image = self.resolve(name, image_id)
            if isinstance(image, ImageFailure):
                failures.append(image)
                continue
            only_tag = image_id.tag is not None and len(image.tags) > 1
            if not only_tag:
                parents = self.store.parents(name, image.digest)
                if parents:
                    failures.append(
                        ImageFailure(
                            image_id,
                            "ImageReferencedByManifestList",
                            f"Requested image referenced by manifest list: {sorted(parents)}",
                        )
                    )
                    continue
            if only_tag:
                assert image_id.tag is not None
                self._delete(name, image.digest, tag=image_id.tag)
                deleted.append(ImageId(image.digest, image_id.tag))
            else:
                self._delete(name, image.digest)
                deleted.extend(ImageId(image.digest, t) for t in image.tags or (None,))
        return deleted, failures

    def _delete(self, name: str, digest: str, *, tag: str | None = None) -> None:
        with self.registry.hold(name):
            self._delete_held(name, digest, tag=tag)

    def _delete_held(self, name: str, digest: str, *, tag: str | None) -> None:
        try:
            self.registry.delete_manifest(name, tag or digest)
        except RegistryError as exc:
            if exc.code not in (e.MANIFEST_UNKNOWN, e.NAME_UNKNOWN):
                raise
            if tag is not None:  # the records were ahead of storage: bring them in line
                self.store.forget_tag(name, tag, digest)
            else:
                self.store.forget_image(name, digest)

    def check_layers(self, name: str, account: str, digests: Sequence[str]) -> list[LayerCheck]:
        self.store.get_repository(name, account)
        checks = []
        for text in digests:
            try:
                info = self.registry.stat_blob(name, Digest.parse(text))
            except DigestError:
                checks.append(LayerCheck(text, None, valid=False))
            except RegistryError:
                checks.append(LayerCheck(text, None))
            else:
                checks.append(LayerCheck(text, info.size))
        return checks

    def record_pull(self, name: str, digest: str) -> None:
        self.store.record_pull(name, digest, self._clock())

    # -- logins -----------------------------------------------------------------------------

    def login(self, *, account: str, access_key_id: str) -> Login:
        return self.tokens.issue(account=account, access_key_id=access_key_id)

    # -- lifecycle --------------------------------------------------------------------------

    def _candidates(self, name: str) -> list[Candidate]:
        referenced = self.store.referenced(name)
        return [
            Candidate(i.digest, i.tags, i.pushed_at, i.digest in referenced)
            for i in self.store.images(name)
        ]

    def preview_lifecycle(self, name: str, account: str, text: str | None) -> list[Expiry]:
        """What a run would expire now (with ``text``, or the repository's policy)."""
        self.store.get_repository(name, account)
        if text is None:
            stored = self.store.lifecycle_policy(name, account)
            if stored is None:
                raise errors.lifecycle_policy_not_found(name, account)
            text = stored[0]
        policy = LifecyclePolicy.parse(text)
        now = self._clock()
        expiries = evaluate(policy, self._candidates(name), now=now)
        self.store.save_preview(name, text, [_expiry_json(x) for x in expiries], now=now)
        return expiries

    def run_lifecycle(self, names: Iterable[str] | None = None) -> list[LifecycleRun]:
        """Carry out every repository's lifecycle policy (or those of ``names``)."""
        wanted = set(names) if names is not None else None
        runs = []
        for repo, text in self.store.with_lifecycle_policies():
            if wanted is not None and repo.name not in wanted:
                continue
            try:
                policy = LifecyclePolicy.parse(text)
            except AwsError as exc:
                log.warning("lifecycle policy of %s is invalid: %s", repo.name, exc.message)
                continue
            now = self._clock()
            expired = evaluate(policy, self._candidates(repo.name), now=now)
            for expiry in expired:
                self._delete(repo.name, expiry.digest)
            self.store.mark_evaluated(repo.name, text, now)
            if expired:
                log.info("lifecycle policy of %s expired %d images", repo.name, len(expired))
            runs.append(LifecycleRun(repo.name, tuple(expired)))
        return runs

    # -- consistency ------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Bring the records in line with the registry's storage (after a crash between a
        registry write and its hook)."""
        for repo in self.store.all_repositories():
            self.reconcile_repository(repo.name)

    def reconcile_repository(self, name: str) -> None:
        with self.registry.hold(name):  # no push may land between reading and recording
            self._reconcile_repository(name)

    def _reconcile_repository(self, name: str) -> None:
        stored_tags = self._registry_tags(name)
        for image in self.store.images(name):
            with contextlib.suppress(RegistryError):
                self.registry.stat_manifest(name, image.digest)
                continue
            self.store.forget_image(name, image.digest)
        for image in self.store.images(name, tag_status="TAGGED"):
            for tag in image.tags:
                if stored_tags.get(tag) != image.digest:
                    self.store.forget_tag(name, tag, image.digest)
        for tag, digest in stored_tags.items():
            if self.store.resolve_tag(name, tag) == digest:
                continue
            info, data = self.registry.get_manifest(name, digest)
            event = ManifestEvent(
                name, info.digest, info.media_type, info.size, tag=tag, subject=info.subject
            )
            facts = stored_manifest(event, data)
            self.store.record_manifest(facts, tag, now=self._clock())

    def _registry_tags(self, name: str) -> dict[str, str]:
        found: dict[str, str] = {}
        last: str | None = None
        while True:
            try:
                page = self.registry.tags(name, last=last)
            except RegistryError:
                return found
            for tag in page.items:
                with contextlib.suppress(RegistryError):
                    found[tag] = str(self.registry.stat_manifest(name, tag).digest)
            if not page.more or not page.items:
                return found
            last = page.items[-1]


def _expiry_json(expiry: Expiry) -> dict[str, object]:
    return {
        "digest": expiry.digest,
        "tags": list(expiry.tags),
        "pushedAt": expiry.pushed_at,
        "priority": expiry.rule_priority,
    }
