"""One registry over HTTP: the distribution API calls a pull or a push is made of.

Built on httpx: it has a synchronous client (the engine is synchronous; transfers run in a
few threads), a connection pool shared by those threads, streaming bodies both ways,
certificate checks by default, and ``MockTransport`` — the seam (``transport=``) that lets
the unit tests run the whole client against an in-memory registry without a socket.

Every call names the scopes it needs, so the :class:`Authorizer` can fetch a token that
covers them; a 401 is answered once (new challenge, new token) and the call retried.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cais.distribution.auth import Authorizer, Scope, describe_transport_error
from cais.distribution.authfile import CredentialSource
from cais.distribution.errors import (
    ContentMismatchError,
    DistributionError,
    RegistryUnreachableError,
    TransferInterruptedError,
    response_error,
)
from cais.distribution.hosts import Endpoint, endpoint_for
from cais.oci import mediatypes as mt
from cais.oci.digest import Digest, DigestError, new_hasher

if TYPE_CHECKING:
    import httpx

MAX_MANIFEST_BYTES = 4 << 20
READ_CHUNK = 1 << 20
MANIFEST_ACCEPT = ", ".join(
    (mt.OCI_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST)
)
USER_AGENT = "cais/0.1 (distribution client)"

Body = bytes | Callable[[], Iterable[bytes]] | None
Progress = Callable[[int], None]


@dataclass(frozen=True)
class FetchedManifest:
    """Manifest bytes exactly as served, their media type and their (verified) digest."""

    data: bytes
    media_type: str
    digest: Digest


@dataclass(frozen=True)
class UploadSession:
    """An upload the registry opened: where to send the bytes next."""

    repository: str
    location: str


@dataclass(frozen=True)
class BlobStream:
    """A blob being read: ``offset`` is where the bytes start (a Range was honoured or not)."""

    offset: int
    total: int | None
    chunks: Iterator[bytes]


def _pull(name: str) -> list[Scope]:
    return [Scope.repository(name, "pull")]


def _push(name: str) -> list[Scope]:
    return [Scope.repository(name, "pull", "push")]


class RegistryClient:
    """The distribution API of one registry (``registry`` as a reference's domain names it)."""

    def __init__(
        self,
        registry: str,
        *,
        credentials: CredentialSource | None = None,
        tls_verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        connections: int = 16,
        cert_dirs: Sequence[Path] | None = None,
    ) -> None:
        _load_httpx()
        import httpx

        from cais.distribution.tls import CERT_DIRS, tls_context

        self.registry = registry
        self.endpoint: Endpoint = endpoint_for(registry, tls_verify=tls_verify)
        # the CAs HTTPS is verified against: the system's plus certs.d (None: not verified)
        self.tls: ssl.SSLContext | None = (
            tls_context(registry, CERT_DIRS if cert_dirs is None else cert_dirs)
            if self.endpoint.verify
            else None
        )
        self._http = httpx.Client(
            transport=transport,
            verify=self.tls if self.tls is not None else False,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        self.auth = Authorizer(self._http, registry=registry, credentials=credentials)
        self._base: str | None = None
        self._ping_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the base URL, learnt by pinging /v2/

    @property
    def base_url(self) -> str:
        return self.ping()

    def ping(self) -> str:
        """Find the scheme that answers ``/v2/`` and learn its challenge; returns the base URL."""
        import httpx

        with self._ping_lock:
            if self._base is not None:
                return self._base
            reasons = []
            for scheme in self.endpoint.schemes:
                base = self.endpoint.base_url(scheme)
                try:
                    response = self._http.get(f"{base}/v2/")
                except httpx.TransportError as exc:
                    reasons.append(describe_transport_error(exc))
                    continue
                if response.status_code == 401:
                    self.auth.learn(response)
                elif response.status_code != 200:
                    raise DistributionError(
                        f"{self.registry} does not serve the registry API "
                        f"(GET {base}/v2/ answered HTTP {response.status_code})"
                    )
                self._base = base
                return base
            raise RegistryUnreachableError(
                f"cannot reach registry {self.registry}: {reasons[-1] if reasons else 'no route'}"
            )

    def check_login(self) -> None:
        """Prove the credential works: ``/v2/`` with it (through a token for Bearer)."""
        base = self.ping()
        if self.auth.challenge is None:
            return
        response = self._send("GET", f"{base}/v2/", scopes=[], retry_unauthorized=False)
        if response.status_code != 200:
            raise response_error(response.status_code, response.content)

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _send(
        self,
        method: str,
        url: str,
        *,
        scopes: list[Scope],
        headers: dict[str, str] | None = None,
        body: Body = None,
        params: list[tuple[str, str]] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
        retry_unauthorized: bool = True,
    ) -> httpx.Response:
        import httpx

        for attempt in (0, 1):
            request_headers = dict(headers or {})
            authorization = self.auth.authorization(scopes)
            if authorization:
                request_headers["Authorization"] = authorization
            content = body() if callable(body) else body
            target = httpx.URL(url)
            if params:  # added to the query an upload Location may already carry
                target = target.copy_merge_params(httpx.QueryParams(tuple(params)))
            request = self._http.build_request(
                method, target, headers=request_headers, content=content
            )
            try:
                response = self._http.send(
                    request, stream=stream, follow_redirects=follow_redirects
                )
            except httpx.TransportError as exc:
                reason = describe_transport_error(exc)
                if isinstance(exc, httpx.ConnectError):
                    raise RegistryUnreachableError(
                        f"cannot reach registry {self.registry}: {reason}"
                    ) from None
                raise TransferInterruptedError(
                    f"{method} {request.url.path} on {self.registry} failed: {reason}"
                ) from None
            if (
                response.status_code == 401
                and attempt == 0
                and retry_unauthorized
                and self.auth.learn(response)
            ):
                response.close()
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(
        self, response: httpx.Response, *, context: str, missing: str = ""
    ) -> DistributionError:
        body = response.read() if not response.is_closed else response.content
        response.close()
        return response_error(response.status_code, body, context=context, missing=missing)

    # manifests

    def get_manifest(self, repository: str, reference: str) -> FetchedManifest:
        """GET a manifest by tag or digest; the bytes are checked against the digest."""
        where = f"{self.registry}/{repository}"
        shown = f"{where}@{reference}" if ":" in reference else f"{where}:{reference}"
        response = self._send(
            "GET",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            scopes=_pull(repository),
            headers={"Accept": MANIFEST_ACCEPT},
            stream=True,
        )
        if response.status_code != 200:
            raise self._fail(
                response,
                context=f"reading manifest {reference} in {where}",
                missing=f"manifest for {shown} not found",
            )
        try:
            data = _read_capped(response, MAX_MANIFEST_BYTES, f"manifest {shown}")
        finally:
            response.close()
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        expected: Digest | None = None
        for text in (
            reference if ":" in reference else "",
            response.headers.get("docker-content-digest", ""),
        ):
            if text:
                try:
                    expected = Digest.parse(text)
                except DigestError:
                    continue
                break
        actual = Digest.from_bytes(data, expected.algorithm if expected else "sha256")
        if expected is not None and actual != expected:
            raise ContentMismatchError(
                f"manifest {shown}: the registry served bytes with digest {actual}, "
                f"expected {expected}"
            )
        if expected is not None and expected.algorithm != "sha256":
            actual = Digest.from_bytes(data)
        return FetchedManifest(data, media_type, actual)

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> Digest:
        digest = Digest.from_bytes(data)
        response = self._send(
            "PUT",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            scopes=_push(repository),
            headers={"Content-Type": media_type},
            body=data,
        )
        if response.status_code not in (200, 201, 202):
            raise self._fail(
                response, context=f"pushing manifest {reference} to {self.registry}/{repository}"
            )
        served = response.headers.get("docker-content-digest")
        if served and served != str(digest):
            raise ContentMismatchError(
                f"{self.registry} stored the manifest as {served}, cais sent {digest}"
            )
        return digest

    # blobs

    def blob_size(self, repository: str, digest: Digest) -> int | None:
        """HEAD a blob: its size, or None when the repository does not have it."""
        response = self._send(
            "HEAD",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            scopes=_pull(repository),
            follow_redirects=True,
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, context=f"checking blob {digest} in {repository}")
        length = response.headers.get("content-length")
        return int(length) if length and length.isdigit() else -1

    @contextmanager
    def open_blob(
        self, repository: str, digest: Digest, *, offset: int = 0
    ) -> Iterator[BlobStream]:
        """Stream a blob from ``offset`` (a Range request); the registry may start at 0."""
        import httpx

        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        url = self._url(f"/v2/{repository}/blobs/{digest}")
        scopes = _pull(repository)
        response = self._send(
            "GET", url, scopes=scopes, headers=headers, stream=True, follow_redirects=True
        )
        if response.status_code == 416 and offset:
            response.close()
            del headers["Range"]
            response = self._send(
                "GET", url, scopes=scopes, headers=headers, stream=True, follow_redirects=True
            )
        try:
            if response.status_code not in (200, 206):
                raise self._fail(
                    response,
                    context=f"fetching blob {digest} from {self.registry}/{repository}",
                    missing=f"blob {digest} not found in {self.registry}/{repository}",
                )
            start, total = 0, _int(response.headers.get("content-length"))
            if response.status_code == 206:
                start, total = _content_range(response.headers.get("content-range", ""))
                if start != offset:
                    raise ContentMismatchError(
                        f"blob {digest}: asked for bytes from {offset}, got from {start}"
                    )

            def chunks() -> Iterator[bytes]:
                try:
                    # decoded if a proxy added a Content-Encoding: the digest is of the blob
                    yield from response.iter_bytes()
                except httpx.TransportError as exc:
                    raise TransferInterruptedError(
                        f"download of {digest} from {self.registry} broke off: "
                        f"{describe_transport_error(exc)}"
                    ) from None

            yield BlobStream(start, total, chunks())
        finally:
            response.close()

    def fetch_blob(self, repository: str, digest: Digest, *, max_size: int) -> bytes:
        """A small blob (a config) in memory, verified against its digest."""
        with self.open_blob(repository, digest) as blob:
            hasher = new_hasher(digest.algorithm)
            parts: list[bytes] = []
            size = 0
            for chunk in blob.chunks:
                size += len(chunk)
                if size > max_size:
                    raise ContentMismatchError(f"blob {digest} is larger than {max_size} bytes")
                hasher.update(chunk)
                parts.append(chunk)
        actual = Digest(digest.algorithm, hasher.hexdigest())
        if actual != digest:
            raise ContentMismatchError(
                f"blob {digest} from {self.registry}/{repository} has digest {actual}"
            )
        return b"".join(parts)

    # uploads

    def start_upload(
        self, repository: str, *, mount: Digest | None = None, source: str | None = None
    ) -> UploadSession | None:
        """Open an upload; with ``mount``, ask for the blob from ``source`` first.
        None means the registry mounted it (201); otherwise the session to upload into.
        """
        scopes = _push(repository)
        params: list[tuple[str, str]] = []
        if mount is not None:
            params.append(("mount", str(mount)))
            if source:
                params.append(("from", source))
                scopes = [*scopes, *_pull(source)]
        response = self._send(
            "POST",
            self._url(f"/v2/{repository}/blobs/uploads/"),
            scopes=scopes,
            params=params,
            body=b"",
        )
        if mount is not None and response.status_code == 201:
            response.close()
            return None
        if response.status_code != 202:
            raise self._fail(
                response, context=f"starting an upload to {self.registry}/{repository}"
            )
        return UploadSession(repository, self._location(response))

    def _location(self, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise DistributionError(f"{self.registry} opened an upload without a Location")
        return str(response.url.join(location))

    def cancel_upload(self, session: UploadSession) -> None:
        try:
            self._send("DELETE", session.location, scopes=_push(session.repository)).close()
        except DistributionError:
            pass

    def upload_blob(
        self,
        session: UploadSession,
        path: Path,
        *,
        digest: Digest,
        size: int,
        chunk_size: int,
        progress: Progress | None = None,
    ) -> None:
        """Send the file at ``path`` into ``session``: one PUT when it is at most
        ``chunk_size``, else PATCHes of ``chunk_size`` and a closing PUT with the digest.
        A chunk lost to a broken connection is resumed from the offset the registry reports
        (or, where it cannot say, in a new upload).
        """
        scopes = _push(session.repository)
        location = session.location
        if size > chunk_size:
            offset = 0
            retries = 0
            while offset < size:
                length = min(chunk_size, size - offset)
                try:
                    response = self._send(
                        "PATCH",
                        location,
                        scopes=scopes,
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Range": f"{offset}-{offset + length - 1}",
                            "Content-Length": str(length),
                        },
                        body=_file_body(path, offset, length, progress),
                    )
                except TransferInterruptedError:
                    retries += 1
                    if retries > 3:
                        raise
                    try:
                        location, offset = self._upload_status(session, location)
                    except DistributionError:
                        # distribution signs each Location's state: a lost answer makes
                        # the upload unusable, so begin another one
                        fresh = self.start_upload(session.repository)
                        assert fresh is not None
                        session, location, offset = fresh, fresh.location, 0
                    continue
                if response.status_code != 202:
                    raise self._fail(response, context=f"uploading {digest} to {self.registry}")
                location = self._location(response)
                offset += length
            length, body_offset = 0, size
        else:
            length, body_offset = size, 0
        response = self._send(
            "PUT",
            location,
            scopes=scopes,
            params=[("digest", str(digest))],
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
            body=_file_body(path, body_offset, length, progress) if length else b"",
        )
        if response.status_code not in (201, 204):
            raise self._fail(response, context=f"uploading {digest} to {self.registry}")
        response.close()

    def _upload_status(self, session: UploadSession, location: str) -> tuple[str, int]:
        """Where a broken chunked upload stands: (location, next offset)."""
        response = self._send("GET", location, scopes=_push(session.repository))
        if response.status_code not in (202, 204):
            raise self._fail(response, context=f"resuming an upload to {self.registry}")
        _, _, end = response.headers.get("range", "0--1").partition("-")
        return self._location(response), int(end) + 1 if end.lstrip("-").isdigit() else 0


def _load_httpx() -> None:
    """Import httpx without its command-line module, which loads rich, click and pygments
    (~60 ms of a short ``cais push``): a None in ``sys.modules`` makes that import fail,
    and httpx then skips it, as it does when those are not installed.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import httpx  # noqa: F401


def _file_body(
    path: Path, offset: int, length: int, progress: Progress | None
) -> Callable[[], Iterator[bytes]]:
    def body() -> Iterator[bytes]:
        left = length
        with open(path, "rb") as fh:
            fh.seek(offset)
            while left > 0:
                chunk = fh.read(min(READ_CHUNK, left))
                if not chunk:
                    raise DistributionError(f"{path} ended {left} bytes early")
                left -= len(chunk)
                if progress is not None:
                    progress(len(chunk))
                yield chunk

    return body


def _read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ContentMismatchError(f"{what} is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _content_range(text: str) -> tuple[int, int | None]:
    """``bytes 100-199/1000`` → (100, 100 bytes to come)."""
    unit, _, spec = text.partition(" ")
    span, _, _ = spec.partition("/")
    first, _, last = span.partition("-")
    if unit != "bytes" or not first.isdigit() or not last.isdigit():
        raise ContentMismatchError(f"malformed Content-Range {text!r} in a 206 answer")
    return int(first), int(last) - int(first) + 1
