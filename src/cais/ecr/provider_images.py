"""The image and lifecycle-preview operations of the ECR API (mixed into EcrProvider)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cais.aws.context import RequestContext
from cais.aws.pagination import TokenCodec, page_size, paginate
from cais.ecr import errors
from cais.ecr.model import Image, ImageId
from cais.ecr.service import NOT_FOUND, Ecr, FetchedImage, ImageFailure
from cais.ecr.store import EcrStore

Params = dict[str, Any]
Result = dict[str, Any]

_LIST_DEFAULT = 100
_LIST_MAX = 1000
_PREVIEW_MAX = 100


def _account(ctx: RequestContext, p: Params) -> str:
    return str(p.get("registryId") or ctx.account_id)


def _ids(p: Params, key: str = "imageIds") -> list[ImageId]:
    return [ImageId(i.get("imageDigest"), i.get("imageTag")) for i in p.get(key) or ()]


def _image_id(image_id: ImageId) -> Result:
    return {"imageDigest": image_id.digest, "imageTag": image_id.tag}


def _failure(failure: ImageFailure) -> Result:
    return {
        "imageId": _image_id(failure.image_id),
        "failureCode": failure.code,
        "failureReason": failure.reason,
    }


def _tag_status(p: Params) -> str | None:
    status = (p.get("filter") or {}).get("tagStatus")
    return None if status in (None, "ANY") else str(status)


class ImageOperations:
    """Images: list, describe, get, put, delete, layer checks; lifecycle previews."""

    ecr: Ecr
    store: EcrStore
    _tokens: TokenCodec

    def _detail(self, image: Image, account: str) -> Result:
        return {
            "registryId": account,
            "repositoryName": image.repository,
            "imageDigest": image.digest,
            "imageTags": list(image.tags) or None,
            "imageSizeInBytes": image.size,
            "imagePushedAt": image.pushed_at,
            "imageManifestMediaType": image.media_type,
            "artifactMediaType": image.artifact_media_type,
            "lastRecordedPullTime": image.last_pull,
            "subjectManifestDigest": image.subject,
        }

    def list_images(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        self.store.get_repository(name, account)
        limit = page_size(p.get("maxResults"), default=_LIST_DEFAULT, maximum=_LIST_MAX)
        pairs = [
            (image.digest, tag)
            for image in self.store.images(name, tag_status=_tag_status(p))
            for tag in image.tags or ("",)
        ]
        page = paginate(
            pairs, key=lambda x: x, limit=limit, next_token=p.get("nextToken"), codec=self._tokens
        )
        return {
            "imageIds": [{"imageDigest": d, "imageTag": t or None} for d, t in page.items],
            "nextToken": page.next_token,
        }

    def describe_images(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        self.store.get_repository(name, account)
        ids = _ids(p)
        if ids:
            if "nextToken" in p or "maxResults" in p:
                raise errors.invalid(
                    "maxResults and nextToken cannot be used when imageIds is given"
                )
            return {
                "imageDetails": [self._detail(self._one(name, account, i), account) for i in ids]
            }
        limit = page_size(p.get("maxResults"), default=_LIST_DEFAULT, maximum=_LIST_MAX)
        after = self._tokens.decode(p["nextToken"]).get("after") if "nextToken" in p else None
        images = self.store.images(
            name,
            tag_status=_tag_status(p),
            after=after if isinstance(after, str) else None,
            limit=limit + 1,
        )
        result: Result = {"imageDetails": [self._detail(i, account) for i in images[:limit]]}
        if len(images) > limit:
            result["nextToken"] = self._tokens.encode({"after": images[limit - 1].digest})
        return result

    def _one(self, name: str, account: str, image_id: ImageId) -> Image:
        found = self.ecr.resolve(name, image_id)
        if isinstance(found, Image):
            return found
        if found.code == NOT_FOUND:
            raise errors.image_not_found(image_id.describe(), name, account)
        raise errors.invalid(found.reason)

    def batch_get_image(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        found, failures = self.ecr.fetch_images(
            name, account, _ids(p), accepted=p.get("acceptedMediaTypes") or ()
        )
        return {
            "images": [self._image(account, name, image) for image in found],
            "failures": [_failure(f) for f in failures],
        }

    def _image(self, account: str, name: str, image: FetchedImage) -> Result:
        return {
            "registryId": account,
            "repositoryName": name,
            "imageId": _image_id(image.image_id),
            "imageManifest": image.manifest.decode("utf-8", errors="replace"),
            "imageManifestMediaType": image.media_type,
        }

    def put_image(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        image = self.ecr.put_image(
            name,
            account,
            p["imageManifest"].encode(),
            media_type=p.get("imageManifestMediaType"),
            tag=p.get("imageTag"),
            digest=p.get("imageDigest"),
        )
        return {"image": self._image(account, name, image)}

    def batch_delete_image(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        deleted, failures = self.ecr.delete_images(name, account, _ids(p))
        return {
            "imageIds": [_image_id(i) for i in deleted],
            "failures": [_failure(f) for f in failures],
        }

    def batch_check_layer_availability(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        layers: list[Result] = []
        failures: list[Result] = []
        for check in self.ecr.check_layers(name, account, p["layerDigests"]):
            if not check.digest:
                failures.append(
                    {
                        "layerDigest": check.digest,
                        "failureCode": "MissingLayerDigest",
                        "failureReason": "The layer digest is empty",
                    }
                )
            elif not check.valid:
                failures.append(
                    {
                        "layerDigest": check.digest,
                        "failureCode": "InvalidLayerDigest",
                        "failureReason": "Invalid layer digest",
                    }
                )
            elif check.size is None:
                layers.append({"layerDigest": check.digest, "layerAvailability": "UNAVAILABLE"})
            else:
                layers.append(
                    {
                        "layerDigest": check.digest,
                        "layerAvailability": "AVAILABLE",
                        "layerSize": check.size,
                        "mediaType": "application/vnd.docker.container.image.rootfs.diff+x-gtar",
                    }
                )
        return {"layers": layers, "failures": failures}

    # -- lifecycle previews -----------------------------------------------------------------

    def start_lifecycle_policy_preview(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        self.ecr.preview_lifecycle(name, account, p.get("lifecyclePolicyText"))
        text, status, _ = self._preview(name, account)
        return {
            "registryId": account,
            "repositoryName": name,
            "lifecyclePolicyText": text,
            "status": status,
        }

    def _preview(self, name: str, account: str) -> tuple[str, str, list[dict[str, Any]]]:
        self.store.get_repository(name, account)
        found = self.store.preview(name)
        if found is None:
            raise errors.lifecycle_preview_not_found(name, account)
        return found

    def get_lifecycle_policy_preview(self, ctx: RequestContext, p: Params) -> Result:
        account, name = _account(ctx, p), p["repositoryName"]
        text, status, results = self._preview(name, account)
        status_filter = _tag_status(p)
        if status_filter is not None:
            want_tags = status_filter == "TAGGED"
            results = [r for r in results if bool(r["tags"]) == want_tags]
        ids = _ids(p)
        if ids:
            results = [r for r in results if _matches(r, ids)]
        limit = page_size(p.get("maxResults"), default=_PREVIEW_MAX, maximum=_PREVIEW_MAX)
        ordered = sorted(results, key=lambda r: (r["pushedAt"], r["digest"]))
        page = paginate(
            ordered,
            key=lambda r: (r["pushedAt"], r["digest"]),
            limit=limit,
            next_token=p.get("nextToken"),
            codec=self._tokens,
        )
        return {
            "registryId": account,
            "repositoryName": name,
            "lifecyclePolicyText": text,
            "status": status,
            "nextToken": page.next_token,
            "previewResults": [
                {
                    "imageTags": r["tags"] or None,
                    "imageDigest": r["digest"],
                    "imagePushedAt": r["pushedAt"],
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": r["priority"],
                }
                for r in page.items
            ],
            "summary": {"expiringImageTotalCount": len(results)},
        }


def _matches(result: dict[str, Any], ids: Sequence[ImageId]) -> bool:
    return any(
        (i.digest is None or i.digest == result["digest"])
        and (i.tag is None or i.tag in result["tags"])
        for i in ids
    )
