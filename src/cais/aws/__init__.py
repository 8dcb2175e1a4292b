"""The AWS protocol layer every AWS-compatible service of cais shares.

A service registers a provider with a :class:`Dispatcher`; :func:`add_aws_routes` mounts
the dispatcher on an aiohttp application at ``POST /``. Requests are SigV4-verified against
the :class:`CredentialStore`, checked against botocore's model of the operation, and handed
to the provider with a :class:`RequestContext`; providers raise :class:`AwsError`.
"""

from cais.aws.arn import Arn, arn
from cais.aws.context import Principal, RequestContext
from cais.aws.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    AccessKey,
    CredentialStore,
    KeyLookup,
)
from cais.aws.dispatch import CONTENT_TYPE, Authenticator, Dispatcher, Service
from cais.aws.edge import edge_dispatcher
from cais.aws.errors import AwsError
from cais.aws.http import BackgroundServer, add_aws_routes, aws_handler
from cais.aws.models import ServiceModels
from cais.aws.pagination import Page, TokenCodec, page_size, paginate
from cais.aws.request import AwsRequest, AwsResponse
from cais.aws.sigv4 import SigV4Verifier

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_SECRET_ACCESS_KEY",
    "AccessKey",
    "Arn",
    "Authenticator",
    "AwsError",
    "AwsRequest",
    "AwsResponse",
    "BackgroundServer",
    "CredentialStore",
    "Dispatcher",
    "KeyLookup",
    "Page",
    "Principal",
    "RequestContext",
    "Service",
    "ServiceModels",
    "SigV4Verifier",
    "TokenCodec",
    "add_aws_routes",
    "arn",
    "aws_handler",
    "edge_dispatcher",
    "page_size",
    "paginate",
]
