"""What a provider knows about the call it serves: who, which account, which region."""

from __future__ import annotations

from dataclasses import dataclass

from cais.aws.arn import arn


@dataclass(frozen=True)
class Principal:
    """The identity behind a verified access key."""

    access_key_id: str
    account_id: str
    user_name: str

    @property
    def arn(self) -> str:
        return arn("iam", "", self.account_id, f"user/{self.user_name}")


@dataclass(frozen=True)
class RequestContext:
    """Handed to every provider method.

    ``account_id`` comes from the access key, ``region`` from the SigV4 credential scope; a
    provider shapes its ARNs and scopes its data with them, as AWS does.
    """

    account_id: str
    region: str
    request_id: str
    principal: Principal
    service: str = ""
    operation: str = ""

    def arn(self, service: str, resource: str) -> str:
        """An ARN in this call's account and region."""
        return arn(service, self.region, self.account_id, resource)
