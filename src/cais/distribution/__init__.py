"""The OCI distribution client: pull, push, login — against any Distribution registry.

Public interface::

    pull(engine, ref, *, auth=None, progress=None, ...) -> Image
    push(engine, image, dest=None, *, auth=None, progress=None, ...) -> PushResult
    Puller(engine, credentials=..., ...).pull(ref)      Pusher(engine, ...).push(image, dest)
    login(registry, credential, auth_file=...) / logout(registry, auth_file=...)
    RegistryClient(registry, credentials=..., transport=...)   the API calls, one registry
    Credential, CredentialSource, StaticCredentials, AuthFile, default_auth_files
    TransferProgress, NoProgress, LineProgress, RichProgress, progress_for
    DistributionError and its kinds (UnauthorizedError, ManifestUnknownError, …)

``auth`` is a :class:`Credential` (used for that registry), any :class:`CredentialSource`
(the ECS agent's ECR tokens), or None for the auth files of the engine's root.
httpx and rich load only when a transfer starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cais.distribution.authfile import (
    AuthFile,
    AuthFiles,
    Credential,
    CredentialSource,
    StaticCredentials,
    default_auth_files,
)
from cais.distribution.client import RegistryClient
from cais.distribution.errors import (
    BlobUnknownError,
    ContentMismatchError,
    DeniedError,
    DistributionError,
    ManifestUnknownError,
    NoMatchingPlatformError,
    RegistryResponseError,
    RegistryUnreachableError,
    RepositoryUnknownError,
    TransferInterruptedError,
    UnauthorizedError,
    UnsupportedContentError,
)
from cais.distribution.login import login, logout, registry_of
from cais.distribution.progress import (
    LineProgress,
    NoProgress,
    RichProgress,
    TransferProgress,
    progress_for,
)
from cais.distribution.pull import Puller, PullResult
from cais.distribution.push import Pusher, PushResult
from cais.oci.platform import Platform
from cais.oci.reference import Reference

if TYPE_CHECKING:
    import httpx

    from cais.engine import Engine
    from cais.images.store import Image


def credentials_for(engine: Engine, auth: Credential | CredentialSource | None) -> CredentialSource:
    """What ``auth=`` means: one credential, a source, or the root's auth files."""
    if isinstance(auth, Credential):
        return StaticCredentials.single(auth)
    if auth is None:
        return default_auth_files(root=engine.settings.root)
    return auth


def pull(
    engine: Engine,
    ref: Reference | str,
    *,
    auth: Credential | CredentialSource | None = None,
    progress: TransferProgress | None = None,
    tls_verify: bool = True,
    platform: Platform | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Image:
    """Pull ``ref`` into ``engine`` and return the image (``Puller`` tells more)."""
    puller = Puller(
        engine,
        credentials=credentials_for(engine, auth),
        tls_verify=tls_verify,
        platform=platform,
        progress=progress,
        transport=transport,
    )
    return puller.pull(ref).image


def push(
    engine: Engine,
    image: str | Image,
    dest: Reference | str | None = None,
    *,
    auth: Credential | CredentialSource | None = None,
    progress: TransferProgress | None = None,
    tls_verify: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> PushResult:
    pusher = Pusher(
        engine,
        credentials=credentials_for(engine, auth),
        tls_verify=tls_verify,
        progress=progress,
        transport=transport,
    )
    return pusher.push(image, dest)


__all__ = [
    "AuthFile",
    "AuthFiles",
    "BlobUnknownError",
    "ContentMismatchError",
    "Credential",
    "CredentialSource",
    "DeniedError",
    "DistributionError",
    "LineProgress",
    "ManifestUnknownError",
    "NoMatchingPlatformError",
    "NoProgress",
    "PullResult",
    "Puller",
    "PushResult",
    "Pusher",
    "RegistryClient",
    "RegistryResponseError",
    "RegistryUnreachableError",
    "RepositoryUnknownError",
    "RichProgress",
    "StaticCredentials",
    "TransferInterruptedError",
    "TransferProgress",
    "UnauthorizedError",
    "UnsupportedContentError",
    "credentials_for",
    "default_auth_files",
    "login",
    "logout",
    "progress_for",
    "pull",
    "push",
    "registry_of",
]
