"""SigV4 as strict as AWS's: the credential scope names the endpoint's service and region, a presigned link
carries an X-Amz-Expires of at most a week. Every refused request here is otherwise correctly signed by
botocore's own signer with a valid key, so each answer is the one check under test.

The gateway runs with ``--admin-key`` and ``--region eu-west-1``, so both the data plane's AWS_IAM methods and
the management API check signatures, in a region other than the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi

ADMIN = ("AKIAADMINSIGV4TESTS01", "sigv4-admin-secret")
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("sigv4-gateway"), ["--admin-key", ":".join(ADMIN), "--region", REGION]
    )
    process.start()
    yield process
    process.stop()


def client(gateway: GatewayProcess, service: str, region: str = REGION) -> Any:
    return boto3.client(
        service,
        endpoint_url=gateway.url,
        region_name=region,
        aws_access_key_id=ADMIN[0],
        aws_secret_access_key=ADMIN[1],
    )


@pytest.fixture(scope="module")
def iam_url(regional: GatewayProcess) -> str:
    """GET /who behind AWS_IAM on a deployed stage (a MOCK integration): its invoke URL."""
    apigw = client(regional, "apigateway")
    api = RestApi(apigw, "sigv4-strict")
    api.mock("/who", "GET", '{"ok": true}')
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/who"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "AWS_IAM"}],
    )
    api.deploy("prod")
    return regional.invoke_url(api.id, "prod", "/who")


class _NoExpiresQueryAuth(SigV4QueryAuth):
    """botocore's presigner, minus X-Amz-Expires: a link that would never end."""

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        super()._modify_request_before_signing(request)
        parts = urlsplit(request.url)
        query = "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-Expires="))
        request.url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def send(
    method: str,
    url: str,
    *,
    service: str = "execute-api",
    region: str = REGION,
    expires: int | None = None,
    presign: type[SigV4QueryAuth] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A request signed by botocore with the admin key: the Authorization header form, or (``expires`` or
    ``presign`` given) the presigned query-string form."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    credentials = Credentials(*ADMIN)
    if presign is not None or expires is not None:
        (presign or SigV4QueryAuth)(credentials, service, region, expires=expires or 300).add_auth(request)
    else:
        SigV4Auth(credentials, service, region).add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=10)


def test_data_plane_accepts_the_right_scope(iam_url: str) -> None:
    assert send("GET", iam_url).status_code == 200
    assert send("GET", iam_url, expires=300).status_code == 200
    assert send("GET", iam_url, expires=604800).status_code == 200  # a week is the longest, and allowed


def test_data_plane_refuses_another_service(iam_url: str) -> None:
    for service in ("apigateway", "lambda", "s3"):
        answer = send("GET", iam_url, service=service)
        assert answer.status_code == 403, service
        assert answer.json() == {"message": "Credential should be scoped to correct service: 'execute-api'. "}
        assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_data_plane_refuses_another_region(iam_url: str) -> None:
    for region in ("us-east-1", "us-west-2", "eu-west-1x"):
        answer = send("GET", iam_url, region=region)
        assert answer.status_code == 403, region
        assert answer.json() == {
            "message": f"Credential should be scoped to a valid region, not '{region}'. "
        }
        presigned = send("GET", iam_url, region=region, expires=300)
        assert presigned.status_code == 403, region


def test_presigned_links_need_a_bounded_expiry(iam_url: str) -> None:
    endless = send("GET", iam_url, presign=_NoExpiresQueryAuth)
    assert endless.status_code == 403
    assert "'X-Amz-Expires'" in endless.json()["message"]
    too_long = send("GET", iam_url, expires=604801)
    assert too_long.status_code == 403
    assert too_long.json() == {
        "message": "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
        "must be less than 604800 seconds"
    }
    for value in ("-5", "1e3", "ten", " 300"):  # tampered after signing: refused before the signature check
        url = send_url_with_expires(iam_url, value)
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 403, value
        assert "X-Amz-Expires" in answer.json()["message"], value


def send_url_with_expires(url: str, value: str) -> str:
    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(Credentials(*ADMIN), "execute-api", REGION, expires=300).add_auth(request)
    signed = request.prepare().url
    assert "X-Amz-Expires=300" in signed
    return signed.replace("X-Amz-Expires=300", f"X-Amz-Expires={value.replace(' ', '%20')}")


def test_a_wrong_terminator_is_refused(iam_url: str) -> None:
    request = AWSRequest(method="GET", url=iam_url)
    SigV4Auth(Credentials(*ADMIN), "execute-api", REGION).add_auth(request)
    headers = dict(request.prepare().headers)
    headers["Authorization"] = headers["Authorization"].replace("/aws4_request", "/aws5_request")
    answer = requests.get(iam_url, headers=headers, timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {
        "message": "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    }


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_management_calls_are_signed_for_an_aws_region(regional: GatewayProcess) -> None:
    """Regions are partitions: a call signed for another AWS region is made there (it sees that region's
    resources); a credential scope that names no AWS region is refused as AWS's endpoints refuse it."""
    assert "items" in client(regional, "apigateway").get_rest_apis()
    assert client(regional, "lambda", "us-west-2").list_functions()["Functions"] == []
    assert client(regional, "apigatewayv2", "us-west-2").get_apis()["Items"] == []
    nowhere = {
        service: client(regional, service, "eu-west-1x")
        for service in ("apigateway", "lambda", "apigatewayv2")
    }
    for service, call in (
        ("apigateway", nowhere["apigateway"].get_rest_apis),
        ("lambda", nowhere["lambda"].list_functions),
        ("apigatewayv2", nowhere["apigatewayv2"].get_apis),
    ):
        code, status, message = error_of(call)
        assert (code, status) == ("InvalidSignatureException", 403), service
        assert message == "Credential should be scoped to a valid region, not 'eu-west-1x'. ", service


def test_iam_and_sts_take_the_gateways_region_or_the_global_one(regional: GatewayProcess) -> None:
    for region in (REGION, "us-east-1"):  # us-east-1: where AWS's global IAM and STS endpoints scope
        assert client(regional, "sts", region).get_caller_identity()["Arn"].endswith(":root")
        assert "Users" in client(regional, "iam", region).list_users()
    _, status, message = error_of(client(regional, "sts", "ap-south-1").get_caller_identity)
    assert status == 403
    assert message == "Credential should be scoped to a valid region, not 'ap-south-1'. "


def test_management_calls_need_the_service_their_path_addresses(regional: GatewayProcess) -> None:
    base = regional.url
    cases = [
        ("GET", f"{base}/restapis", "lambda", "apigateway"),
        ("GET", f"{base}/v2/apis", "execute-api", "apigateway"),
        ("GET", f"{base}/2015-03-31/functions/", "apigateway", "lambda"),
        ("GET", f"{base}/restapis", "s3", "apigateway"),
    ]
    for method, url, signed_for, expected in cases:
        answer = send(method, url, service=signed_for)
        assert answer.status_code == 403, url
        assert (
            answer.json()["message"] == f"Credential should be scoped to correct service: '{expected}'. "
        ), url
    # The same calls signed for the right service pass.
    assert send("GET", f"{base}/restapis", service="apigateway").status_code == 200
    assert send("GET", f"{base}/2015-03-31/functions/", service="lambda").status_code == 200


def test_query_calls_need_the_service_their_action_belongs_to(regional: GatewayProcess) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    iam_action = b"Action=ListUsers&Version=2010-05-08"
    sts_action = b"Action=GetCallerIdentity&Version=2011-06-15"
    base = regional.url + "/"
    assert send("POST", base, service="iam", body=iam_action, headers=form).status_code == 200
    assert send("POST", base, service="sts", body=sts_action, headers=form).status_code == 200
    for service, body, expected in (
        ("sts", iam_action, "iam"),
        ("iam", sts_action, "sts"),
        ("apigateway", iam_action, "iam"),
    ):
        answer = send("POST", base, service=service, body=body, headers=form)
        assert answer.status_code == 403, (service, body)
        assert f"Credential should be scoped to correct service: '{expected}'. " in answer.text
