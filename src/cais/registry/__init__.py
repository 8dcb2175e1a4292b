"""The OCI Distribution registry server: a domain model over storage drivers, and HTTP.

Public interface (what other rooms call)::

    Registry(driver, hooks=..., lock=..., allow_delete=...)   the domain: blobs, uploads,
                                                               manifests, tags, referrers
    add_registry_routes(app, registry, auth=...)               mount /v2/ on an aiohttp app
    create_app(registry, auth=...)                             a stand-alone app
    RegistryHooks / ManifestEvent                              the seam for ECR
    StorageDriver / open_driver("fs:/path" | "memory")         storage
    NoAuth / BasicAuth / TokenAuth / Htpasswd / AclPolicy      auth
    collect_garbage(registry, dry_run=..., grace=...)          GC

Heavy modules (aiohttp) load only when the HTTP names are first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cais.registry.errors import CODES, ErrorCode, RegistryError
from cais.registry.hooks import ManifestEvent, NoHooks, RegistryHooks
from cais.registry.registry import Page, Registry
from cais.registry.storage import StorageDriver, open_driver

if TYPE_CHECKING:
    from cais.registry.auth import BasicAuth as BasicAuth
    from cais.registry.auth import Htpasswd as Htpasswd
    from cais.registry.auth import NoAuth as NoAuth
    from cais.registry.auth import TokenAuth as TokenAuth
    from cais.registry.gc import GcReport as GcReport
    from cais.registry.gc import collect_garbage as collect_garbage
    from cais.registry.http import RegistryApi as RegistryApi
    from cais.registry.http import add_registry_routes as add_registry_routes
    from cais.registry.http import create_app as create_app
    from cais.registry.scopes import AclPolicy as AclPolicy

__all__ = [
    "CODES",
    "AclPolicy",
    "BasicAuth",
    "ErrorCode",
    "GcReport",
    "Htpasswd",
    "ManifestEvent",
    "NoAuth",
    "NoHooks",
    "Page",
    "Registry",
    "RegistryApi",
    "RegistryError",
    "RegistryHooks",
    "StorageDriver",
    "TokenAuth",
    "add_registry_routes",
    "collect_garbage",
    "create_app",
    "open_driver",
]

_LAZY = {
    "AclPolicy": "cais.registry.scopes",
    "BasicAuth": "cais.registry.auth",
    "Htpasswd": "cais.registry.auth",
    "NoAuth": "cais.registry.auth",
    "TokenAuth": "cais.registry.auth",
    "GcReport": "cais.registry.gc",
    "collect_garbage": "cais.registry.gc",
    "RegistryApi": "cais.registry.http",
    "add_registry_routes": "cais.registry.http",
    "create_app": "cais.registry.http",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cais.registry' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
