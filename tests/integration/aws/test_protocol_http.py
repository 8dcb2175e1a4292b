"""The wire itself, below boto3: status codes, headers and error bodies of raw requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cais.aws import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY


def post(
    url: str, body: bytes, target: str, *, sign: bool = True
) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    if sign:
        request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
        creds = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY)
        SigV4Auth(creds, "logs", "us-east-1").add_auth(request)
        headers = {k: str(v) for k, v in request.headers.items()}
    req = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_success_has_request_id_and_json_content_type(edge: Any) -> None:
    status, headers, body = post(edge.url, b"{}", "Logs_20140328.DescribeLogGroups")
    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert len(headers["x-amzn-RequestId"]) == 36
    assert body == {"logGroups": []}


def test_missing_authentication(edge: Any) -> None:
    status, headers, body = post(edge.url, b"{}", "Logs_20140328.DescribeLogGroups", sign=False)
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    assert headers["x-amzn-RequestId"]


def test_malformed_json_is_a_serialization_error(edge: Any) -> None:
    status, _, body = post(edge.url, b'{"logGroupName": ', "Logs_20140328.CreateLogGroup")
    assert (status, body["__type"]) == (400, "SerializationException")
    assert edge.count("logs_groups") == 0


def test_unknown_operation(edge: Any) -> None:
    status, _, body = post(edge.url, b"{}", "Logs_20140328.DescribeEverything")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_oversized_body_is_refused_and_stores_nothing(edge: Any) -> None:
    events = [{"timestamp": 1, "message": "x" * 1000}] * 9000
    body = json.dumps({"logGroupName": "g", "logStreamName": "s", "logEvents": events}).encode()
    assert len(body) > 8 * 1024 * 1024
    status, _, reply = post(edge.url, body, "Logs_20140328.PutLogEvents")
    assert (status, reply["__type"]) == (413, "RequestEntityTooLargeException")
    assert edge.count("logs_events") == 0
