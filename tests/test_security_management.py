"""The management API's boundary: no web page can drive it (cross-site requests, DNS rebinding), function code is
reachable only through GetFunction's short-lived signed link, and under --admin-key only /_apigate/health is
for anyone. Attacks come from raw sockets, requests and a real headless Chromium; boto3 keeps working."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import socket
import stat
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from apigate.control.code_links import CodeLinks

from console_helpers import run_headless
from helpers import GatewayProcess, RestApi, create_function, unique, zip_code

ADMIN = ("AKIAADMINEXAMPLE0002", "admin-secret-for-security-tests")
HANDLER = "def lambda_handler(event, context):\n    return {'ran': True}\n"


def create_function_body(name: str) -> bytes:
    """The JSON a page would post to create a function that runs code on the developer's machine (the first "="
    is the Description's: a text/plain form can then carry it as "name=value")."""
    return json.dumps(
        {
            "Description": "made by a page=yes",
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": "arn:aws:iam::000000000000:role/lambda-role",
            "Handler": "lambda_function.lambda_handler",
            "Code": {"ZipFile": base64.b64encode(zip_code({"lambda_function.py": HANDLER})).decode()},
        }
    ).encode()


def raw(gateway: GatewayProcess, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on a raw socket, as written (no client fixes anything up); the status, headers and body."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def post_function(gateway: GatewayProcess, name: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    body = create_function_body(name)
    lines = [
        "POST /2015-03-31/functions HTTP/1.1",
        *(f"{k}: {v}" for k, v in headers.items()),
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    status, answer, _ = raw(gateway, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return status, answer


def exists(gateway: GatewayProcess, name: str) -> bool:
    try:
        gateway.client("lambda").get_function(FunctionName=name)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    return True


# --- a web page cannot drive the management API -------------------------------------------------------------


def test_a_simple_cross_site_post_cannot_create_a_function(gateway: GatewayProcess) -> None:
    host = f"127.0.0.1:{gateway.port}"
    attacks = {
        "text/plain from another origin": {
            "Host": host,
            "Origin": "https://evil.example",
            "Content-Type": "text/plain",
        },
        "no content type from another origin": {"Host": host, "Origin": "http://evil.example"},
        "another port of localhost": {
            "Host": host,
            "Origin": "http://127.0.0.1:8080",
            "Content-Type": "text/plain",
        },
        "a sandboxed page": {"Host": host, "Origin": "null", "Content-Type": "application/json"},
        "fetch metadata only": {
            "Host": host,
            "Sec-Fetch-Site": "cross-site",
            "Content-Type": "application/json",
        },
        "same-site fetch metadata": {"Host": host, "Sec-Fetch-Site": "same-site"},
        "text/plain without an origin": {"Host": host, "Content-Type": "text/plain;charset=UTF-8"},
        "a multipart form": {"Host": host, "Content-Type": "multipart/form-data; boundary=x"},
        "a url-encoded form": {"Host": host, "Content-Type": "application/x-www-form-urlencoded"},
    }
    for attack, headers in attacks.items():
        name = unique("page-made")
        status, answer = post_function(gateway, name, headers)
        assert (status, answer.get("x-amzn-errortype")) == (403, "AccessDeniedException"), attack
        assert not exists(gateway, name), attack


def test_dns_rebinding_is_refused(gateway: GatewayProcess) -> None:
    """The attacker's name resolves to 127.0.0.1: the page is then same-origin with itself, but not with us."""
    name = unique("rebound")
    evil = f"evil.example:{gateway.port}"
    status, answer = post_function(
        gateway, name, {"Host": evil, "Origin": f"http://{evil}", "Content-Type": "application/json"}
    )
    assert (status, answer.get("x-amzn-errortype")) == (403, "AccessDeniedException")
    assert not exists(gateway, name)
    # Reads too: a rebound page could read every API's configuration.
    status, _, body = raw(
        gateway, f"GET /restapis HTTP/1.1\r\nHost: {evil}\r\nConnection: close\r\n\r\n".encode()
    )
    assert status == 403 and b"evil.example" in body
    status, _, _ = raw(
        gateway, b"GET /restapis HTTP/1.1\r\nHost: a:1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert status == 403
    # IAM's query protocol is a form post to "/": the AWS error shape of its own.
    answer = requests.post(
        gateway.url, data={"Action": "CreateUser", "UserName": unique("u")}, headers={"Host": evil}, timeout=5
    )
    assert answer.status_code == 403 and b"<Code>AccessDeniedException</Code>" in answer.content


def test_what_a_browser_sends_from_the_gateways_own_origin_is_served(gateway: GatewayProcess) -> None:
    for host in (
        f"127.0.0.1:{gateway.port}",
        f"localhost:{gateway.port}",
        f"[::1]:{gateway.port}",
        "x.localhost",
    ):
        status, _, body = raw(
            gateway,
            f"GET /restapis HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nSec-Fetch-Site: same-origin\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        assert status == 200, (host, body)


def test_sdk_clients_keep_working(gateway: GatewayProcess) -> None:
    """boto3 (botocore: the AWS CLI, SAM, the apigate CLI) for every service the gateway serves, including the
    blob payloads botocore sends with no content type at all (Invoke, ImportRestApi, PostToConnection)."""
    lam = gateway.client("lambda")
    name = create_function(lam, HANDLER)
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == {"ran": True}
    apigw = gateway.client("apigateway")
    document = {"openapi": "3.0.1", "info": {"title": unique("imported"), "version": "1"}, "paths": {}}
    api_id = apigw.import_rest_api(body=json.dumps(document).encode())["id"]
    assert apigw.get_rest_api(restApiId=api_id)["name"] == document["info"]["title"]
    assert isinstance(gateway.client("apigatewayv2").get_apis()["Items"], list)
    user = unique("sdk-user")
    assert gateway.client("iam").create_user(UserName=user)["User"]["UserName"] == user
    assert gateway.client("sts").get_caller_identity()["Account"] == "000000000000"


def test_the_data_plane_still_serves_other_origins(gateway: GatewayProcess) -> None:
    """Browsers call APIs cross-origin on purpose: none of this applies to execute-api."""
    api = RestApi(gateway.client("apigateway"), unique("cors-open"))
    api.mock("/ping", "POST", '{"pong": true}')
    api.deploy()
    headers = {"Origin": "https://evil.example", "Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}
    mock = '{"statusCode": 200}'  # passed through to the MOCK integration (no text/plain template)
    answer = requests.post(gateway.invoke_url(api.id, "test", "/ping"), data=mock, headers=headers, timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"pong": True})
    host_form = requests.post(
        f"{gateway.url}/test/ping",
        data=mock,
        headers={**headers, "Host": f"{api.id}.execute-api.evil.example"},
        timeout=5,
    )
    assert (host_form.status_code, host_form.json()) == (200, {"pong": True})


# --- function code: only through the signed link -------------------------------------------------------------


def test_code_location_is_a_short_lived_signed_link(gateway: GatewayProcess) -> None:
    lam = gateway.client("lambda")
    name = create_function(lam, HANDLER)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    query = dict(p.split("=", 1) for p in urlsplit(location).query.split("&"))
    assert query["X-Amz-Expires"] == "600" and len(query["X-Amz-Signature"]) == 64
    assert requests.get(location, timeout=5).content == zip_code({"lambda_function.py": HANDLER})

    unsigned = requests.get(f"{gateway.url}/_apigate/code/{name}.zip", timeout=5)
    assert unsigned.status_code == 403
    assert b"<Code>AccessDenied</Code>" in unsigned.content and b"PK" not in unsigned.content
    tampered = requests.get(location.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"), timeout=5)
    assert tampered.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.content
    other = create_function(lam, HANDLER)
    borrowed = requests.get(location.replace(f"/{name}.zip", f"/{other}.zip"), timeout=5)
    assert borrowed.status_code == 403 and b"SignatureDoesNotMatch" in borrowed.content

    # A link signed eleven minutes ago with the data dir's own secret: well formed, and expired.
    key = gateway.data_dir / "code-link.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    sha = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    old = CodeLinks(gateway.data_dir).link(gateway.url, name, sha, now=time.time() - 660)
    expired = requests.get(old, timeout=5)
    assert expired.status_code == 403 and b"<Message>Request has expired</Message>" in expired.content
    fresh = CodeLinks(gateway.data_dir).link(gateway.url, name, sha)
    assert requests.get(fresh, timeout=5).status_code == 200

    # New code: links to the old version stop working.
    lam.update_function_code(FunctionName=name, ZipFile=zip_code({"lambda_function.py": HANDLER + "# v2\n"}))
    assert requests.get(location, timeout=5).status_code == 403


# --- under --admin-key, only health is for anyone -------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("security-admin"), ["--admin-key", ":".join(ADMIN)])
    process.start()
    yield process
    process.stop()


def signed_get(url: str, key: tuple[str, str], service: str = "apigateway") -> requests.Response:
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(*key), service, "us-east-1").add_auth(request)
    return requests.get(url, headers=dict(request.headers), timeout=5)


def test_internal_paths_under_the_admin_key(guarded: GatewayProcess) -> None:
    assert requests.get(f"{guarded.url}/_apigate/health", timeout=5).json()["status"] == "ok"
    for path in ("/_apigate/metrics", "/_apigate/openapi/apigateway.json"):
        unsigned = requests.get(guarded.url + path, timeout=5)
        assert unsigned.status_code == 403, path
        assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert signed_get(guarded.url + path, ("AKIAOTHER00000000000", "x")).status_code == 403
        assert signed_get(guarded.url + path, ADMIN).status_code == 200, path

    lam = boto3.client(
        "lambda",
        endpoint_url=guarded.url,
        region_name="us-east-1",
        aws_access_key_id=ADMIN[0],
        aws_secret_access_key=ADMIN[1],
    )
    name = create_function(lam, HANDLER)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    assert requests.get(location, timeout=5).status_code == 200  # the link is the credential, as on S3
    assert requests.get(f"{guarded.url}/_apigate/code/{name}.zip", timeout=5).status_code == 403


# --- a real browser ---------------------------------------------------------------------------------------------

ATTACK_PAGE = """<!doctype html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" action="%(url)s/2015-03-31/functions" target="sink">
<input name='%(form_name)s' value='%(form_value)s'></form>
<script>
fetch("%(url)s/2015-03-31/functions", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: %(fetch_body)s})
  .then(r => "fetch=sent", e => "fetch=failed " + e.name)
  .then(fetched => {
    document.getElementById("sink").onload = () => document.body.setAttribute("data-result", fetched + " form=sent");
    document.getElementById("f").submit();
  });
</script></body></html>"""




def test_a_page_in_headless_chromium_cannot_create_a_function(
    gateway: GatewayProcess, page_server: tuple[str, dict[str, str]]
) -> None:
    origin, pages = page_server
    by_fetch, by_form = unique("by-fetch"), unique("by-form")
    # A text/plain form posts "name=value": the JSON split at its first "=" is posted whole.
    form_name, form_value = create_function_body(by_form).decode().split("=", 1)
    pages["/attack.html"] = ATTACK_PAGE % {
        "url": gateway.url,
        "fetch_body": json.dumps(create_function_body(by_fetch).decode()),
        "form_name": html.escape(form_name),
        "form_value": html.escape(form_value),
    }
    done = run_headless(f"{origin}/attack.html", "--virtual-time-budget=10000", "--dump-dom", timeout=60)
    found = re.search(r'data-result="([^"]*)"', done.stdout)
    assert found is not None, done.stdout[-2000:] + done.stderr[-2000:]
    assert found.group(1) == "fetch=sent form=sent"  # both requests reached the gateway (answers are opaque)
    assert not exists(gateway, by_fetch)
    assert not exists(gateway, by_form)
    # The same JSON from boto3 is a function.
    assert create_function(gateway.client("lambda"), HANDLER, name=by_fetch) == by_fetch
