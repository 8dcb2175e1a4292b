"""SigV4 verification: the server side of ``AWS4-HMAC-SHA256``.

The steps are AWS's: build the *canonical request* from the method, path, query, the signed
headers and the payload hash; hash it into the *string to sign* with the request time and the
credential scope (``date/region/service/aws4_request``); derive the *signing key* from the
secret by HMAC over each part of the scope; compare HMAC(signing key, string to sign) with
the signature the client sent. ``X-Amz-Security-Token`` is not checked (cais issues no
session tokens), but it is signed like any other header when the client lists it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from cais.aws import errors
from cais.aws.context import Principal
from cais.aws.credentials import KeyLookup
from cais.aws.request import AwsRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW_SECONDS = 15 * 60
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 …`` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


def parse_authorization(value: str) -> Authorization:
    """Split the header; anything malformed is an ``IncompleteSignatureException``."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise errors.incomplete_signature(
            f"Unsupported authorization algorithm {algorithm!r}: only {ALGORITHM} is accepted"
        )
    params: dict[str, str] = {}
    for item in rest.split(","):
        name, eq, val = item.strip().partition("=")
        if eq:
            params[name] = val.strip()
    missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not params.get(p)]
    if missing:
        text = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
        raise errors.incomplete_signature(f"{text} Authorization={value}")
    credential = params["Credential"].split("/")
    if len(credential) != 5 or not all(credential):
        raise errors.incomplete_signature(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{params['Credential']}'"
        )
    key_id, date, region, service, terminator = credential
    if terminator != TERMINATOR:
        raise errors.incomplete_signature(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'."
        )
    signature = params["Signature"]
    if len(signature) != 64 or any(c not in "0123456789abcdef" for c in signature):
        raise errors.incomplete_signature("Signature must be 64 lowercase hexadecimal digits")
    signed = tuple(params["SignedHeaders"].split(";"))
    return Authorization(key_id, date, region, service, signed, signature)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(request: AwsRequest, signed_headers: tuple[str, ...]) -> str:
    headers = []
    for name in signed_headers:
        values = request.header_values(name)
        headers.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    payload_hash = hashlib.sha256(request.body).hexdigest()
    return "\n".join(
        (
            request.method.upper(),
            _canonical_uri(request.path),
            _canonical_query(request.query),
            "".join(headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def compute_signature(secret: str, auth: Authorization, amz_date: str, canonical: str) -> str:
    key = signing_key(secret, auth.date, auth.region, auth.service)
    to_sign = string_to_sign(amz_date, auth.scope, canonical)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class SigV4Verifier:
    """Checks a request's signature against the keys of a :class:`KeyLookup`."""

    def __init__(
        self,
        keys: KeyLookup,
        *,
        clock: Callable[[], float] = time.time,
        max_skew: float = MAX_SKEW_SECONDS,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._max_skew = max_skew

    def verify(self, request: AwsRequest, *, service: str) -> tuple[Principal, str]:
        """The principal and region of a correctly signed request, or an AwsError.

        ``service`` is the signing name the credential scope must name (``logs``, ``ecr``…).
        """
        header = request.header("Authorization")
        if not header:
            raise errors.missing_authentication()
        auth = parse_authorization(header)
        if "host" not in auth.signed_headers:
            raise errors.incomplete_signature(
                "'Host' must be a 'SignedHeader' in the AWS Authorization."
            )
        amz_date = self._request_time(request)
        key = self._keys.get(auth.access_key_id)
        if key is None or not key.active:
            raise errors.unrecognized_client()
        if amz_date[:8] != auth.date:
            raise errors.invalid_signature(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if auth.service != service:
            raise errors.invalid_signature(
                f"Credential should be scoped to correct service: '{service}'."
            )
        self._check_skew(amz_date)
        expected = compute_signature(
            key.secret_access_key, auth, amz_date, canonical_request(request, auth.signed_headers)
        )
        if not hmac.compare_digest(expected, auth.signature):
            raise errors.invalid_signature()
        return Principal(key.access_key_id, key.account_id, key.user_name), auth.region

    def _request_time(self, request: AwsRequest) -> str:
        amz_date = request.header("X-Amz-Date")
        if amz_date:
            try:
                time.strptime(amz_date, _AMZ_DATE)
            except ValueError:
                raise errors.incomplete_signature(
                    f"X-Amz-Date must be in ISO-8601 basic format, got {amz_date!r}"
                ) from None
            return amz_date
        date = request.header("Date")
        if date:
            try:
                parsed = parsedate_to_datetime(date)
            except (TypeError, ValueError):
                raise errors.incomplete_signature(f"Date header is malformed: {date!r}") from None
            return time.strftime(_AMZ_DATE, time.gmtime(parsed.timestamp()))
        raise errors.incomplete_signature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )

    def _check_skew(self, amz_date: str) -> None:
        signed_at = calendar.timegm(time.strptime(amz_date, _AMZ_DATE))
        now = self._clock()
        skew = int(self._max_skew // 60)
        if signed_at < now - self._max_skew:
            raise errors.invalid_signature(
                f"Signature expired: {amz_date} is now earlier than "
                f"{_fmt(now - self._max_skew)} ({_fmt(now)} - {skew} min.)"
            )
        if signed_at > now + self._max_skew:
            raise errors.invalid_signature(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_fmt(now + self._max_skew)} ({_fmt(now)} + {skew} min.)"
            )


def _fmt(epoch: float) -> str:
    return time.strftime(_AMZ_DATE, time.gmtime(epoch))


def _canonical_uri(path: str) -> str:
    """As botocore builds it for every service but S3: dot segments removed, encoded again."""
    segments: list[str] = []
    for segment in path.split("/")[1:] if path.startswith("/") else path.split("/"):
        if segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalized = "/" + "/".join(segments)
    return quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))
