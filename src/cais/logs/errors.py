"""The errors CloudWatch Logs gives, with its messages."""

from __future__ import annotations

from cais.aws.errors import AwsError


def group_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log stream does not exist.")


def resource_not_found(arn: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The specified resource does not exist: {arn}")


def group_exists() -> AwsError:
    return AwsError("ResourceAlreadyExistsException", "The specified log group already exists")


def stream_exists() -> AwsError:
    return AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def too_many_tags(limit: int) -> AwsError:
    return AwsError("TooManyTagsException", f"A resource can have no more than {limit} tags.")
