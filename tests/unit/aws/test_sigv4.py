"""SigV4 verification: botocore signs as a client would, cais must agree — and notice tampering."""

from __future__ import annotations

import calendar
import dataclasses
import time
from collections.abc import Callable

import pytest

from cais.aws.credentials import CredentialStore
from cais.aws.errors import AwsError
from cais.aws.request import AwsRequest
from cais.aws.sigv4 import (
    Authorization,
    SigV4Verifier,
    canonical_request,
    compute_signature,
    parse_authorization,
)

Signer = Callable[..., AwsRequest]


def _replace_header(request: AwsRequest, name: str, value: str) -> AwsRequest:
    headers = tuple((k, value if k.lower() == name.lower() else v) for k, v in request.headers)
    return dataclasses.replace(request, headers=headers)


def _error(verifier: SigV4Verifier, request: AwsRequest, service: str = "logs") -> AwsError:
    with pytest.raises(AwsError) as info:
        verifier.verify(request, service=service)
    return info.value


def test_aws_published_vector_get_vanilla() -> None:
    """The 'get-vanilla' case of AWS's SigV4 test suite, computed by the verifier's parts."""
    request = AwsRequest(
        method="GET",
        path="/",
        query="",
        headers=(("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")),
        body=b"",
    )
    auth = Authorization(
        "AKIDEXAMPLE", "20150830", "us-east-1", "service", ("host", "x-amz-date"), "0" * 64
    )
    canonical = canonical_request(request, auth.signed_headers)
    signature = compute_signature(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", auth, "20150830T123600Z", canonical
    )
    assert signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"


def test_botocore_signed_request_verifies(keys: CredentialStore, sign: Signer) -> None:
    principal, region = SigV4Verifier(keys).verify(sign(region="eu-west-3"), service="logs")
    assert principal.access_key_id == "AKIACAISLOCALDEFAULT"
    assert principal.account_id == "000000000000"
    assert region == "eu-west-3"


def test_session_token_is_signed_but_not_checked(keys: CredentialStore, sign: Signer) -> None:
    request = sign(token="any-session-token")
    assert request.header("X-Amz-Security-Token") == "any-session-token"
    principal, _ = SigV4Verifier(keys).verify(request, service="logs")
    assert principal.user_name == "default"


def test_query_and_path_are_part_of_the_signature(keys: CredentialStore, sign: Signer) -> None:
    request = sign(path="/some/path?b=2&a=1%20x")
    verifier = SigV4Verifier(keys)
    verifier.verify(request, service="logs")
    assert _error(verifier, dataclasses.replace(request, query="a=1")).type == (
        "InvalidSignatureException"
    )
    assert _error(verifier, dataclasses.replace(request, path="/other")).type == (
        "InvalidSignatureException"
    )


def test_created_key_verifies_and_deleted_key_does_not(keys: CredentialStore, sign: Signer) -> None:
    key = keys.create(user_name="alice", account_id="123456789012")
    request = sign(access_key=key.access_key_id, secret=key.secret_access_key)
    verifier = SigV4Verifier(keys)
    principal, _ = verifier.verify(request, service="logs")
    assert (principal.account_id, principal.user_name) == ("123456789012", "alice")
    keys.set_status(key.access_key_id, "Inactive")
    assert _error(verifier, request).type == "UnrecognizedClientException"
    keys.delete(key.access_key_id)
    assert _error(verifier, request).type == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda r: dataclasses.replace(r, body=b'{"limit": 5}'), "InvalidSignatureException"),
        (
            lambda r: _replace_header(r, "X-Amz-Target", "Logs_20140328.DeleteLogGroup"),
            "InvalidSignatureException",
        ),
        (lambda r: _replace_header(r, "Host", "127.0.0.1:9999"), "InvalidSignatureException"),
        (lambda r: dataclasses.replace(r, method="PUT"), "InvalidSignatureException"),
    ],
    ids=["body", "signed-header", "host", "method"],
)
def test_tampered_request_is_refused(
    keys: CredentialStore, sign: Signer, tamper: object, expected: str
) -> None:
    request = tamper(sign())  # type: ignore[operator]
    error = _error(SigV4Verifier(keys), request)
    assert (error.type, error.status) == (expected, 403)


def test_tampered_signature_is_refused(keys: CredentialStore, sign: Signer) -> None:
    request = sign()
    header = request.header("Authorization") or ""
    last = header[-1]
    forged = header[:-1] + ("0" if last != "0" else "1")
    error = _error(SigV4Verifier(keys), _replace_header(request, "Authorization", forged))
    assert error.type == "InvalidSignatureException"


def test_wrong_secret_is_an_invalid_signature(keys: CredentialStore, sign: Signer) -> None:
    error = _error(SigV4Verifier(keys), sign(secret="not-the-secret"))
    assert (error.type, error.status) == ("InvalidSignatureException", 403)
    assert "signature we calculated does not match" in error.message


def test_unknown_key_is_unrecognized(keys: CredentialStore, sign: Signer) -> None:
    error = _error(SigV4Verifier(keys), sign(access_key="AKIANOSUCHKEY0000000"))
    assert (error.type, error.status) == ("UnrecognizedClientException", 403)


def test_scope_must_name_the_service(keys: CredentialStore, sign: Signer) -> None:
    error = _error(SigV4Verifier(keys), sign(service="ecr"), service="logs")
    assert error.type == "InvalidSignatureException"
    assert "'logs'" in error.message


def test_missing_authorization(keys: CredentialStore, sign: Signer) -> None:
    request = sign()
    bare = dataclasses.replace(
        request, headers=tuple(h for h in request.headers if h[0].lower() != "authorization")
    )
    error = _error(SigV4Verifier(keys), bare)
    assert (error.type, error.status) == ("MissingAuthenticationTokenException", 403)


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256 Credential=AKIACAISLOCALDEFAULT/20240101/us-east-1/logs/aws4_request",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/logs/aws4_request, SignedHeaders=host, "
        "Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/logs/aws5_request, "
        "SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/logs/aws4_request, "
        "SignedHeaders=host, Signature=xyz",
    ],
    ids=["no-signature", "algorithm", "scope-parts", "terminator", "signature-hex"],
)
def test_malformed_authorization_is_incomplete(
    keys: CredentialStore, sign: Signer, header: str
) -> None:
    request = _replace_header(sign(), "Authorization", header)
    assert _error(SigV4Verifier(keys), request).type == "IncompleteSignatureException"


def test_host_must_be_signed(keys: CredentialStore, sign: Signer) -> None:
    request = sign()
    header = (request.header("Authorization") or "").replace("SignedHeaders=", "SignedHeaders=x;")
    header = header.replace("x;content-type;host;", "content-type;")
    error = _error(SigV4Verifier(keys), _replace_header(request, "Authorization", header))
    assert error.type == "IncompleteSignatureException"


def test_clock_skew(keys: CredentialStore, sign: Signer) -> None:
    request = sign()
    signed_at = calendar.timegm(time.strptime(request.header("X-Amz-Date") or "", "%Y%m%dT%H%M%SZ"))
    SigV4Verifier(keys, clock=lambda: signed_at + 14 * 60).verify(request, service="logs")
    late = _error(SigV4Verifier(keys, clock=lambda: signed_at + 16 * 60), request)
    assert late.type == "InvalidSignatureException"
    assert "Signature expired" in late.message
    early = _error(SigV4Verifier(keys, clock=lambda: signed_at - 16 * 60), request)
    assert "not yet current" in early.message


def test_parse_authorization() -> None:
    auth = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20240102/eu-west-1/ecr/aws4_request,"
        "SignedHeaders=host;x-amz-date,Signature=" + "a" * 64
    )
    assert auth.scope == "20240102/eu-west-1/ecr/aws4_request"
    assert auth.signed_headers == ("host", "x-amz-date")
