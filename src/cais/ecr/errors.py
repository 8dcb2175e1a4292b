"""The errors Amazon ECR returns, with its types and (where known) its messages.

Every one is an :class:`~cais.aws.AwsError` (HTTP 400 unless said otherwise), so the
dispatcher renders it as ``{"__type", "message"}`` and botocore raises
``client.exceptions.<Type>``.
"""

from __future__ import annotations

from collections.abc import Iterable

from cais.aws.errors import AwsError

INVALID_PARAMETER = "InvalidParameterException"


def invalid(message: str) -> AwsError:
    return AwsError(INVALID_PARAMETER, message)


def invalid_at(member: str, problem: str) -> AwsError:
    """AWS's wording for a member whose value breaks a rule the model cannot state."""
    return invalid(f"Invalid parameter at '{member}' failed to satisfy constraint: '{problem}'")


def repository_not_found(name: str, registry_id: str) -> AwsError:
    return AwsError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
    )


def repository_exists(name: str, registry_id: str) -> AwsError:
    return AwsError(
        "RepositoryAlreadyExistsException",
        f"The repository with name '{name}' already exists in the registry with id '{registry_id}'",
    )


def repository_not_empty(name: str, registry_id: str) -> AwsError:
    return AwsError(
        "RepositoryNotEmptyException",
        f"The repository with name '{name}' in registry with id '{registry_id}' cannot be "
        "deleted because it still contains images",
    )


def image_not_found(image_id: str, name: str, registry_id: str) -> AwsError:
    return AwsError(
        "ImageNotFoundException",
        f"The image with imageId {image_id} does not exist within the repository with name "
        f"'{name}' in the registry with id '{registry_id}'",
    )


def image_exists(digest: str, tag: str | None, name: str, registry_id: str) -> AwsError:
    return AwsError(
        "ImageAlreadyExistsException",
        f"Image with digest '{digest}' and tag '{tag or 'null'}' already exists in the "
        f"repository with name '{name}' in registry with id '{registry_id}'",
    )


def tag_exists(tag: str, name: str) -> AwsError:
    return AwsError("ImageTagAlreadyExistsException", immutable_tag_message(tag, name))


def immutable_tag_message(tag: str, name: str) -> str:
    """What ECR says on every path (API and ``/v2`` push) when an immutable tag would move."""
    return (
        f"The image tag '{tag}' already exists in the '{name}' repository and cannot be "
        "overwritten because the tag is immutable."
    )


def layers_not_found(digests: Iterable[str], name: str, registry_id: str) -> AwsError:
    listed = ", ".join(digests)
    return AwsError(
        "LayersNotFoundException",
        f"Layers with digests [{listed}] required for pushing image into repository with "
        f"name '{name}' in the registry with id '{registry_id}' do not exist",
    )


def referenced_images_not_found(digests: Iterable[str], name: str) -> AwsError:
    listed = ", ".join(digests)
    return AwsError(
        "ReferencedImagesNotFoundException",
        f"Images with digests [{listed}] referenced by the manifest list do not exist in the "
        f"repository with name '{name}'",
    )


def digest_mismatch(given: str, actual: str) -> AwsError:
    return AwsError(
        "ImageDigestDoesNotMatchException",
        f"Provided image digest '{given}' does not match the manifest's digest '{actual}'",
    )


def lifecycle_policy_not_found(name: str, registry_id: str) -> AwsError:
    return AwsError(
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{registry_id}'",
    )


def lifecycle_preview_not_found(name: str, registry_id: str) -> AwsError:
    return AwsError(
        "LifecyclePolicyPreviewNotFoundException",
        f"There is no lifecycle policy preview for the repository with name '{name}' in the "
        f"registry with id '{registry_id}'",
    )


def repository_policy_not_found(name: str, registry_id: str) -> AwsError:
    return AwsError(
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{registry_id}'",
    )


def invalid_tag(message: str) -> AwsError:
    return AwsError("InvalidTagParameterException", message)


def too_many_tags(limit: int) -> AwsError:
    return AwsError("TooManyTagsException", f"A repository cannot have more than {limit} tags.")
