"""The paths of the API, built in one place (handlers put them in Location and Link)."""

from __future__ import annotations

from urllib.parse import urlencode

from cais.oci.digest import Digest


def blob(name: str, digest: Digest) -> str:
    return f"/v2/{name}/blobs/{digest}"


def manifest(name: str, reference: str | Digest) -> str:
    return f"/v2/{name}/manifests/{reference}"


def upload(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def tags(name: str, *, n: int | None = None, last: str | None = None) -> str:
    return f"/v2/{name}/tags/list" + _query(n, last)


def catalog(*, n: int | None = None, last: str | None = None) -> str:
    return "/v2/_catalog" + _query(n, last)


def referrers(name: str, digest: Digest) -> str:
    return f"/v2/{name}/referrers/{digest}"


def _query(n: int | None, last: str | None) -> str:
    params: dict[str, str] = {}
    if n is not None:
        params["n"] = str(n)
    if last is not None:
        params["last"] = last
    return "?" + urlencode(params) if params else ""
