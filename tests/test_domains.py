"""Custom domains over HTTPS: ACM certificates from the local CA, base path mappings (v1 and v2), SNI, TLS
policies, and stable API ids, all through real TLS connections (ssl, httpx, curl --resolve)."""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers import ECHO_EVENT, GatewayProcess, create_function, lambda_uri, wait_for

DOMAIN = "api.example.test"


@dataclass
class Https:
    process: GatewayProcess
    port: int
    ca_file: Path

    def client(self, service: str) -> Any:
        return self.process.client(service)

    def get(self, host: str, path: str, **headers: str) -> httpx.Response:
        """GET https://{host}{path}, connected to 127.0.0.1 (as curl --resolve does), verified by the local CA."""
        transport = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(self.ca_file)))
        with httpx.Client(transport=transport) as client:
            return client.get(
                f"https://127.0.0.1:{self.port}{path}",
                headers={"Host": host, **headers},
                extensions={"sni_hostname": host},
            )


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Https]:
    data: Path = tmp_path_factory.mktemp("domains")
    process = GatewayProcess(data, ["--https-port", "0"])
    process.start()
    wait_for(lambda: any(line.startswith("  https on ") for line in process.output))
    line = next(line for line in process.output if line.startswith("  https on "))
    ca_file = data.parent / f"{data.name}-local-ca.pem"
    subprocess.run(
        [sys.executable, "-m", "apigate.cli", "ca", "export", "--data-dir", str(data), "-o", str(ca_file)],
        check=True,
    )
    yield Https(process, int(line.rsplit(":", 1)[1]), ca_file)
    process.stop()


def mock_api(apigw: Any, name: str, **create: Any) -> str:
    """A REST API whose GET /pets (and GET /pets/{id}) answers with its name, $context.path and the resource."""
    api = apigw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]}, **create)
    root = api["rootResourceId"]
    pets = apigw.create_resource(restApiId=api["id"], parentId=root, pathPart="pets")["id"]
    one = apigw.create_resource(restApiId=api["id"], parentId=pets, pathPart="{id}")["id"]
    template = json.dumps(
        {"api": name, "path": "$context.path", "resource": "$context.resourcePath", "stage": "$context.stage"}
    )
    for resource in (pets, one):
        apigw.put_method(restApiId=api["id"], resourceId=resource, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api["id"],
            resourceId=resource,
            httpMethod="GET",
            type="MOCK",
            requestTemplates={"application/json": '{"statusCode": 200}'},
        )
        apigw.put_method_response(
            restApiId=api["id"], resourceId=resource, httpMethod="GET", statusCode="200"
        )
        apigw.put_integration_response(
            restApiId=api["id"],
            resourceId=resource,
            httpMethod="GET",
            statusCode="200",
            responseTemplates={"application/json": template},
        )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    return str(api["id"])


@pytest.fixture(scope="module")
def certificate(gw: Https) -> str:
    acm = gw.client("acm")
    return str(
        acm.request_certificate(DomainName=DOMAIN, SubjectAlternativeNames=["*.example.test"])[
            "CertificateArn"
        ]
    )


@pytest.fixture(scope="module")
def versions(gw: Https, certificate: str) -> tuple[str, str, str]:
    """api.example.test: /v1 -> one API's prod, /v2 -> another's (an apigatewayv2 mapping), /v3/beta -> a third."""
    apigw, v2 = gw.client("apigateway"), gw.client("apigatewayv2")
    one, two, three = mock_api(apigw, "one"), mock_api(apigw, "two"), mock_api(apigw, "three")
    apigw.create_domain_name(
        domainName=DOMAIN, regionalCertificateArn=certificate, endpointConfiguration={"types": ["REGIONAL"]}
    )
    apigw.create_base_path_mapping(domainName=DOMAIN, basePath="v1", restApiId=one, stage="prod")
    v2.create_api_mapping(DomainName=DOMAIN, ApiId=two, ApiMappingKey="v2", Stage="prod")
    apigw.create_base_path_mapping(domainName=DOMAIN, basePath="v3/beta", restApiId=three, stage="prod")
    return one, two, three


def test_base_paths_route_to_their_apis_over_https(gw: Https, versions: tuple[str, str, str]) -> None:
    first = gw.get(DOMAIN, "/v1/pets")
    assert first.status_code == 200, first.text
    assert first.json() == {"api": "one", "path": "/v1/pets", "resource": "/pets", "stage": "prod"}
    second = gw.get(DOMAIN, "/v2/pets/7")
    assert second.json() == {"api": "two", "path": "/v2/pets/7", "resource": "/pets/{id}", "stage": "prod"}
    third = gw.get(DOMAIN, "/v3/beta/pets")
    assert third.json()["api"] == "three"
    # whole segments only; nothing mapped at the root: AWS's 403
    for path in ("/v10/pets", "/v3/pets", "/pets"):
        refused = gw.get(DOMAIN, path)
        assert refused.status_code == 403, path
        assert refused.json() == {"message": "Forbidden"}


def test_curl_resolve_reaches_each_version(gw: Https, versions: tuple[str, str, str]) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is required for this test (the CI installs it)")
    answers = []
    for path in ("/v1/pets", "/v2/pets"):
        done = subprocess.run(
            [
                curl,
                "-sS",
                "--cacert",
                str(gw.ca_file),
                "--resolve",
                f"{DOMAIN}:{gw.port}:127.0.0.1",
                f"https://{DOMAIN}:{gw.port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        answers.append(json.loads(done.stdout)["api"])
    assert answers == ["one", "two"]


def _handshake(gw: Https, server_name: str, **options: Any) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(gw.ca_file))
    context.set_alpn_protocols(["h2", "http/1.1"])
    for name, value in options.items():
        setattr(context, name, value)
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        return context.wrap_socket(sock, server_hostname=server_name)
    except BaseException:
        sock.close()
        raise


def test_sni_picks_the_domain_certificate_and_alpn_http11(gw: Https, versions: tuple[str, str, str]) -> None:
    with _handshake(gw, DOMAIN) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        subject = dict(item[0] for item in tls.getpeercert()["subject"])  # type: ignore[index]
        assert subject["commonName"] == DOMAIN
    with _handshake(gw, "localhost") as tls:  # no domain: the listener's default certificate
        subject = dict(item[0] for item in tls.getpeercert()["subject"])  # type: ignore[index]
        assert subject["commonName"] == "localhost"


def test_security_policy_sets_the_lowest_tls_version(
    gw: Https, certificate: str, versions: tuple[str, str, str]
) -> None:
    # `versions` makes DOMAIN (TLS_1_2, the default policy) that this test compares with: without it the test
    # passed only after another test of this module had made it.
    apigw = gw.client("apigateway")
    apigw.create_domain_name(
        domainName="strict.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        securityPolicy="SecurityPolicy_TLS13_1_3_2025_09",
    )
    with _handshake(gw, "strict.example.test") as tls:
        assert tls.version() == "TLSv1.3"
    # TLS 1.2 to a TLS 1.3-only domain: the connection is closed before any request is served
    answer = b""
    try:
        with _handshake(gw, "strict.example.test", maximum_version=ssl.TLSVersion.TLSv1_2) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: strict.example.test\r\n\r\n")
            answer = tls.recv(1024)
    except (ConnectionError, ssl.SSLError):
        pass
    assert answer == b""
    with _handshake(gw, DOMAIN, maximum_version=ssl.TLSVersion.TLSv1_2) as tls:  # TLS_1_2 (the default)
        assert tls.version() == "TLSv1.2"
    # TLS_1_0: a legacy client's TLS 1.0 reaches that domain, and only that one
    apigw.create_domain_name(
        domainName="legacy.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        securityPolicy="TLS_1_0",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1 itself is deprecated
        legacy = ssl.create_default_context(cafile=str(gw.ca_file))
        legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
        legacy.minimum_version = legacy.maximum_version = ssl.TLSVersion.TLSv1
    with (
        socket.create_connection(("127.0.0.1", gw.port), timeout=10) as raw,
        legacy.wrap_socket(raw, server_hostname="legacy.example.test") as tls,
    ):
        assert tls.version() == "TLSv1"
    for refused_name in ("strict.example.test", "localhost"):  # TLS_1_3 / the listener's own TLS_1_2
        with (
            pytest.raises((ConnectionError, ssl.SSLError)),
            socket.create_connection(("127.0.0.1", gw.port), timeout=10) as raw,
            legacy.wrap_socket(raw, server_hostname=refused_name) as tls,
        ):
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {refused_name}\r\n\r\n".encode())
            assert tls.recv(1024) != b"", refused_name  # closed without an answer counts as refused
            raise AssertionError(f"{refused_name} answered over TLS 1.0")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        apigw.create_domain_name(
            domainName="bad.example.test",
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
            securityPolicy="TLS_9_9",
        )
    assert refused.value.response["Error"]["Code"] == "BadRequestException"


def test_acm_subset(gw: Https, certificate: str, versions: tuple[str, str, str]) -> None:
    acm = gw.client("acm")
    described = acm.describe_certificate(CertificateArn=certificate)["Certificate"]
    assert described["Status"] == "ISSUED" and described["Type"] == "AMAZON_ISSUED"
    assert described["DomainName"] == DOMAIN
    assert described["SubjectAlternativeNames"] == [DOMAIN, "*.example.test"]
    assert f"arn:aws:apigateway:us-east-1::/domainnames/{DOMAIN}" in described["InUseBy"]
    listed = acm.list_certificates()["CertificateSummaryList"]
    assert certificate in [item["CertificateArn"] for item in listed]
    pem = acm.get_certificate(CertificateArn=certificate)
    assert pem["CertificateChain"].strip() == gw.ca_file.read_text().strip()
    with pytest.raises(botocore.exceptions.ClientError) as in_use:
        acm.delete_certificate(CertificateArn=certificate)
    assert in_use.value.response["Error"]["Code"] == "ResourceInUseException"
    missing = certificate[:-4] + "0000"
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        acm.describe_certificate(CertificateArn=missing)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_imported_certificate_serves_its_domain(gw: Https, tmp_path: Path) -> None:
    from apigate.control.local_ca import LocalCa

    own_ca = LocalCa(tmp_path / "own-ca")  # someone else's CA: the client trusts it alone
    issued = own_ca.issue(["imported.example.test"])
    acm, apigw = gw.client("acm"), gw.client("apigateway")
    with pytest.raises(botocore.exceptions.ClientError) as mismatch:
        other = own_ca.issue(["other.example.test"])
        acm.import_certificate(Certificate=issued.certificate.encode(), PrivateKey=other.private_key.encode())
    assert mismatch.value.response["Error"]["Code"] == "ValidationException"
    arn = acm.import_certificate(
        Certificate=issued.certificate.encode(),
        PrivateKey=issued.private_key.encode(),
        CertificateChain=issued.chain.encode(),
    )["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Type"] == "IMPORTED"
    api = mock_api(apigw, "imported")
    apigw.create_domain_name(
        domainName="imported.example.test",
        regionalCertificateArn=arn,
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    apigw.create_base_path_mapping(domainName="imported.example.test", restApiId=api, stage="prod")
    context = ssl.create_default_context(cadata=own_ca.root_pem)
    with (
        socket.create_connection(("127.0.0.1", gw.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="imported.example.test") as tls,
    ):
        tls.sendall(b"GET /pets HTTP/1.1\r\nHost: imported.example.test\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body) == {"api": "imported", "path": "/pets", "resource": "/pets", "stage": "prod"}


def test_domain_and_mapping_management(gw: Https, certificate: str, versions: tuple[str, str, str]) -> None:
    apigw, v2 = gw.client("apigateway"), gw.client("apigatewayv2")
    got = apigw.get_domain_name(domainName=DOMAIN)
    assert got["regionalCertificateArn"] == certificate
    assert got["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert got["securityPolicy"] == "TLS_1_2"
    paths = sorted(m["basePath"] for m in apigw.get_base_path_mappings(domainName=DOMAIN)["items"])
    assert paths == ["v1", "v2", "v3/beta"]
    seen = v2.get_domain_name(DomainName=DOMAIN)
    assert seen["DomainNameConfigurations"][0]["CertificateArn"] == certificate
    keys = sorted(m["ApiMappingKey"] for m in v2.get_api_mappings(DomainName=DOMAIN)["Items"])
    assert keys == ["v1", "v2", "v3/beta"]
    with pytest.raises(botocore.exceptions.ClientError) as taken:
        apigw.create_base_path_mapping(domainName=DOMAIN, basePath="v1", restApiId=versions[1], stage="prod")
    assert taken.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(botocore.exceptions.ClientError) as again:
        apigw.create_domain_name(
            domainName=DOMAIN,
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
        )
    assert again.value.response["Error"]["Code"] == "ConflictException"
    # a v2 domain with a mapping, moved by UpdateApiMapping, then deleted with its mappings
    created = v2.create_domain_name(
        DomainName="moving.example.test",
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
    )
    assert created["DomainNameConfigurations"][0]["SecurityPolicy"] == "TLS_1_2"
    mapping = v2.create_api_mapping(
        DomainName="moving.example.test", ApiId=versions[0], Stage="prod", ApiMappingKey=""
    )
    assert gw.get("moving.example.test", "/pets").json()["api"] == "one"
    v2.update_api_mapping(
        DomainName="moving.example.test",
        ApiMappingId=mapping["ApiMappingId"],
        ApiId=versions[1],
        ApiMappingKey="x",
    )
    assert gw.get("moving.example.test", "/x/pets").json() == {
        "api": "two",
        "path": "/x/pets",
        "resource": "/pets",
        "stage": "prod",
    }
    assert gw.get("moving.example.test", "/pets").status_code == 403
    v2.delete_domain_name(DomainName="moving.example.test")
    with pytest.raises(botocore.exceptions.ClientError):
        apigw.get_domain_name(domainName="moving.example.test")


def test_custom_id_tag_keeps_the_id_across_recreation(gw: Https) -> None:
    apigw, v2 = gw.client("apigateway"), gw.client("apigatewayv2")
    first = apigw.create_rest_api(name="stable", tags={"_custom_id_": "petstore"})
    assert first["id"] == "petstore"
    with pytest.raises(botocore.exceptions.ClientError) as clash:
        apigw.create_rest_api(name="stable", tags={"_custom_id_": "petstore"})
    assert clash.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(botocore.exceptions.ClientError) as across:  # one id space for every kind of API
        v2.create_api(Name="h", ProtocolType="HTTP", Tags={"_custom_id_": "petstore"})
    assert across.value.response["Error"]["Code"] == "ConflictException"
    apigw.delete_rest_api(restApiId="petstore")
    assert apigw.create_rest_api(name="stable", tags={"_custom_id_": "petstore"})["id"] == "petstore"
    # its HTTPS URL survives re-creation (the listener's default certificate covers *.execute-api.localhost)
    for _ in range(2):
        assert mock_api(apigw, "stable-pets", tags={"_custom_id_": "stablepets"}) == "stablepets"
        answer = gw.get("stablepets.execute-api.localhost", "/prod/pets")
        assert answer.json() == {
            "api": "stable-pets",
            "path": "/prod/pets",
            "resource": "/pets",
            "stage": "prod",
        }
        apigw.delete_rest_api(restApiId="stablepets")
    assert (
        v2.create_api(Name="h", ProtocolType="HTTP", Tags={"_custom_id_": "httpstable"})["ApiId"]
        == "httpstable"
    )
    socket_api = v2.create_api(
        Name="w",
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
        Tags={"_custom_id_": "wsstable"},
    )
    assert socket_api["ApiId"] == "wsstable"
    document = {
        "openapi": "3.0.1",
        "info": {"title": "imported", "version": "1"},
        "tags": [{"name": "_custom_id_", "x-amazon-apigateway-tag-value": "importedapi"}],
        "paths": {},
    }
    imported = apigw.import_rest_api(body=json.dumps(document).encode())
    assert imported["id"] == "importedapi"
    assert (
        v2.import_api(
            Body=json.dumps(
                {
                    **document,
                    "tags": [{"name": "_custom_id_", "x-amazon-apigateway-tag-value": "importedhttp"}],
                }
            )
        )["ApiId"]
        == "importedhttp"
    )


def _versioned_api(apigw: Any, name: str) -> tuple[str, str, str]:
    """A REST API whose GET / answers with a version letter, the stage variable `color` and isCanaryRequest:
    deployed to prod as "a", then changed to "b" (not deployed). (api id, root id, prod's deployment id)"""
    api = apigw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})
    root = api["rootResourceId"]
    apigw.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api["id"], resourceId=root, httpMethod="GET", statusCode="200")

    def answer(version: str) -> None:
        template = f'{{"version": "{version}", "color": "$stageVariables.color", "canary": "$context.isCanaryRequest"}}'
        apigw.put_integration_response(
            restApiId=api["id"],
            resourceId=root,
            httpMethod="GET",
            statusCode="200",
            responseTemplates={"application/json": template},
        )

    answer("a")
    first = apigw.create_deployment(restApiId=api["id"], stageName="prod", variables={"color": "blue"})["id"]
    answer("b")
    return str(api["id"]), root, str(first)


def test_canary_release_splits_traffic(gw: Https, certificate: str) -> None:
    """10% over 1,000 requests on one keep-alive HTTPS connection to a custom domain mapped to the stage."""
    apigw = gw.client("apigateway")
    api_id, _, _ = _versioned_api(apigw, "canary")
    apigw.create_domain_name(
        domainName="canary.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    apigw.create_base_path_mapping(domainName="canary.example.test", restApiId=api_id, stage="prod")
    canary = apigw.create_deployment(
        restApiId=api_id,
        stageName="prod",
        canarySettings={"percentTraffic": 10.0, "stageVariableOverrides": {"color": "green"}},
    )
    stage = apigw.get_stage(restApiId=api_id, stageName="prod")
    assert stage["canarySettings"]["deploymentId"] == canary["id"]
    assert stage["canarySettings"]["percentTraffic"] == 10.0
    assert stage["deploymentId"] != canary["id"]
    seen: dict[str, int] = {}
    bodies = {}
    transport = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(gw.ca_file)))
    with httpx.Client(transport=transport) as client:  # keep-alive, as a load balancer's clients would be
        for _ in range(1000):
            body = client.get(
                f"https://127.0.0.1:{gw.port}/",
                headers={"Host": "canary.example.test"},
                extensions={"sni_hostname": "canary.example.test"},
            ).json()
            seen[body["version"]] = seen.get(body["version"], 0) + 1
            bodies[body["version"]] = body
    assert set(seen) == {"a", "b"}
    assert abs(seen["b"] - 100) <= 40, seen  # 10% ± 4% (over 4 standard deviations of a fair split)
    assert bodies["b"] == {"version": "b", "color": "green", "canary": "true"}
    assert bodies["a"] == {"version": "a", "color": "blue", "canary": "false"}
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        apigw.create_deployment(restApiId=api_id, stageName="prod", canarySettings={"percentTraffic": 101})
    assert refused.value.response["Error"]["Code"] == "BadRequestException"


def test_canary_at_full_traffic_and_created_with_the_stage(gw: Https) -> None:
    apigw = gw.client("apigateway")
    api_id, _, first = _versioned_api(apigw, "canary-stage")
    second = apigw.create_deployment(restApiId=api_id)["id"]
    apigw.create_stage(
        restApiId=api_id,
        stageName="beta",
        deploymentId=first,
        canarySettings={"percentTraffic": 100.0, "deploymentId": second, "useStageCache": False},
    )
    url = f"{gw.process.url}/_aws/execute-api/{api_id}/beta/"
    with httpx.Client() as client:
        assert {client.get(url).json()["version"] for _ in range(20)} == {"b"}
    # promotion: the stage moves to the canary's deployment
    apigw.update_stage(
        restApiId=api_id,
        stageName="beta",
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": second}],
    )
    assert apigw.get_stage(restApiId=api_id, stageName="beta")["deploymentId"] == second


def test_disable_execute_api_endpoint_leaves_custom_domains(gw: Https, certificate: str) -> None:
    apigw = gw.client("apigateway")
    api_id = mock_api(apigw, "hidden")
    assert httpx.get(f"{gw.process.url}/_aws/execute-api/{api_id}/prod/pets").status_code == 200
    apigw.update_rest_api(
        restApiId=api_id,
        patchOperations=[{"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"}],
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    refused = httpx.get(f"{gw.process.url}/_aws/execute-api/{api_id}/prod/pets")
    assert refused.status_code == 403 and refused.json() == {"message": "Forbidden"}
    apigw.create_domain_name(
        domainName="hidden.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    apigw.create_base_path_mapping(domainName="hidden.example.test", restApiId=api_id, basePath="api")
    # a mapping without a stage: the next segment names it
    assert gw.get("hidden.example.test", "/api/prod/pets").json()["api"] == "hidden"


def _client_get(
    gw: Https, host: str, path: str, cert: Path | None, server_name: str | None = None
) -> tuple[int, Any]:
    """GET over TLS with an optional client certificate (PEM with its key), SNI naming ``server_name`` (by
    default ``host``); (status, JSON body)."""
    context = ssl.create_default_context(cafile=str(gw.ca_file))
    if cert is not None:
        context.load_cert_chain(str(cert))
    transport = httpx.HTTPTransport(verify=context)
    with httpx.Client(transport=transport) as client:
        response = client.get(
            f"https://127.0.0.1:{gw.port}{path}",
            headers={"Host": host},
            extensions={"sni_hostname": server_name or host},
        )
    return response.status_code, response.json()


def _curl(gw: Https, host: str, path: str, cert: Path) -> tuple[int, Any]:
    """GET with ``curl --cert`` (PEM with its key): (status, JSON body); a failed handshake fails the test."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is required for this test (the CI installs it)")
    done = subprocess.run(
        [
            curl,
            "-sS",
            "--cacert",
            str(gw.ca_file),
            "--cert",
            str(cert),
            "--resolve",
            f"{host}:{gw.port}:127.0.0.1",
            "-w",
            "\n%{http_code}",
            f"https://{host}:{gw.port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_mutual_tls_accepts_trusted_client_certificates_only(
    gw: Https, certificate: str, versions: tuple[str, str, str], tmp_path: Path
) -> None:
    from apigate.control.local_ca import LocalCa

    clients, strangers = LocalCa(tmp_path / "clients"), LocalCa(tmp_path / "strangers")
    truststore = tmp_path / "truststore.pem"
    truststore.write_text(clients.root_pem)
    trusted, untrusted = tmp_path / "trusted.pem", tmp_path / "untrusted.pem"
    for path, ca in ((trusted, clients), (untrusted, strangers)):
        issued = ca.issue(["device-17"], client=True)
        path.write_text(issued.private_key + issued.certificate)
    now = datetime.datetime.now(datetime.UTC)
    expired, early = tmp_path / "expired.pem", tmp_path / "early.pem"
    for path, valid in (
        (expired, (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))),
        (early, (now + datetime.timedelta(days=1), now + datetime.timedelta(days=30))),
    ):
        issued = clients.issue(["device-18"], client=True, valid=valid)
        path.write_text(issued.private_key + issued.certificate)
    apigw = gw.client("apigateway")
    api = apigw.create_rest_api(name="mtls", endpointConfiguration={"types": ["REGIONAL"]})
    root = api["rootResourceId"]
    apigw.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api["id"], resourceId=root, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={
            "application/json": '{"subject": "$context.identity.clientCert.subjectDN",'
            ' "issuer": "$context.identity.clientCert.issuerDN"}'
        },
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    created = apigw.create_domain_name(
        domainName="mtls.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        mutualTlsAuthentication={"truststoreUri": f"file://{truststore}"},
    )
    assert created["mutualTlsAuthentication"]["truststoreUri"] == f"file://{truststore}"
    apigw.create_base_path_mapping(domainName="mtls.example.test", restApiId=api["id"], stage="prod")

    status, body = _client_get(gw, "mtls.example.test", "/", trusted)
    assert status == 200
    assert body["subject"] == "CN=device-17"
    assert "apigate local CA" in body["issuer"]
    status, body = _client_get(gw, "mtls.example.test", "/", None)  # no certificate: AWS's 403
    assert (status, body) == (403, {"message": "Forbidden"})
    for out_of_date in (expired, early):  # trusted issuer, outside its validity: AWS's 403 too
        assert _client_get(gw, "mtls.example.test", "/", out_of_date) == (403, {"message": "Forbidden"})
    # not trusted: as at AWS, the handshake completes and the gateway answers 403
    assert _client_get(gw, "mtls.example.test", "/", untrusted) == (403, {"message": "Forbidden"})
    assert _curl(gw, "mtls.example.test", "/", untrusted) == (403, {"message": "Forbidden"})
    assert _curl(gw, "mtls.example.test", "/", trusted)[0] == 200
    # a domain without mutual TLS still serves clients that present no certificate, or one it does not know
    assert gw.get(DOMAIN, "/v1/pets").status_code == 200
    assert _client_get(gw, DOMAIN, "/v1/pets", untrusted)[0] == 200
    with pytest.raises(botocore.exceptions.ClientError) as bad_store:
        apigw.create_domain_name(
            domainName="nostore.example.test",
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
            mutualTlsAuthentication={"truststoreUri": f"file://{tmp_path}/missing.pem"},
        )
    assert bad_store.value.response["Error"]["Code"] == "BadRequestException"


TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Cert:
    Type: AWS::CertificateManager::Certificate
    Properties:
      DomainName: tpl.example.test
      SubjectAlternativeNames: [tpl2.example.test]
      ValidationMethod: DNS
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      EndpointConfiguration: {Types: [REGIONAL]}
      Body:
        openapi: "3.0.1"
        info: {title: templated, version: "1"}
        tags:
          - name: _custom_id_
            x-amazon-apigateway-tag-value: tplapi
        paths:
          /pets:
            get:
              responses: {"200": {description: ok}}
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates: {application/json: '{"from": "template", "path": "$context.path"}'}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties: {RestApiId: !Ref Api, StageName: prod}
  Domain:
    Type: AWS::ApiGateway::DomainName
    Properties:
      DomainName: tpl.example.test
      RegionalCertificateArn: !Ref Cert
      EndpointConfiguration: {Types: [REGIONAL]}
      SecurityPolicy: TLS_1_2
  Mapping:
    Type: AWS::ApiGateway::BasePathMapping
    DependsOn: [Deployment, Domain]
    Properties: {DomainName: tpl.example.test, BasePath: v1, RestApiId: !Ref Api, Stage: prod}
  HttpDomain:
    Type: AWS::ApiGatewayV2::DomainName
    Properties:
      DomainName: tpl2.example.test
      DomainNameConfigurations: [{CertificateArn: !Ref Cert, EndpointType: REGIONAL}]
  HttpMapping:
    Type: AWS::ApiGatewayV2::ApiMapping
    DependsOn: [Deployment, HttpDomain]
    Properties: {DomainName: tpl2.example.test, ApiId: !Ref Api, Stage: prod, ApiMappingKey: "a/b"}
Outputs:
  Regional:
    Value: !GetAtt Domain.RegionalDomainName
"""


def test_domains_from_a_template(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    data = tmp_path / "data"
    process = GatewayProcess(data, [str(template), "--no-watch", "--https-port", "0"])
    process.start()
    try:
        wait_for(lambda: any(line.startswith("  https on ") for line in process.output))
        line = next(line for line in process.output if line.startswith("  https on "))
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text((data / "ca" / "root.pem").read_text())
        gw = Https(process, int(line.rsplit(":", 1)[1]), ca_file)
        answer = gw.get("tpl.example.test", "/v1/pets")
        assert answer.json() == {"from": "template", "path": "/v1/pets"}
        assert gw.get("tpl2.example.test", "/a/b/pets").json() == {"from": "template", "path": "/a/b/pets"}
        assert process.client("apigateway").get_rest_api(restApiId="tplapi")["name"] == "templated"
        wait_for(lambda: any("Regional: d-" in line for line in process.output))
    finally:
        process.stop()


def test_edge_apis_show_cloudfront_headers(gw: Https) -> None:
    apigw = gw.client("apigateway")
    regional = mock_api(apigw, "regional")
    edge_api = apigw.create_rest_api(name="edge")  # EDGE: the default endpoint type
    root = edge_api["rootResourceId"]
    apigw.put_method(restApiId=edge_api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=edge_api["id"],
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=edge_api["id"], resourceId=root, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=edge_api["id"], resourceId=root, httpMethod="GET", statusCode="200"
    )
    apigw.create_deployment(restApiId=edge_api["id"], stageName="prod")
    edge = httpx.get(f"{gw.process.url}/_aws/execute-api/{edge_api['id']}/prod/")
    assert edge.status_code == 200
    assert edge.headers["via"].endswith(".cloudfront.net (CloudFront)")
    assert len(edge.headers["x-amz-cf-id"]) == 56
    assert edge.headers["x-cache"] == "Miss from cloudfront"
    other = httpx.get(f"{gw.process.url}/_aws/execute-api/{edge_api['id']}/prod/")
    assert other.headers["x-amz-cf-id"] != edge.headers["x-amz-cf-id"]
    plain = httpx.get(f"{gw.process.url}/_aws/execute-api/{regional}/prod/pets")
    assert plain.status_code == 200 and "via" not in plain.headers and "x-amz-cf-id" not in plain.headers


def test_proxy_events_under_a_base_path(gw: Https, certificate: str) -> None:
    """AWS's rules: a REST event's path and requestContext.path keep the base path, its resource does not;
    an HTTP API's rawPath keeps the mapping key, its routeKey does not; the client certificate is absent."""
    apigw, v2, lam = gw.client("apigateway"), gw.client("apigatewayv2"), gw.client("lambda")
    function = create_function(lam, ECHO_EVENT)
    rest = apigw.create_rest_api(name="events", endpointConfiguration={"types": ["REGIONAL"]})
    items = apigw.create_resource(restApiId=rest["id"], parentId=rest["rootResourceId"], pathPart="items")
    item = apigw.create_resource(restApiId=rest["id"], parentId=items["id"], pathPart="{id}")
    apigw.put_method(restApiId=rest["id"], resourceId=item["id"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=rest["id"],
        resourceId=item["id"],
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=lambda_uri(function),
    )
    apigw.create_deployment(restApiId=rest["id"], stageName="live")
    http = v2.create_api(Name="events-http", ProtocolType="HTTP", Target=lambda_uri(function))
    v2.create_domain_name(
        DomainName="events.example.test",
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
    )
    v2.create_api_mapping(
        DomainName="events.example.test", ApiId=rest["id"], Stage="live", ApiMappingKey="rest/v1"
    )
    v2.create_api_mapping(
        DomainName="events.example.test", ApiId=http["ApiId"], Stage="$default", ApiMappingKey="h"
    )

    event = gw.get("events.example.test", "/rest/v1/items/42").json()
    assert event["path"] == "/rest/v1/items/42"
    assert event["resource"] == "/items/{id}"
    assert event["pathParameters"] == {"id": "42"}
    assert event["requestContext"]["path"] == "/rest/v1/items/42"
    assert event["requestContext"]["stage"] == "live"
    assert event["requestContext"]["domainName"] == "events.example.test"
    assert event["requestContext"]["identity"]["clientCert"] is None

    event = gw.get("events.example.test", "/h/anything/here").json()
    assert event["rawPath"] == "/h/anything/here"
    assert event["requestContext"]["http"]["path"] == "/h/anything/here"
    assert event["routeKey"] == "$default"
    assert event["requestContext"]["domainName"] == "events.example.test"
    assert "authentication" not in event["requestContext"]


def test_http_api_events_carry_the_client_certificate(gw: Https, certificate: str, tmp_path: Path) -> None:
    from apigate.control.local_ca import LocalCa

    clients = LocalCa(tmp_path / "clients")
    truststore, trusted = tmp_path / "truststore.pem", tmp_path / "trusted.pem"
    truststore.write_text(clients.root_pem)
    issued = clients.issue(["sensor-3"], client=True)
    trusted.write_text(issued.private_key + issued.certificate)
    v2, lam = gw.client("apigatewayv2"), gw.client("lambda")
    http = v2.create_api(
        Name="mtls-http", ProtocolType="HTTP", Target=lambda_uri(create_function(lam, ECHO_EVENT))
    )
    v2.create_domain_name(
        DomainName="mtls-http.example.test",
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
        MutualTlsAuthentication={"TruststoreUri": f"file://{truststore}"},
    )
    v2.create_api_mapping(
        DomainName="mtls-http.example.test", ApiId=http["ApiId"], Stage="$default", ApiMappingKey=""
    )
    status, event = _client_get(gw, "mtls-http.example.test", "/x", trusted)
    assert status == 200
    cert = event["requestContext"]["authentication"]["clientCert"]
    assert cert["subjectDN"] == "CN=sensor-3"
    assert cert["clientCertPem"].startswith("-----BEGIN CERTIFICATE-----")
    assert set(cert["validity"]) == {"notBefore", "notAfter"}
    assert v2.get_domain_name(DomainName="mtls-http.example.test")["MutualTlsAuthentication"][
        "TruststoreUri"
    ] == (f"file://{truststore}")


Issued = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _issue(name: str, issuer: Issued | None, *, ca: bool = False, forger: bool = False) -> Issued:
    """CN=``name`` issued by ``issuer`` (self-signed without one); ``forger``: naming the issuer but signed by
    another key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer = ec.generate_private_key(ec.SECP256R1()) if forger else issuer[1] if issuer else key
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(signer, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _bundle(path: Path, leaf: Issued, *chain: x509.Certificate) -> Path:
    """What a client loads: its key, its certificate, the intermediates it sends along."""
    key = leaf[1].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_text(key.decode() + "".join(_pem(cert) for cert in (leaf[0], *chain)))
    return path


def test_mutual_tls_answers_403_to_chains_the_truststore_does_not_trust(
    gw: Https, certificate: str, tmp_path: Path
) -> None:
    """Whatever keeps a certificate from chaining to the truststore (a foreign intermediate, no issuer, a
    missing intermediate, a signature not the issuer's), the handshake completes and AWS's 403 answers; a chain
    through an intermediate the client sends passes. A domain without mutual TLS, and the execute-api address,
    ignore a certificate offered to them: their events carry none. A certificate is judged by the truststore
    of the domain SNI names: a Host naming another mutual TLS domain is refused."""
    root = _issue("trusted root", None, ca=True)
    intermediate = _issue("trusted intermediate", root, ca=True)
    stranger_root = _issue("stranger root", None, ca=True)
    stranger = _issue("stranger intermediate", stranger_root, ca=True)
    forged_intermediate = _issue("trusted intermediate", root, ca=True, forger=True)
    truststore, strangers = tmp_path / "truststore.pem", tmp_path / "strangers.pem"
    truststore.write_text(_pem(root[0]))
    strangers.write_text(_pem(stranger_root[0]))
    through = _issue("through-intermediate", intermediate)
    trusted = {
        "CN=direct": _bundle(tmp_path / "direct.pem", _issue("direct", root)),
        "CN=through-intermediate": _bundle(tmp_path / "through.pem", through, intermediate[0]),
    }
    untrusted = {
        "foreign intermediate": _bundle(
            tmp_path / "foreign.pem", _issue("via-stranger", stranger), stranger[0]
        ),
        "self-signed": _bundle(tmp_path / "self.pem", _issue("self-signed", None)),
        "intermediate not sent": _bundle(tmp_path / "alone.pem", through),
        "forged leaf": _bundle(tmp_path / "forged.pem", _issue("forged", root, forger=True)),
        "forged intermediate": _bundle(
            tmp_path / "forged-chain.pem", _issue("via-forged", forged_intermediate), forged_intermediate[0]
        ),
    }
    v2, lam = gw.client("apigatewayv2"), gw.client("lambda")
    http = v2.create_api(
        Name="mtls-chains", ProtocolType="HTTP", Target=lambda_uri(create_function(lam, ECHO_EVENT))
    )
    for domain, store in (
        ("chains.example.test", truststore),
        ("strangers.example.test", strangers),
        ("open.example.test", None),
    ):
        v2.create_domain_name(
            DomainName=domain,
            DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
            **({"MutualTlsAuthentication": {"TruststoreUri": f"file://{store}"}} if store else {}),
        )
        v2.create_api_mapping(DomainName=domain, ApiId=http["ApiId"], Stage="$default", ApiMappingKey="")

    for subject, bundle in trusted.items():
        status, event = _client_get(gw, "chains.example.test", "/x", bundle)
        assert status == 200, (subject, event)
        assert event["requestContext"]["authentication"]["clientCert"]["subjectDN"] == subject
    for problem, bundle in untrusted.items():
        answer = _client_get(gw, "chains.example.test", "/x", bundle)
        assert answer == (403, {"message": "Forbidden"}), problem
    assert _curl(gw, "chains.example.test", "/x", untrusted["self-signed"]) == (403, {"message": "Forbidden"})
    # each domain's truststore for its own Host only
    foreign = untrusted["foreign intermediate"]
    assert _client_get(gw, "strangers.example.test", "/x", foreign)[0] == 200
    for host, server_name, bundle in (
        ("strangers.example.test", "chains.example.test", trusted["CN=direct"]),
        ("chains.example.test", "strangers.example.test", foreign),
    ):
        answer = _client_get(gw, host, "/x", bundle, server_name)
        assert answer == (403, {"message": "Forbidden"}), (host, server_name)
    for host in ("open.example.test", f"{http['ApiId']}.execute-api.localhost"):
        for bundle in (trusted["CN=direct"], untrusted["foreign intermediate"]):
            status, event = _client_get(gw, host, "/x", bundle)
            assert status == 200, (host, event)
            assert "authentication" not in event["requestContext"]


def test_websocket_handshake_through_mutual_tls_needs_a_trusted_certificate(
    gw: Https, certificate: str, tmp_path: Path
) -> None:
    """wss:// to a custom domain with mutual TLS: a trusted certificate connects; an untrusted one, or none,
    completes the TLS handshake and gets AWS's 403 in place of the 101."""
    import asyncio

    import websockets
    from websockets.exceptions import InvalidStatus

    from apigate.control.local_ca import LocalCa
    from tests.websocket_helpers import ECHO, SocketApi

    clients, strangers = LocalCa(tmp_path / "clients"), LocalCa(tmp_path / "strangers")
    truststore = tmp_path / "truststore.pem"
    truststore.write_text(clients.root_pem)
    trusted, untrusted = tmp_path / "trusted.pem", tmp_path / "untrusted.pem"
    for path, ca in ((trusted, clients), (untrusted, strangers)):
        issued = ca.issue(["socket-client"], client=True)
        path.write_text(issued.private_key + issued.certificate)
    api = SocketApi(gw.process)
    echo = api.integration(create_function(gw.client("lambda"), ECHO))
    api.route("$connect", echo)
    api.route("$default", echo, two_way=True)
    api.deploy("live")
    v2 = gw.client("apigatewayv2")
    host = "mtls-ws.example.test"
    v2.create_domain_name(
        DomainName=host,
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
        MutualTlsAuthentication={"TruststoreUri": f"file://{truststore}"},
    )
    v2.create_api_mapping(DomainName=host, ApiId=api.id, Stage="live", ApiMappingKey="chat")

    def tls(cert: Path | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(gw.ca_file))
        if cert is not None:
            context.load_cert_chain(str(cert))
        return context

    async def talk(cert: Path) -> str:
        url = f"wss://{host}:{gw.port}/chat"
        async with websockets.connect(url, ssl=tls(cert), host="127.0.0.1", port=gw.port) as ws:
            await ws.send("hello")
            return str(json.loads(await ws.recv())["requestContext"]["domainName"])

    async def refused(cert: Path | None) -> tuple[int, bytes]:
        url = f"wss://{host}:{gw.port}/chat"
        with pytest.raises(InvalidStatus) as answer:
            async with websockets.connect(url, ssl=tls(cert), host="127.0.0.1", port=gw.port):
                pass
        return answer.value.response.status_code, answer.value.response.body or b""

    assert asyncio.run(asyncio.wait_for(talk(trusted), 30)) == host
    for cert in (untrusted, None):
        status, body = asyncio.run(asyncio.wait_for(refused(cert), 30))
        assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_websocket_api_on_a_custom_domain_over_wss(gw: Https, certificate: str) -> None:
    """wss:// through the HTTPS listener: SNI and Host pick the domain, its API mapping the WebSocket API's
    stage; the stage's @connections answers under the mapping too; the domain takes no REST or HTTP API."""
    import asyncio

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import websockets
    from websockets.exceptions import InvalidStatus

    from tests.websocket_helpers import ECHO, SocketApi

    api = SocketApi(gw.process)
    # this module's create_function: its names are unique among this module's functions
    echo = api.integration(create_function(gw.client("lambda"), ECHO))
    api.route("$connect", echo)
    api.route("$default", echo, two_way=True)
    api.deploy("live")
    v2 = gw.client("apigatewayv2")
    host = "ws.example.test"
    v2.create_domain_name(
        DomainName=host,
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
    )
    v2.create_api_mapping(DomainName=host, ApiId=api.id, Stage="live", ApiMappingKey="chat")
    with pytest.raises(botocore.exceptions.ClientError) as mixed:
        v2.create_api_mapping(DomainName=host, ApiId=mock_api(gw.client("apigateway"), "rest"), Stage="prod")
    assert mixed.value.response["Error"]["Code"] == "BadRequestException"
    tls = ssl.create_default_context(cafile=str(gw.ca_file))

    async def talk() -> dict[str, Any]:
        async with websockets.connect(
            f"wss://{host}:{gw.port}/chat", ssl=tls, host="127.0.0.1", port=gw.port
        ) as ws:
            await ws.send('{"say": "hello"}')
            return dict(json.loads(await ws.recv()))

    event = asyncio.run(asyncio.wait_for(talk(), 30))
    context = event["requestContext"]
    assert event["body"] == '{"say": "hello"}'
    assert (context["domainName"], context["stage"], context["apiId"]) == (host, "live", api.id)

    async def refused(path: str) -> int:
        with pytest.raises(InvalidStatus) as answer:
            async with websockets.connect(
                f"wss://{host}:{gw.port}{path}", ssl=tls, host="127.0.0.1", port=gw.port
            ):
                pass
        return int(answer.value.response.status_code)

    assert asyncio.run(asyncio.wait_for(refused("/elsewhere"), 30)) == 403  # no mapping there: AWS's 403

    async def connected_then_post() -> str:
        async with websockets.connect(
            f"wss://{host}:{gw.port}/chat", ssl=tls, host="127.0.0.1", port=gw.port
        ) as ws:
            await ws.send("who am I")
            connection_id = json.loads(await ws.recv())["requestContext"]["connectionId"]
            # @connections under the custom domain and its mapping key, signed as an SDK signs it
            url = f"https://{host}:{gw.port}/chat/@connections/{connection_id}"
            signed = botocore.awsrequest.AWSRequest("POST", url, data=b"pushed")
            botocore.auth.SigV4Auth(
                botocore.credentials.Credentials("test", "test"), "execute-api", "us-east-1"
            ).add_auth(signed)
            transport = httpx.AsyncHTTPTransport(verify=tls)
            async with httpx.AsyncClient(transport=transport) as client:
                posted = await client.post(
                    f"https://127.0.0.1:{gw.port}/chat/@connections/{connection_id}",
                    content=b"pushed",
                    headers={"Host": f"{host}:{gw.port}", **dict(signed.headers.items())},
                    extensions={"sni_hostname": host},
                )
            assert posted.status_code == 200, posted.text
            return str(await ws.recv())

    assert asyncio.run(asyncio.wait_for(connected_then_post(), 30)) == "pushed"

    # DisableExecuteApiEndpoint: the execute-api handshake is refused, the custom domain still serves
    v2.update_api(ApiId=api.id, DisableExecuteApiEndpoint=True)
    api.deploy("live")

    async def execute_api_refused() -> int:
        with pytest.raises(InvalidStatus) as answer:
            async with websockets.connect(api.url("live")):
                pass
        return int(answer.value.response.status_code)

    assert asyncio.run(asyncio.wait_for(execute_api_refused(), 30)) == 403
    assert asyncio.run(asyncio.wait_for(talk(), 30))["requestContext"]["domainName"] == host


def _fresh_https_get(port: int, ca_file: Path, host: str, path: str) -> tuple[int, bytes, str]:
    """One GET on a new TLS connection (the kernel picks a worker per connection): status, body, and the
    common name of the certificate the server presented."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        subject = dict(item[0] for item in tls.getpeercert()["subject"])  # type: ignore[index]
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body, str(subject["commonName"])


def test_https_with_several_workers(tmp_path: Path) -> None:
    """--https-port with --workers 2: both processes accept TLS on the one HTTPS port, and a domain created
    through either reaches both (each worker's SNI table and router follow the store)."""
    data = tmp_path / "data"
    process = GatewayProcess(data, ["--workers", "2", "--https-port", "0"])
    process.start()
    try:
        wait_for(lambda: any(line.startswith("  https on ") for line in process.output))
        line = next(line for line in process.output if line.startswith("  https on "))
        port = int(line.rsplit(":", 1)[1])
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text((data / "ca" / "root.pem").read_text())
        pids: set[int] = set()

        def both_answer() -> bool:
            status, body, name = _fresh_https_get(port, ca_file, "localhost", "/_apigate/health")
            assert (status, name) == (200, "localhost")
            pids.add(json.loads(body)["pid"])
            return len(pids) == 2

        wait_for(both_answer)
        apigw, acm = process.client("apigateway"), process.client("acm")
        arn = acm.request_certificate(DomainName="workers.example.test")["CertificateArn"]
        api = mock_api(apigw, "spread")
        apigw.create_domain_name(
            domainName="workers.example.test",
            regionalCertificateArn=arn,
            endpointConfiguration={"types": ["REGIONAL"]},
        )
        apigw.create_base_path_mapping(domainName="workers.example.test", restApiId=api, stage="prod")
        served: list[bool] = []

        def every_worker_serves_the_domain() -> bool:
            # 40 fresh connections in a row, spread by the kernel: a worker that had not caught up fails one
            try:
                status, body, name = _fresh_https_get(port, ca_file, "workers.example.test", "/pets")
            except ssl.SSLCertVerificationError:  # a worker still presents its default certificate
                status, body, name = 0, b"", ""
            ok = status == 200 and name == "workers.example.test" and json.loads(body)["api"] == "spread"
            served.append(ok)
            return len(served) >= 40 and all(served[-40:])

        wait_for(every_worker_serves_the_domain, timeout=60)
    finally:
        assert process.stop() == 0


CERT_AUTHORIZER = """
def lambda_handler(event, context):
    cert = (event["requestContext"]["identity"] or {}).get("clientCert") or {}
    allowed = cert.get("subjectDN") == "CN=device-17"
    return {
        "principalId": cert.get("serialNumber", "nobody"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                 "Resource": event["methodArn"]}
            ],
        },
        "context": {"issuer": cert.get("issuerDN", "")},
    }
"""


def test_lambda_authorizer_judges_the_client_certificate(gw: Https, certificate: str, tmp_path: Path) -> None:
    """A REQUEST authorizer behind mutual TLS gets requestContext.identity.clientCert, as at AWS, and may
    refuse a certificate the truststore accepts."""
    from apigate.control.local_ca import LocalCa

    clients = LocalCa(tmp_path / "clients")
    truststore = tmp_path / "truststore.pem"
    truststore.write_text(clients.root_pem)
    allowed, refused = tmp_path / "allowed.pem", tmp_path / "refused.pem"
    for path, name in ((allowed, "device-17"), (refused, "device-99")):
        issued = clients.issue([name], client=True)
        path.write_text(issued.private_key + issued.certificate)
    apigw = gw.client("apigateway")
    api = apigw.create_rest_api(name="mtls-authorizer", endpointConfiguration={"types": ["REGIONAL"]})
    authorizer = apigw.create_authorizer(
        restApiId=api["id"],
        name="by-certificate",
        type="REQUEST",
        authorizerUri=lambda_uri(create_function(gw.client("lambda"), CERT_AUTHORIZER)),
        authorizerResultTtlInSeconds=0,
    )["id"]
    root = api["rootResourceId"]
    apigw.put_method(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        authorizationType="CUSTOM",
        authorizerId=authorizer,
    )
    apigw.put_integration(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api["id"], resourceId=root, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={
            "application/json": '{"principal": "$context.authorizer.principalId",'
            ' "issuer": "$context.authorizer.issuer"}'
        },
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    apigw.create_domain_name(
        domainName="mtls-auth.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        mutualTlsAuthentication={"truststoreUri": f"file://{truststore}"},
    )
    apigw.create_base_path_mapping(domainName="mtls-auth.example.test", restApiId=api["id"], stage="prod")

    status, body = _client_get(gw, "mtls-auth.example.test", "/", allowed)
    assert status == 200, body
    assert "apigate local CA" in body["issuer"]
    assert body["principal"].count(":") >= 1  # the certificate's serial number, as AWS formats it
    status, body = _client_get(gw, "mtls-auth.example.test", "/", refused)
    assert status == 403
    assert body == {"message": "User is not authorized to access this resource"}  # as for any Deny


def test_truststore_from_s3(moto: Any, tmp_path: Path) -> None:
    """truststoreUri s3://bucket/key (and truststoreVersion), read from the S3 the gateway is pointed at as its
    service integrations are (here moto_server); an object that is not there is AWS's BadRequest."""
    from apigate.control.local_ca import LocalCa

    clients = LocalCa(tmp_path / "clients")
    issued = clients.issue(["device-17"], client=True)
    trusted = tmp_path / "trusted.pem"
    trusted.write_text(issued.private_key + issued.certificate)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="truststores")
    s3.put_bucket_versioning(Bucket="truststores", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="truststores", Key="clients.pem", Body=clients.root_pem.encode())[
        "VersionId"
    ]
    s3.put_object(Bucket="truststores", Key="clients.pem", Body=b"a later version that is no PEM")
    data = tmp_path / "data"
    process = GatewayProcess(data, ["--https-port", "0", *moto.gateway_args()])
    process.start()
    try:
        wait_for(lambda: any(line.startswith("  https on ") for line in process.output))
        line = next(line for line in process.output if line.startswith("  https on "))
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text((data / "ca" / "root.pem").read_text())
        gw = Https(process, int(line.rsplit(":", 1)[1]), ca_file)
        apigw, acm = process.client("apigateway"), process.client("acm")
        arn = acm.request_certificate(DomainName="s3-mtls.example.test")["CertificateArn"]
        api = mock_api(apigw, "s3-trust")
        for uri in (
            "s3://truststores/missing.pem",
            "s3://truststores/clients.pem",  # its latest version is no PEM
        ):
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                apigw.create_domain_name(
                    domainName="s3-mtls.example.test",
                    regionalCertificateArn=arn,
                    endpointConfiguration={"types": ["REGIONAL"]},
                    mutualTlsAuthentication={"truststoreUri": uri},
                )
            assert refused.value.response["Error"]["Code"] == "BadRequestException"
            assert uri in refused.value.response["Error"]["Message"]
        created = apigw.create_domain_name(
            domainName="s3-mtls.example.test",
            regionalCertificateArn=arn,
            endpointConfiguration={"types": ["REGIONAL"]},
            mutualTlsAuthentication={
                "truststoreUri": "s3://truststores/clients.pem",
                "truststoreVersion": version,
            },
        )
        assert created["mutualTlsAuthentication"]["truststoreVersion"] == version
        apigw.create_base_path_mapping(domainName="s3-mtls.example.test", restApiId=api, stage="prod")
        status, body = _client_get(gw, "s3-mtls.example.test", "/pets", trusted)
        assert (status, body["api"]) == (200, "s3-trust")
        assert _client_get(gw, "s3-mtls.example.test", "/pets", None)[0] == 403
    finally:
        assert process.stop() == 0


def _expired_ca() -> str:
    """A CA certificate whose validity ended yesterday (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_truststore_warnings_for_certificates_out_of_date(
    gw: Https, certificate: str, tmp_path: Path
) -> None:
    from apigate.control.local_ca import LocalCa

    mixed, only_old = tmp_path / "mixed.pem", tmp_path / "old.pem"
    old = _expired_ca()
    mixed.write_text(LocalCa(tmp_path / "ca").root_pem + old)
    only_old.write_text(old)
    apigw, v2 = gw.client("apigateway"), gw.client("apigatewayv2")
    created = apigw.create_domain_name(
        domainName="warned.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        mutualTlsAuthentication={"truststoreUri": f"file://{mixed}"},
    )
    (warning,) = created["mutualTlsAuthentication"]["truststoreWarnings"]
    assert "CN=old CA" in warning and "expired" in warning
    seen = v2.get_domain_name(DomainName="warned.example.test")["MutualTlsAuthentication"]
    assert seen["TruststoreWarnings"] == [warning]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        apigw.create_domain_name(
            domainName="old.example.test",
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
            mutualTlsAuthentication={"truststoreUri": f"file://{only_old}"},
        )
    assert refused.value.response["Error"]["Code"] == "BadRequestException"


def test_sam_api_domain_over_https(tmp_path: Path) -> None:
    """SAM's `Domain` on an `AWS::Serverless::Api` (translated to DomainName and BasePathMapping) serves its base
    path over HTTPS with the certificate the template requests."""
    template = Path(__file__).parent / "templates" / "sam-custom-domain" / "template.yaml"
    data = tmp_path / "data"
    process = GatewayProcess(data, [str(template), "--no-watch", "--https-port", "0"])
    process.start()
    try:
        wait_for(lambda: any(line.startswith("  https on ") for line in process.output))
        line = next(line for line in process.output if line.startswith("  https on "))
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text((data / "ca" / "root.pem").read_text())
        gw = Https(process, int(line.rsplit(":", 1)[1]), ca_file)
        answer = gw.get("api.shop.example", "/v1/shop")
        assert answer.status_code == 200, answer.text
        assert (answer.json()["method"], answer.json()["path"]) == ("GET", "/v1/shop")
        assert gw.get("api.shop.example", "/shop").status_code == 403  # only /v1 is mapped
    finally:
        process.stop()


def test_http_api_with_the_execute_api_endpoint_disabled(gw: Https, certificate: str) -> None:
    """DisableExecuteApiEndpoint on an HTTP API: 403 at execute-api, served through its custom domain."""
    v2, lam = gw.client("apigatewayv2"), gw.client("lambda")
    api = v2.create_api(
        Name="hidden-http",
        ProtocolType="HTTP",
        Target=lambda_uri(create_function(lam, ECHO_EVENT)),
        DisableExecuteApiEndpoint=True,
    )
    assert api["DisableExecuteApiEndpoint"] is True
    v2.create_domain_name(
        DomainName="hidden-http.example.test",
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
    )
    v2.create_api_mapping(
        DomainName="hidden-http.example.test", ApiId=api["ApiId"], Stage="$default", ApiMappingKey=""
    )
    wait_for(lambda: gw.get("hidden-http.example.test", "/hello").status_code == 200)
    refused = httpx.get(f"{gw.process.url}/_aws/execute-api/{api['ApiId']}/hello")
    assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})
    assert gw.get("hidden-http.example.test", "/hello").json()["rawPath"] == "/hello"
