"""An in-memory Distribution registry behind ``httpx.MockTransport``, with knobs for faults.

It speaks just enough of the spec for a client (ping, manifests, blobs with Range,
monolithic and chunked uploads, mounts) with no auth, Basic, or Bearer tokens from a realm
on ``auth.test``. Every request is logged (method, path, query, status, bytes sent), so
tests can assert what the client did on the wire. Faults: a tampered blob, a connection
that breaks after N bytes, Range ignored, mounts refused, tokens revoked.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import secrets
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from cais.engine import Engine
from cais.oci import mediatypes as mt

REALM = "https://auth.test/token"
SERVICE = "fake-registry"

_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_UPLOAD = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]*)$")
_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_archive(name: str, layers: list[bytes]) -> bytes:
    """A docker-archive (as ``docker save`` writes) with uncompressed layers."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layers]},
        }
    ).encode()
    files = {"config.json": config}
    for i, layer in enumerate(layers):
        files[f"l{i}/layer.tar"] = layer
    manifest = [
        {
            "Config": "config.json",
            "RepoTags": [name],
            "Layers": [f"l{i}/layer.tar" for i in range(len(layers))],
        }
    ]
    files["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    sent: int


class _Breaking(httpx.SyncByteStream):
    """Sends ``limit`` bytes, then fails as a dropped connection does."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.limit = limit

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.limit]
        raise httpx.ReadError("connection reset by peer")


@dataclass
class FakeRegistry:
    auth: str = "none"  # none | basic | bearer
    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    anonymous_pull: bool = False
    blobs: dict[str, bytes] = field(default_factory=dict)
    repo_blobs: dict[str, set[str]] = field(default_factory=dict)
    manifests: dict[str, dict[str, tuple[bytes, str]]] = field(default_factory=dict)
    tampered: dict[str, bytes] = field(default_factory=dict)
    break_after: dict[str, int] = field(default_factory=dict)
    ignore_range: bool = False
    drop_patch: int = 0  # the Nth PATCH is stored, then its answer is lost (0: none)
    signed_state: bool = True  # each Location's _state must be the latest, as distribution's
    mounts: bool = True
    log: list[Logged] = field(default_factory=list)
    tokens: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, tuple[str, bytearray]] = field(default_factory=dict)
    upload_states: dict[str, str] = field(default_factory=dict)
    patches: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # content helpers

    def add_blob(self, repo: str, data: bytes) -> str:
        digest = sha(data)
        self.blobs[digest] = data
        self.repo_blobs.setdefault(repo, set()).add(digest)
        return digest

    def add_manifest(self, repo: str, tag: str | None, data: bytes, media_type: str) -> str:
        digest = sha(data)
        entries = self.manifests.setdefault(repo, {})
        entries[digest] = (data, media_type)
        if tag:
            entries[tag] = (data, media_type)
        return digest

    def add_image(
        self,
        repo: str,
        tag: str | None,
        layers: list[bytes],
        *,
        arch: str = "amd64",
        docker: bool = False,
        compress: bool = True,
    ) -> tuple[str, bytes]:
        """An image whose layers are the given tars (gzipped unless ``compress=False``)."""
        diff_ids = [sha(tar) for tar in layers]
        blobs = [gzip.compress(t, mtime=0) if compress else t for t in layers]
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": "test"} for _ in layers],
            }
        ).encode()
        if docker:
            mtype, ctype = mt.DOCKER_MANIFEST, mt.DOCKER_CONFIG
            ltype = mt.DOCKER_LAYER_GZIP if compress else mt.DOCKER_LAYER
        else:
            mtype, ctype = mt.OCI_MANIFEST, mt.OCI_CONFIG
            ltype = mt.OCI_LAYER_GZIP if compress else mt.OCI_LAYER
        doc = {
            "schemaVersion": 2,
            "mediaType": mtype,
            "config": {
                "mediaType": ctype,
                "digest": self.add_blob(repo, config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": ltype, "digest": self.add_blob(repo, b), "size": len(b)}
                for b in blobs
            ],
        }
        data = json.dumps(doc, indent=2).encode()  # not canonical: bytes must be kept as served
        return self.add_manifest(repo, tag, data, mtype), data

    def add_index(self, repo: str, tag: str, entries: list[tuple[str, str, str]]) -> str:
        """An index of (arch, manifest digest, variant) already in ``repo``."""
        manifests = []
        for arch, digest, variant in entries:
            data, media_type = self.manifests[repo][digest]
            platform = {"architecture": arch, "os": "linux"}
            if variant:
                platform["variant"] = variant
            manifests.append(
                {"mediaType": media_type, "digest": digest, "size": len(data), "platform": platform}
            )
        doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
        return self.add_manifest(repo, tag, json.dumps(doc).encode(), mt.OCI_INDEX)

    def requests(self, method: str = "", part: str = "") -> list[Logged]:
        return [e for e in self.log if (not method or e.method == method) and part in e.path]

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    # HTTP

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if request.url.host == "auth.test":
            response = self._token(request)
        else:
            response = self._registry(request)
        sent = 0 if isinstance(response.stream, _Breaking) else len(response.content)
        if isinstance(response.stream, _Breaking):
            sent = response.stream.limit
        self.log.append(
            Logged(
                request.method,
                request.url.path,
                dict(parse_qsl(request.url.query.decode())),
                dict(request.headers),
                response.status_code,
                sent,
            )
        )
        return response

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
        return httpx.Response(
            status,
            content=body.encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _basic_user(self, request: httpx.Request) -> str | None:
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user if self.users.get(user) == password else None

    def _token(self, request: httpx.Request) -> httpx.Response:
        query = parse_qsl(request.url.query.decode())
        scopes = [v for k, v in query if k == "scope"]
        self.token_requests.append(
            {
                "scopes": scopes,
                "service": dict(query).get("service"),
                "account": dict(query).get("account"),
                "authorization": request.headers.get("authorization", ""),
            }
        )
        user = self._basic_user(request)
        if user is None and request.headers.get("authorization"):
            return httpx.Response(401, json={"details": "incorrect username or password"})
        granted: set[tuple[str, str]] = set()
        for scope in scopes:
            _, name, actions = scope.split(":")
            for action in actions.split(","):
                if user is not None or (self.anonymous_pull and action == "pull"):
                    granted.add((name, action))
        token = secrets.token_hex(8)
        self.tokens[token] = granted
        return httpx.Response(200, json={"token": token, "expires_in": 300})

    def _allowed(
        self, request: httpx.Request, name: str, actions: tuple[str, ...]
    ) -> httpx.Response | None:
        """None if the request may go on, else the 401 to answer with."""
        if self.auth == "none":
            return None
        if self.auth == "basic":
            if self._basic_user(request) is not None:
                return None
            return self._error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                {"WWW-Authenticate": 'Basic realm="fake"'},
            )
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        granted = self.tokens.get(token) if kind.lower() == "bearer" else None
        if granted is not None and all((name, a) in granted for a in actions):
            return None
        challenge = f'Bearer realm="{REALM}",service="{SERVICE}"'
        if name:
            challenge += f',scope="repository:{name}:{",".join(actions)}"'
        if granted is not None and name:
            challenge += ',error="insufficient_scope"'
        return self._error(
            401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}
        )

    def _registry(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        if path in ("/v2/", "/v2"):
            if self.auth == "bearer":
                kind, _, token = request.headers.get("authorization", "").partition(" ")
                if kind.lower() == "bearer" and token in self.tokens:
                    return httpx.Response(200, json={})
            denied = self._allowed(request, "", ())
            return denied or httpx.Response(200, json={})
        found = _UPLOAD.match(path)
        if found:
            return self._upload(request, found["name"], found["uuid"])
        found = _MANIFEST.match(path)
        if found:
            name, ref = found["name"], found["ref"]
            needs = ("pull",) if method in ("GET", "HEAD") else ("pull", "push")
            denied = self._allowed(request, name, needs)
            if denied:
                return denied
            if method == "PUT":
                return self._put_manifest(request, name, ref)
            entry = self.manifests.get(name, {}).get(ref)
            if entry is None:
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            data, media_type = entry
            headers = {"Content-Type": media_type, "Docker-Content-Digest": sha(data)}
            served = self.tampered.get(ref, data)
            return httpx.Response(200, content=b"" if method == "HEAD" else served, headers=headers)
        found = _BLOB.match(path)
        if found:
            name, digest = found["name"], found["digest"]
            denied = self._allowed(request, name, ("pull",))
            if denied:
                return denied
            if digest not in self.repo_blobs.get(name, set()):
                return self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            data = self.tampered.get(digest, self.blobs[digest])
            if method == "HEAD":
                return httpx.Response(200, headers={"Content-Length": str(len(data))})
            return self._serve_blob(request, digest, data)
        return self._error(404, "NOT_FOUND", "no route")

    def _serve_blob(self, request: httpx.Request, digest: str, data: bytes) -> httpx.Response:
        start = 0
        status = 200
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        wanted = request.headers.get("range", "")
        if wanted and not self.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                return httpx.Response(416, headers={"Content-Range": f"bytes */{len(data)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        limit = self.break_after.pop(digest, None)
        if limit is not None:
            return httpx.Response(status, headers=headers, stream=_Breaking(body, limit))
        return httpx.Response(status, headers=headers, content=body)

    def _upload(self, request: httpx.Request, name: str, uuid: str) -> httpx.Response:
        query = dict(parse_qsl(request.url.query.decode()))
        needs = ["pull", "push"]
        denied = self._allowed(request, name, tuple(needs))
        if denied:
            return denied
        if request.method == "POST":
            mount, source = query.get("mount"), query.get("from")
            if mount and source and self.mounts:
                source_denied = self._allowed(request, source, ("pull",))
                if source_denied is None and mount in self.repo_blobs.get(source, set()):
                    self.repo_blobs.setdefault(name, set()).add(mount)
                    return httpx.Response(201, headers={"Location": f"/v2/{name}/blobs/{mount}"})
            new = secrets.token_hex(8)
            self.uploads[new] = (name, bytearray())
            self.upload_states[new] = secrets.token_hex(4)
            location = f"/v2/{name}/blobs/uploads/{new}?_state={self.upload_states[new]}"
            return httpx.Response(202, headers={"Location": location, "Range": "0-0"})
        if uuid not in self.uploads:
            return self._error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
        if self.signed_state and query.get("_state") != self.upload_states[uuid]:
            return self._error(400, "BLOB_UPLOAD_INVALID", "blob upload invalid")
        _, data = self.uploads[uuid]
        if request.method == "PATCH":
            self.upload_states[uuid] = secrets.token_hex(4)
        location = {
            "Location": f"/v2/{name}/blobs/uploads/{uuid}?_state={self.upload_states[uuid]}"
        }
        if request.method == "PATCH":
            content_range = request.headers.get("content-range")
            if content_range and int(content_range.split("-")[0]) != len(data):
                return httpx.Response(416, headers=location)
            data.extend(request.content)
            self.patches += 1
            if self.patches == self.drop_patch:
                raise httpx.ReadError("connection reset after the chunk was stored")
            return httpx.Response(202, headers={**location, "Range": f"0-{len(data) - 1}"})
        if request.method == "GET":
            return httpx.Response(204, headers={**location, "Range": f"0-{len(data) - 1}"})
        if request.method == "DELETE":
            del self.uploads[uuid]
            return httpx.Response(204)
        data.extend(request.content)
        digest = query.get("digest", "")
        if sha(bytes(data)) != digest:
            return self._error(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content"
            )
        del self.uploads[uuid]
        self.add_blob(name, bytes(data))
        return httpx.Response(
            201, headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
        )

    def _put_manifest(self, request: httpx.Request, name: str, ref: str) -> httpx.Response:
        data = request.content
        doc = json.loads(data)
        for desc in [doc.get("config"), *doc.get("layers", []), *doc.get("manifests", [])]:
            if (
                desc
                and desc["digest"] not in self.repo_blobs.get(name, set())
                and desc["digest"] not in self.manifests.get(name, {})
            ):
                return self._error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
        media_type = request.headers.get("content-type", "")
        digest = self.add_manifest(
            name, None if ref.startswith("sha256:") else ref, data, media_type
        )
        return httpx.Response(
            201,
            headers={"Docker-Content-Digest": digest, "Location": f"/v2/{name}/manifests/{digest}"},
        )


def store_state(engine: Engine) -> tuple[object, ...]:
    """Everything a failed pull must leave as it was (ingests too: no half blob kept)."""
    ingest = engine.content.root / "ingest"
    return (
        sorted(str(i.id) for i in engine.image_store.all()),
        sorted(str(b.digest) for b in engine.content.walk()),
        sorted(s.key for s in engine.snapshotter.walk()),
        sorted(p.name for p in ingest.glob("*")) if ingest.exists() else [],
    )
