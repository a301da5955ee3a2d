"""Operations that answered NotImplementedException (issue 23, class 6): VPC links with their local mapping,
client certificates, apigatewayv2 models and DeleteRouteRequestParameter."""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import requests
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from helpers import GatewayProcess, RestApi
from websocket_helpers import SocketApi, run

NLB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/orders/50dc6c495c0c9188"


@pytest.fixture(scope="module")
def linked_gateway(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("vpc-data"), ["--vpc-link-target", f"{NLB}={upstream}"])
    process.start()
    yield process
    process.stop()


def test_rest_vpc_link_reaches_the_mapped_load_balancer(linked_gateway: GatewayProcess) -> None:
    apigw = linked_gateway.client("apigateway")
    link = apigw.create_vpc_link(name="orders", targetArns=[NLB], description="to the orders service")
    assert link["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (link["status"], link["targetArns"]) == ("AVAILABLE", [NLB])
    assert apigw.get_vpc_link(vpcLinkId=link["id"])["name"] == "orders"
    assert [item["id"] for item in apigw.get_vpc_links()["items"]] == [link["id"]]
    renamed = apigw.update_vpc_link(
        vpcLinkId=link["id"], patchOperations=[{"op": "replace", "path": "/name", "value": "orders-2"}]
    )
    assert renamed["name"] == "orders-2"

    api = RestApi(apigw, "through-a-link")
    rid = api.resource("/orders")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri="http://orders-nlb.internal:8080/v1/orders",
        connectionType="VPC_LINK",
        connectionId="${stageVariables.link}",
    )
    api.deploy("prod", variables={"link": link["id"]})
    answer = requests.get(linked_gateway.invoke_url(api.id, "prod", "/orders") + "?page=2", timeout=5)
    assert answer.status_code == 200 and answer.headers["X-Upstream"] == "echo"
    assert answer.json()["path"] == "/v1/orders?page=2"

    apigw.delete_vpc_link(vpcLinkId=link["id"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        apigw.get_vpc_link(vpcLinkId=link["id"])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_http_api_vpc_links(linked_gateway: GatewayProcess) -> None:
    v2 = linked_gateway.client("apigatewayv2")
    link = v2.create_vpc_link(Name="private", SubnetIds=["subnet-1", "subnet-2"], SecurityGroupIds=["sg-1"])
    assert (link["VpcLinkStatus"], link["VpcLinkVersion"]) == ("AVAILABLE", "V2")
    assert v2.update_vpc_link(VpcLinkId=link["VpcLinkId"], Name="private-2")["Name"] == "private-2"
    assert [item["Name"] for item in v2.get_vpc_links()["Items"]] == ["private-2"]
    v2.delete_vpc_link(VpcLinkId=link["VpcLinkId"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.get_vpc_link(VpcLinkId=link["VpcLinkId"])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_client_certificates(apigw: Any) -> None:
    made = apigw.generate_client_certificate(description="for the backend")
    certificate = x509.load_pem_x509_certificate(made["pemEncodedCertificate"].encode())
    assert certificate.not_valid_after_utc > certificate.not_valid_before_utc
    assert made["expirationDate"] > made["createdDate"]
    found = apigw.get_client_certificate(clientCertificateId=made["clientCertificateId"])
    assert found["pemEncodedCertificate"] == made["pemEncodedCertificate"] and "privateKey" not in found
    assert made["clientCertificateId"] in [
        c["clientCertificateId"] for c in apigw.get_client_certificates()["items"]
    ]
    updated = apigw.update_client_certificate(
        clientCertificateId=made["clientCertificateId"],
        patchOperations=[{"op": "replace", "path": "/description", "value": "rotated"}],
    )
    assert updated["description"] == "rotated"
    apigw.delete_client_certificate(clientCertificateId=made["clientCertificateId"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        apigw.get_client_certificate(clientCertificateId=made["clientCertificateId"])
    assert caught.value.response["Error"] == {
        "Code": "NotFoundException",
        "Message": "Invalid Client Certificate identifier specified",
    }


def test_websocket_models_and_route_request_parameters(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(
        Name="ws-models", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    schema = '{"type": "object", "properties": {"action": {"type": "string"}, "text": {"type": "string"}}}'
    model = v2.create_model(ApiId=api["ApiId"], Name="Message", Schema=schema, ContentType="application/json")
    assert model["Name"] == "Message" and model["ModelId"]
    assert v2.get_model(ApiId=api["ApiId"], ModelId=model["ModelId"])["Schema"] == schema
    assert [m["Name"] for m in v2.get_models(ApiId=api["ApiId"])["Items"]] == ["Message"]
    template = v2.get_model_template(ApiId=api["ApiId"], ModelId=model["ModelId"])["Value"]
    assert '"text" : "$inputRoot.text"' in template
    assert (
        v2.update_model(ApiId=api["ApiId"], ModelId=model["ModelId"], Description="chat")["Description"]
        == "chat"
    )
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.create_model(ApiId=api["ApiId"], Name="Message", Schema=schema)
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.create_model(ApiId=api["ApiId"], Name="Broken", Schema="{not json")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"

    route = v2.create_route(
        ApiId=api["ApiId"],
        RouteKey="$connect",
        RequestParameters={
            "route.request.header.Auth": {"Required": True},
            "route.request.querystring.room": {"Required": False},
        },
    )
    v2.delete_route_request_parameter(
        ApiId=api["ApiId"], RouteId=route["RouteId"], RequestParameterKey="route.request.header.Auth"
    )
    kept = v2.get_route(ApiId=api["ApiId"], RouteId=route["RouteId"])["RequestParameters"]
    assert kept == {"route.request.querystring.room": {"Required": False}}
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.delete_route_request_parameter(
            ApiId=api["ApiId"], RouteId=route["RouteId"], RequestParameterKey="route.request.header.Auth"
        )
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    v2.delete_model(ApiId=api["ApiId"], ModelId=model["ModelId"])
    assert v2.get_models(ApiId=api["ApiId"])["Items"] == []


def test_the_vpc_link_target_option_is_checked(tmp_path: Path) -> None:
    from apigate.cli import parse_vpc_link_targets

    assert parse_vpc_link_targets([f"{NLB}=http://127.0.0.1:81/"]) == {NLB: "http://127.0.0.1:81"}
    with pytest.raises(SystemExit):
        parse_vpc_link_targets(["orders=http://127.0.0.1:81"])


def test_http_api_stage_and_deployment_operations(gateway: GatewayProcess, upstream: str) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name="v2-ops", ProtocolType="HTTP")
    integration = v2.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="GET",
        IntegrationUri=upstream,
        PayloadFormatVersion="1.0",
    )
    v2.create_route(
        ApiId=api["ApiId"], RouteKey="GET /a", Target=f"integrations/{integration['IntegrationId']}"
    )
    deployment = v2.create_deployment(ApiId=api["ApiId"], Description="first")
    updated = v2.update_deployment(
        ApiId=api["ApiId"], DeploymentId=deployment["DeploymentId"], Description="1st"
    )
    assert updated["Description"] == "1st"
    v2.create_stage(
        ApiId=api["ApiId"],
        StageName="s",
        DeploymentId=deployment["DeploymentId"],
        RouteSettings={"GET /a": {"ThrottlingBurstLimit": 0, "ThrottlingRateLimit": 0.0}},
    )
    url = f"{gateway.url}/_aws/execute-api/{api['ApiId']}/s/a"
    assert requests.get(url, timeout=5).status_code == 429
    v2.delete_route_settings(ApiId=api["ApiId"], StageName="s", RouteKey="GET /a")
    assert v2.get_stage(ApiId=api["ApiId"], StageName="s")["RouteSettings"] == {}
    assert requests.get(url, timeout=5).status_code == 200
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.delete_route_settings(ApiId=api["ApiId"], StageName="s", RouteKey="GET /a")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    reset = v2.reset_authorizers_cache(ApiId=api["ApiId"], StageName="s")
    assert reset["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_websocket_integration_responses_update(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name="ws-ir", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a")
    mock = v2.create_integration(ApiId=api["ApiId"], IntegrationType="MOCK")
    made = v2.create_integration_response(
        ApiId=api["ApiId"],
        IntegrationId=mock["IntegrationId"],
        IntegrationResponseKey="$default",
        ResponseTemplates={"$default": "{}"},
    )
    changed = v2.update_integration_response(
        ApiId=api["ApiId"],
        IntegrationId=mock["IntegrationId"],
        IntegrationResponseId=made["IntegrationResponseId"],
        ResponseTemplates={"$default": '{"v": 2}'},
        TemplateSelectionExpression="\\$default",
    )
    assert changed["ResponseTemplates"] == {"$default": '{"v": 2}'}
    assert changed["TemplateSelectionExpression"] == "\\$default"


LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/orders/50dc6c495c0c9188/f2f7dc8efc522ab2"


@pytest.fixture(scope="module")
def private_gateway(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("private-data"), ["--vpc-link-target", f"{LISTENER}={upstream}"]
    )
    process.start()
    yield process
    process.stop()


def test_http_api_private_integration_reaches_the_mapped_listener(private_gateway: GatewayProcess) -> None:
    v2 = private_gateway.client("apigatewayv2")
    link = v2.create_vpc_link(Name="orders", SubnetIds=["subnet-1"])
    api = v2.create_api(Name="private", ProtocolType="HTTP")
    integration = v2.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="ANY",
        IntegrationUri=LISTENER,
        ConnectionType="VPC_LINK",
        ConnectionId=link["VpcLinkId"],
        PayloadFormatVersion="1.0",
    )
    v2.create_route(
        ApiId=api["ApiId"], RouteKey="GET /orders/{id}", Target=f"integrations/{integration['IntegrationId']}"
    )
    v2.create_stage(ApiId=api["ApiId"], StageName="prod", AutoDeploy=True)
    answer = requests.get(
        f"{private_gateway.url}/_aws/execute-api/{api['ApiId']}/prod/orders/7?x=1", timeout=5
    )
    assert answer.status_code == 200 and answer.json()["path"] == "/prod/orders/7?x=1"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.create_integration(
            ApiId=api["ApiId"],
            IntegrationType="HTTP_PROXY",
            IntegrationMethod="ANY",
            IntegrationUri=LISTENER,
            ConnectionType="VPC_LINK",
            PayloadFormatVersion="1.0",
        )
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


def _server_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "backend.pem", folder / "backend.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextmanager
def _mutual_tls_backend(cert_file: Path, key_file: Path, client_pem: str) -> Iterator[str]:
    """An HTTPS server that demands a client certificate signed as ``client_pem`` and answers with the
    SHA-256 of the one it got."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            presented = self.connection.getpeercert(binary_form=True) or b""  # type: ignore[attr-defined]
            body = json.dumps({"client": hashlib.sha256(presented).hexdigest()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=client_pem)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stages_client_certificate_is_presented_to_https_backends(tmp_path: Path) -> None:
    cert_file, key_file = _server_certificate(tmp_path)
    # The gateway trusts the backend's certificate as any OpenSSL client would: SSL_CERT_FILE.
    process = GatewayProcess(tmp_path / "data", env={**os.environ, "SSL_CERT_FILE": str(cert_file)})
    process.start()
    try:
        apigw = process.client("apigateway")
        certificate = apigw.generate_client_certificate(description="to the backend")
        pem = certificate["pemEncodedCertificate"]
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
        with _mutual_tls_backend(cert_file, key_file, pem) as backend:
            api = RestApi(apigw, "with-client-cert")
            api.http_proxy("/who", "GET", f"{backend}/who")
            api.deploy("plain")
            api.deploy("signed")
            apigw.update_stage(
                restApiId=api.id,
                stageName="signed",
                patchOperations=[
                    {
                        "op": "replace",
                        "path": "/clientCertificateId",
                        "value": certificate["clientCertificateId"],
                    }
                ],
            )
            answer = requests.get(process.invoke_url(api.id, "signed", "/who"), timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"client": hashlib.sha256(der).hexdigest()}
            # A stage without one is refused by the backend's handshake: AWS's 500 for a failed endpoint.
            refused = requests.get(process.invoke_url(api.id, "plain", "/who"), timeout=10)
            assert refused.status_code == 500

            # A WebSocket stage's ClientCertificateId, for its HTTP integrations.
            sockets = SocketApi(process)
            integration = sockets.integration(
                IntegrationType="HTTP_PROXY", IntegrationUri=f"{backend}/who", IntegrationMethod="GET"
            )
            sockets.route("$default", integration, two_way=True)
            sockets.deploy("signed", ClientCertificateId=certificate["clientCertificateId"])

            async def ask() -> Any:
                async with websockets.connect(sockets.url("signed")) as ws:
                    await ws.send("who")
                    return json.loads(await ws.recv())

            assert run(ask()) == {"client": hashlib.sha256(der).hexdigest()}
    finally:
        process.stop()
