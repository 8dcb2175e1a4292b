"""The ECR API (``AmazonEC2ContainerRegistry_V20150921.*``) over the :class:`Ecr` domain.

Thin on purpose: each method maps an operation's request members to a domain call and the
domain's values back to AWS's response members. The dispatcher already checked the input
against botocore's model; what remains here are the rules the model cannot state.
Repository, policy and tag operations live here; image and lifecycle operations in
:mod:`cais.ecr.provider_images` (one class through a mixin, split for size).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from cais.aws.arn import Arn
from cais.aws.context import RequestContext
from cais.aws.errors import AwsError
from cais.aws.pagination import TokenCodec, page_size
from cais.ecr import errors
from cais.ecr.lifecycle import LifecyclePolicy
from cais.ecr.model import MUTABLE, WITH_EXCLUSION, Repository, TagMutability
from cais.ecr.policy import check_repository_policy
from cais.ecr.provider_images import ImageOperations
from cais.ecr.service import Ecr

Params = dict[str, Any]
Result = dict[str, Any]

VALIDATION_ERROR = errors.INVALID_PARAMETER
_DESCRIBE_DEFAULT = 100
_DESCRIBE_MAX = 1000
_KMS_TYPES = ("KMS", "KMS_DSSE")


def registry_id(ctx: RequestContext, p: Params) -> str:
    """The registry a call names (``registryId``), by default the caller's account."""
    return str(p.get("registryId") or ctx.account_id)


def mutability_of(p: Params) -> TagMutability:
    mode = p.get("imageTagMutability", MUTABLE)
    filters = tuple(f["filter"] for f in p.get("imageTagMutabilityExclusionFilters") or ())
    if mode in WITH_EXCLUSION and not filters:
        raise errors.invalid_at(
            "imageTagMutabilityExclusionFilters",
            f"Exclusion filters are required when imageTagMutability is {mode}",
        )
    if mode not in WITH_EXCLUSION and filters:
        raise errors.invalid_at(
            "imageTagMutabilityExclusionFilters",
            f"Exclusion filters can only be used with {' or '.join(WITH_EXCLUSION)}",
        )
    return TagMutability(mode, filters)


def mutability_members(mutability: TagMutability) -> Result:
    out: Result = {"imageTagMutability": mutability.mode}
    if mutability.filters:
        out["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": f} for f in mutability.filters
        ]
    return out


class EcrProvider(ImageOperations):
    """One method per supported operation: ``(ctx, params) -> response members``."""

    def __init__(self, ecr: Ecr, *, actions: Collection[str] = ()) -> None:
        self.ecr = ecr
        self.store = ecr.store
        self._actions = frozenset(actions)
        self._tokens = TokenCodec(error_type=VALIDATION_ERROR)

    def _repository(self, repo: Repository) -> Result:
        encryption: Result = {"encryptionType": repo.encryption_type}
        if repo.kms_key:
            encryption["kmsKey"] = repo.kms_key
        return {
            "repositoryArn": repo.arn,
            "registryId": repo.registry_id,
            "repositoryName": repo.name,
            "repositoryUri": repo.uri(self.ecr.registry_host),
            "createdAt": repo.created_at,
            **mutability_members(repo.mutability),
            "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push},
            "encryptionConfiguration": encryption,
        }

    # -- repositories -----------------------------------------------------------------------

    def create_repository(self, ctx: RequestContext, p: Params) -> Result:
        account = registry_id(ctx, p)
        if account != ctx.account_id:
            raise errors.invalid_at(
                "registryId", "Repositories can only be created in the caller's own registry"
            )
        encryption = p.get("encryptionConfiguration") or {}
        kind = encryption.get("encryptionType", "AES256")
        kms_key = encryption.get("kmsKey")
        if kms_key and kind not in _KMS_TYPES:
            raise errors.invalid_at(
                "encryptionConfiguration.kmsKey",
                f"A KMS key can only be given with encryptionType {' or '.join(_KMS_TYPES)}",
            )
        repo = self.ecr.create_repository(
            p["repositoryName"],
            account=account,
            region=ctx.region,
            mutability=mutability_of(p),
            scan_on_push=bool((p.get("imageScanningConfiguration") or {}).get("scanOnPush")),
            encryption_type=kind,
            kms_key=kms_key,
            tags={t["Key"]: t["Value"] for t in p.get("tags") or ()},
        )
        return {"repository": self._repository(repo)}

    def describe_repositories(self, ctx: RequestContext, p: Params) -> Result:
        account = registry_id(ctx, p)
        names = p.get("repositoryNames")
        if names is not None:
            if "nextToken" in p or "maxResults" in p:
                raise errors.invalid(
                    "maxResults and nextToken cannot be used when repositoryNames is given"
                )
            return {
                "repositories": [
                    self._repository(self.store.get_repository(n, account)) for n in names
                ]
            }
        limit = page_size(p.get("maxResults"), default=_DESCRIBE_DEFAULT, maximum=_DESCRIBE_MAX)
        after = self._tokens.decode(p["nextToken"]).get("after") if "nextToken" in p else None
        repos = self.store.list_repositories(
            account, after=after if isinstance(after, str) else None, limit=limit + 1
        )
        result: Result = {"repositories": [self._repository(r) for r in repos[:limit]]}
        if len(repos) > limit:
            result["nextToken"] = self._tokens.encode({"after": repos[limit - 1].name})
        return result

    def delete_repository(self, ctx: RequestContext, p: Params) -> Result:
        repo = self.ecr.delete_repository(
            p["repositoryName"], registry_id(ctx, p), force=bool(p.get("force"))
        )
        return {"repository": self._repository(repo)}

    def put_image_tag_mutability(self, ctx: RequestContext, p: Params) -> Result:
        account, name = registry_id(ctx, p), p["repositoryName"]
        mutability = mutability_of(p)
        self.store.set_mutability(name, account, mutability)
        return {"registryId": account, "repositoryName": name, **mutability_members(mutability)}

    def put_image_scanning_configuration(self, ctx: RequestContext, p: Params) -> Result:
        account, name = registry_id(ctx, p), p["repositoryName"]
        scan = bool(p["imageScanningConfiguration"].get("scanOnPush"))
        self.store.set_scan_on_push(name, account, scan)
        return {
            "registryId": account,
            "repositoryName": name,
            "imageScanningConfiguration": {"scanOnPush": scan},
        }

    # -- login ------------------------------------------------------------------------------

    def get_authorization_token(self, ctx: RequestContext, p: Params) -> Result:
        login = self.ecr.login(account=ctx.account_id, access_key_id=ctx.principal.access_key_id)
        data = {
            "authorizationToken": login.token,
            "expiresAt": login.expires_at,
            "proxyEndpoint": f"http://{self.ecr.registry_host}",
        }
        return {"authorizationData": [data for _ in p.get("registryIds") or [ctx.account_id]]}

    # -- repository policies ----------------------------------------------------------------

    def set_repository_policy(self, ctx: RequestContext, p: Params) -> Result:
        account, name = registry_id(ctx, p), p["repositoryName"]
        self.store.get_repository(name, account)
        check_repository_policy(p["policyText"], actions=self._actions)
        self.store.set_policy(name, account, p["policyText"])
        return {"registryId": account, "repositoryName": name, "policyText": p["policyText"]}

    def get_repository_policy(self, ctx: RequestContext, p: Params) -> Result:
        account, name = registry_id(ctx, p), p["repositoryName"]
        text = self.store.policy(name, account)
        if text is None:
            raise errors.repository_policy_not_found(name, account)
        return {"registryId": account, "repositoryName": name, "policyText": text}

    def delete_repository_policy(self, ctx: RequestContext, p: Params) -> Result:
        result = self.get_repository_policy(ctx, p)
        self.store.set_policy(p["repositoryName"], result["registryId"], None)
        return result

    # -- lifecycle policies -----------------------------------------------------------------

    def put_lifecycle_policy(self, ctx: RequestContext, p: Params) -> Result:
        account, name = registry_id(ctx, p), p["repositoryName"]
        self.store.get_repository(name, account)
        text = LifecyclePolicy.parse(p["lifecyclePolicyText"]).text
        self.store.set_lifecycle_policy(name, account, text)
        return {"registryId": account, "repositoryName": name, "lifecyclePolicyText": text}

    def get_lifecycle_policy(self, ctx: RequestContext, p: Params) -> Result:
        account, name = registry_id(ctx, p), p["repositoryName"]
        stored = self.store.lifecycle_policy(name, account)
        if stored is None:
            raise errors.lifecycle_policy_not_found(name, account)
        return {
            "registryId": account,
            "repositoryName": name,
            "lifecyclePolicyText": stored[0],
            "lastEvaluatedAt": stored[1],
        }

    def delete_lifecycle_policy(self, ctx: RequestContext, p: Params) -> Result:
        result = self.get_lifecycle_policy(ctx, p)
        self.store.set_lifecycle_policy(p["repositoryName"], result["registryId"], None)
        return result

    # -- resource tags ----------------------------------------------------------------------

    def _tagged(self, text: str) -> tuple[str, str]:
        """The repository name and registry of a repository ARN."""
        try:
            parsed = Arn.parse(text)
        except AwsError:
            parsed = None
        if (
            parsed is None
            or parsed.service != "ecr"
            or not parsed.resource.startswith("repository/")
            or not parsed.account
        ):
            raise errors.invalid_at("resourceArn", f"Invalid ARN: {text}")
        return parsed.resource[len("repository/") :], parsed.account

    def tag_resource(self, ctx: RequestContext, p: Params) -> Result:
        name, account = self._tagged(p["resourceArn"])
        self.store.tag(name, account, {t["Key"]: t["Value"] for t in p["tags"]})
        return {}

    def untag_resource(self, ctx: RequestContext, p: Params) -> Result:
        name, account = self._tagged(p["resourceArn"])
        self.store.untag(name, account, p["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, p: Params) -> Result:
        name, account = self._tagged(p["resourceArn"])
        tags = self.store.tags(name, account)
        return {"tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
