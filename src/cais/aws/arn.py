"""ARNs shaped like AWS's: ``arn:aws:<service>:<region>:<account>:<resource>``."""

from __future__ import annotations

from dataclasses import dataclass

from cais.aws.errors import AwsError

PARTITION = "aws"


@dataclass(frozen=True)
class Arn:
    """An Amazon Resource Name; ``resource`` keeps AWS's per-service form (``repository/x``)."""

    service: str
    region: str
    account: str
    resource: str
    partition: str = PARTITION

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @classmethod
    def parse(cls, text: str, *, error_type: str = "InvalidParameterException") -> Arn:
        """Split an ARN; a string that is not one raises ``error_type`` naming it."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
            raise AwsError(error_type, f"Invalid ARN: {text!r}")
        _, partition, service, region, account, resource = parts
        return cls(service, region, account, resource, partition)


def arn(service: str, region: str, account: str, resource: str) -> str:
    """The ARN string for a resource of ``service`` in ``region`` of ``account``."""
    return str(Arn(service, region, account, resource))
