"""Amazon ECR for cais: repositories, images, logins and lifecycle policies over the OCI
registry, and the ECR API provider.

Decisions (what differs from AWS, on purpose):

- **One registry per install.** The OCI registry ``cais up`` serves has one flat namespace,
  so a repository name is unique across the install; each repository belongs to the
  account that created it (its ``registryId``) and its ARN names the region it was created
  in (``arn:aws:ecr:<region>:<account>:repository/<name>``). Lookups ignore the caller's
  region; another account's repositories are not found (API) or denied (registry, 403).
- **repositoryUri** is ``<registry host>/<name>``, ``localhost:<port>/<name>`` by default:
  docker treats ``localhost`` registries as insecure (HTTP) without configuration;
  podman and skopeo take it with ``--tls-verify=false``.
- **Logins** are ECR's: GetAuthorizationToken returns ``base64("AWS:<password>")`` valid
  12 hours; the registry refuses requests without one (401), with an expired one, or once
  the access key that asked for it is deleted or inactive.
- **Repository policies** are validated and stored, not enforced; **encryption** and
  **scanning** settings are recorded, not acted on.
- **Lifecycle policies** run on a schedule inside ``cais up`` and on demand
  (``cais ecr run-lifecycle``); expired images leave the registry at once, their blobs at
  the next ``cais registry gc``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from cais.ecr.auth import EcrRegistryAuth, Login, LoginTokens
from cais.ecr.hooks import EcrRegistryHooks
from cais.ecr.lifecycle import Candidate, Expiry, LifecyclePolicy, evaluate
from cais.ecr.model import Image, ImageId, Repository, TagMutability
from cais.ecr.provider import VALIDATION_ERROR, EcrProvider
from cais.ecr.service import Ecr, LifecycleRun
from cais.ecr.store import EcrStore
from cais.oci.digest import Digest
from cais.registry import Registry

if TYPE_CHECKING:
    from cais.aws.credentials import KeyLookup
    from cais.aws.dispatch import Dispatcher
    from cais.registry.storage import StorageDriver
    from cais.state.sqlite import Database

SERVICE_NAME = "ecr"
# IAM actions of ECR that are not API operations of the model (registry-side actions)
_EXTRA_ACTIONS = ("ReplicateImage", "BatchImportUpstreamImage", "CreateRepository")


def open_ecr(
    db: Database,
    driver: StorageDriver,
    *,
    registry_host: str,
    keys: KeyLookup | None = None,
    clock: Callable[[], float] = time.time,
) -> Ecr:
    """ECR over a registry on ``driver``, its records in ``db``; ``keys`` revoke logins."""
    store = EcrStore(db)
    registry: Registry

    def read_manifest(digest: Digest) -> bytes:
        return registry.blobs.read(digest)  # bound below: the hooks need the registry

    hooks = EcrRegistryHooks(store, read_manifest, clock=clock)
    registry = Registry(driver, hooks=hooks, clock=clock)
    tokens = LoginTokens(store, keys=keys, clock=clock)
    return Ecr(store, registry, tokens, registry_host=registry_host, clock=clock)


def register(dispatcher: Dispatcher, ecr: Ecr) -> EcrProvider:
    """Serve ``AmazonEC2ContainerRegistry_V20150921.*`` from ``ecr`` on ``dispatcher``."""
    actions = (*dispatcher.models.get(SERVICE_NAME).operation_names, *_EXTRA_ACTIONS)
    provider = EcrProvider(ecr, actions=actions)
    dispatcher.register(SERVICE_NAME, provider, validation_error=VALIDATION_ERROR)
    return provider


__all__ = [
    "SERVICE_NAME",
    "Candidate",
    "Ecr",
    "EcrProvider",
    "EcrRegistryAuth",
    "EcrRegistryHooks",
    "EcrStore",
    "Expiry",
    "Image",
    "ImageId",
    "LifecyclePolicy",
    "LifecycleRun",
    "Login",
    "LoginTokens",
    "Repository",
    "TagMutability",
    "evaluate",
    "open_ecr",
    "register",
]
