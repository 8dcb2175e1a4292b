"""The errors Amazon ECS returns, with its types and, where known, its messages.

Every one is an :class:`~cais.aws.AwsError` (HTTP 400), which botocore raises as
``client.exceptions.<Type>``. ECS answers bad task definitions with ``ClientException``
and bad request parameters with ``InvalidParameterException``.
"""

from __future__ import annotations

from cais.aws.errors import AwsError

INVALID_PARAMETER = "InvalidParameterException"
CLIENT = "ClientException"


def invalid(message: str) -> AwsError:
    return AwsError(INVALID_PARAMETER, message)


def client(message: str) -> AwsError:
    return AwsError(CLIENT, message)


def cluster_not_found() -> AwsError:
    return AwsError("ClusterNotFoundException", "Cluster not found.")


def cluster_has_instances() -> AwsError:
    return AwsError(
        "ClusterContainsContainerInstancesException",
        "The Cluster cannot be deleted while Container Instances are active or draining.",
    )


def cluster_has_tasks() -> AwsError:
    return AwsError(
        "ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active."
    )


def task_definition_not_found() -> AwsError:
    """RunTask / StartTask naming a task definition that does not exist."""
    return client("TaskDefinition not found.")


def task_definition_inactive() -> AwsError:
    return client("TaskDefinition is inactive.")


def cannot_describe_task_definition() -> AwsError:
    return client("Unable to describe task definition.")


def task_definition_does_not_exist() -> AwsError:
    return client("The specified task definition does not exist.")


def task_not_found() -> AwsError:
    return invalid("The referenced task was not found.")


def instance_not_found() -> AwsError:
    return invalid("The referenced container instance was not found.")


def target_not_found(target: str) -> AwsError:
    return AwsError("TargetNotFoundException", f"Could not find {target}.")


def attribute_limit(limit: int) -> AwsError:
    return AwsError(
        "AttributeLimitExceededException",
        f"You can apply up to {limit} custom attributes per resource.",
    )


def resource_not_found(resource_arn: str) -> AwsError:
    return AwsError(
        "ResourceNotFoundException", f"The specified resource could not be found: {resource_arn}"
    )


def service_not_found() -> AwsError:
    return AwsError("ServiceNotFoundException", "Service not found.")


def limit_exceeded(message: str) -> AwsError:
    return AwsError("LimitExceededException", message)
