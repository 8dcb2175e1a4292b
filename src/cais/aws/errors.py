"""Errors on the AWS wire: a type name, a message and an HTTP status.

Providers raise :class:`AwsError` (or a subclass) and the dispatcher turns it into
``{"__type": type, "message": message}`` with ``status``, which is exactly what botocore
parses into ``client.exceptions.<Type>``. It is also a :class:`~cais.errors.CaisError`, so
the same error reads well when a CLI command or the engine calls a domain in-process.
"""

from __future__ import annotations

from cais.errors import CaisError


class AwsError(CaisError):
    """An error an AWS-compatible API returns: ``type`` is AWS's exception name."""

    def __init__(self, type: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"AwsError({self.type!r}, {self.message!r}, status={self.status})"

    def body(self) -> dict[str, str]:
        return {"__type": self.type, "message": self.message}


# Errors the protocol layer itself produces (the names AWS's front end uses).


def unknown_operation(target: str) -> AwsError:
    return AwsError("UnknownOperationException", f"Unknown operation {target!r}")


def serialization(message: str) -> AwsError:
    return AwsError("SerializationException", message)


def missing_authentication() -> AwsError:
    return AwsError(
        "MissingAuthenticationTokenException", "Missing Authentication Token", status=403
    )


def unrecognized_client() -> AwsError:
    return AwsError(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        status=403,
    )


def invalid_signature(message: str | None = None) -> AwsError:
    return AwsError(
        "InvalidSignatureException",
        message
        or "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details.",
        status=403,
    )


def incomplete_signature(message: str) -> AwsError:
    return AwsError("IncompleteSignatureException", message, status=400)


def request_too_large(size: int, limit: int) -> AwsError:
    return AwsError(
        "RequestEntityTooLargeException",
        f"Request size {size} bytes exceeded the limit of {limit} bytes",
        status=413,
    )


def internal_failure(request_id: str) -> AwsError:
    return AwsError(
        "InternalFailure",
        f"The request processing has failed because of an unknown error (request {request_id})",
        status=500,
    )
