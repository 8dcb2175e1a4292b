"""The route table: every endpoint of the API as data — name, path pattern, and per method
the handler and the access it needs. The server's dispatcher reads this table and nothing
else; ``urls.py`` builds the same paths for Location and Link headers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aiohttp import web

from cais.registry.handlers import blobs, listings, manifests, uploads
from cais.registry.handlers.common import RequestContext

Handler = Callable[[RequestContext], Awaitable[web.StreamResponse]]

# loose on purpose: an ill-formed name must reach the handler to get NAME_INVALID
_NAME = r"(?P<name>[^?#]+?)"
_SEGMENT = r"[^/?#]+"


class Access(enum.Enum):
    PUBLIC = "public"  # no credentials needed (the token endpoint)
    LOGIN = "login"  # any valid credential (the /v2/ check)
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    CATALOG = "catalog"


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    access: Access


@dataclass(frozen=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    methods: Mapping[str, Endpoint]
    description: str


def _route(name: str, path: str, description: str, **methods: Endpoint) -> Route:
    return Route(name, re.compile(path), MappingProxyType(methods), description)


ROUTES: tuple[Route, ...] = (
    _route(
        "base",
        r"/v2/?",
        "API version check",
        GET=Endpoint(listings.base, Access.LOGIN),
        HEAD=Endpoint(listings.base, Access.LOGIN),
    ),
    _route(
        "token",
        r"/v2/token",
        "issue a Bearer token for Basic credentials",
        GET=Endpoint(listings.token, Access.PUBLIC),
        POST=Endpoint(listings.token, Access.PUBLIC),
    ),
    _route(
        "catalog",
        r"/v2/_catalog",
        "list repositories (n, last)",
        GET=Endpoint(listings.catalog, Access.CATALOG),
    ),
    _route(
        "tags",
        rf"/v2/{_NAME}/tags/list",
        "list a repository's tags (n, last)",
        GET=Endpoint(listings.list_tags, Access.PULL),
    ),
    _route(
        "manifest",
        rf"/v2/{_NAME}/manifests/(?P<reference>{_SEGMENT})",
        "fetch, check, push or delete a manifest by tag or digest",
        GET=Endpoint(manifests.get_manifest, Access.PULL),
        HEAD=Endpoint(manifests.head_manifest, Access.PULL),
        PUT=Endpoint(manifests.put_manifest, Access.PUSH),
        DELETE=Endpoint(manifests.delete_manifest, Access.DELETE),
    ),
    _route(
        "upload_start",
        rf"/v2/{_NAME}/blobs/uploads/?",
        "start an upload; monolithic with ?digest=, mount with ?mount=&from=",
        POST=Endpoint(uploads.start_upload, Access.PUSH),
    ),
    _route(
        "upload",
        rf"/v2/{_NAME}/blobs/uploads/(?P<uuid>{_SEGMENT})",
        "upload status, chunk, finish or cancel",
        GET=Endpoint(uploads.get_upload, Access.PUSH),
        PATCH=Endpoint(uploads.patch_upload, Access.PUSH),
        PUT=Endpoint(uploads.put_upload, Access.PUSH),
        DELETE=Endpoint(uploads.delete_upload, Access.PUSH),
    ),
    _route(
        "blob",
        rf"/v2/{_NAME}/blobs/(?P<digest>{_SEGMENT})",
        "fetch (with Range), check or delete a blob",
        GET=Endpoint(blobs.get_blob, Access.PULL),
        HEAD=Endpoint(blobs.head_blob, Access.PULL),
        DELETE=Endpoint(blobs.delete_blob, Access.DELETE),
    ),
    _route(
        "referrers",
        rf"/v2/{_NAME}/referrers/(?P<digest>{_SEGMENT})",
        "list manifests whose subject is a digest (artifactType filter)",
        GET=Endpoint(manifests.get_referrers, Access.PULL),
    ),
)


def match(path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found is not None:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}
    return None
