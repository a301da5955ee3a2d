"""Documentation parts and versions: every location type, AWS's inheritance, ImportDocumentationParts, versions
tied to stages, and the round trip through GetExport (extensions=documentation) and ImportRestApi."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi, unique


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as failed:
        call(**kwargs)
    return str(failed.value.response["Error"]["Code"])


def build(apigw: Any) -> RestApi:
    """/pets (GET with ?type, POST with a Pet body) and /pets/{id} GET, MOCK-answered, deployed as v1."""
    api = RestApi(apigw, unique("doc-api"))
    apigw.create_model(
        restApiId=api.id,
        name="Pet",
        contentType="application/json",
        schema=json.dumps({"type": "object", "properties": {"name": {"type": "string"}}}),
    )
    for path, verb, parameters in (
        ("/pets", "GET", {"method.request.querystring.type": False, "method.request.header.x-trace": False}),
        ("/pets", "POST", {}),
        ("/pets/{id}", "GET", {"method.request.path.id": True}),
    ):
        api.mock(path, verb, "{}")
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod=verb,
            patchOperations=[
                {"op": "add", "path": f"/requestParameters/{key}", "value": str(required).lower()}
                for key, required in parameters.items()
            ]
            + ([{"op": "add", "path": "/requestModels/application~1json", "value": "Pet"}] if verb == "POST" else []),
        )
        apigw.put_method_response(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod=verb,
            statusCode="200",
            responseParameters={"method.response.header.x-count": False},
            responseModels={"application/json": "Pet"},
        )
    api.deploy("v1")
    return api


PARTS: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"type": "API"}, {"info": {"description": "All about pets"}}),
    ({"type": "RESOURCE", "path": "/pets"}, {"description": "The pets collection"}),
    ({"type": "METHOD", "path": "/pets", "method": "GET"}, {"summary": "List pets", "tags": ["pets"]}),
    ({"type": "METHOD", "path": "/pets"}, {"summary": "Any method on /pets"}),  # method "*"
    ({"type": "QUERY_PARAMETER", "path": "/pets", "method": "GET", "name": "type"}, {"description": "a kind"}),
    ({"type": "PATH_PARAMETER", "path": "/", "name": "id"}, {"description": "an id, everywhere"}),
    ({"type": "REQUEST_HEADER", "path": "/pets", "method": "GET", "name": "x-trace"}, {"description": "tracing"}),
    ({"type": "REQUEST_BODY", "path": "/pets", "method": "POST"}, {"description": "the new pet"}),
    ({"type": "RESPONSE", "path": "/", "statusCode": "200"}, {"description": "it worked"}),  # all methods, paths
    ({"type": "RESPONSE", "path": "/pets/{id}", "method": "GET", "statusCode": "200"}, {"description": "the pet"}),
    ({"type": "RESPONSE_HEADER", "path": "/", "statusCode": "*", "name": "x-count"}, {"description": "how many"}),
    ({"type": "RESPONSE_BODY", "path": "/pets", "method": "POST", "statusCode": "200"}, {"x-note": "body"}),
    ({"type": "MODEL", "name": "Pet"}, {"description": "A pet"}),
    ({"type": "AUTHORIZER", "name": "nobody"}, {"description": "documented, not used"}),
]


def create_parts(apigw: Any, api_id: str) -> None:
    for location, properties in PARTS:
        apigw.create_documentation_part(restApiId=api_id, location=location, properties=json.dumps(properties))


def export(apigw: Any, api_id: str, stage: str = "v1") -> dict[str, Any]:
    body = apigw.get_export(
        restApiId=api_id, stageName=stage, exportType="oas30", parameters={"extensions": "documentation"}
    )["body"].read()
    return dict(json.loads(body))


def located(apigw: Any, api_id: str) -> list[tuple[str, str]]:
    items = apigw.get_documentation_parts(restApiId=api_id, limit=500)["items"]
    return sorted(
        (json.dumps(i["location"], sort_keys=True), json.dumps(json.loads(i["properties"]), sort_keys=True))
        for i in items
    )


def test_parts_for_every_location_type(apigw: Any) -> None:
    api = build(apigw)
    create_parts(apigw, api.id)
    items = apigw.get_documentation_parts(restApiId=api.id)["items"]
    assert {i["location"]["type"] for i in items} == {
        "API", "RESOURCE", "METHOD", "QUERY_PARAMETER", "PATH_PARAMETER", "REQUEST_HEADER", "REQUEST_BODY",
        "RESPONSE", "RESPONSE_HEADER", "RESPONSE_BODY", "MODEL", "AUTHORIZER",
    }  # fmt: skip
    method = next(i for i in items if i["location"] == {"type": "METHOD", "path": "/pets", "method": "*"})
    assert json.loads(method["properties"]) == {"summary": "Any method on /pets"}  # defaults filled in
    got = apigw.get_documentation_part(restApiId=api.id, documentationPartId=method["id"])
    assert got["location"] == method["location"]
    updated = apigw.update_documentation_part(
        restApiId=api.id,
        documentationPartId=method["id"],
        patchOperations=[{"op": "replace", "path": "/properties", "value": '{"summary": "Anything"}'}],
    )
    assert json.loads(updated["properties"]) == {"summary": "Anything"}
    assert [i["location"]["name"] for i in apigw.get_documentation_parts(restApiId=api.id, type="MODEL")["items"]] == [
        "Pet"
    ]
    assert len(apigw.get_documentation_parts(restApiId=api.id, path="/pets")["items"]) == 7
    # AWS's refusals: a duplicate location, a field the type does not take, a missing name, bad properties.
    assert error_code(
        apigw.create_documentation_part, restApiId=api.id, location={"type": "API"}, properties="{}"
    ) == "ConflictException"
    assert error_code(
        apigw.create_documentation_part, restApiId=api.id, location={"type": "API", "path": "/x"}, properties="{}"
    ) == "BadRequestException"
    assert error_code(
        apigw.create_documentation_part, restApiId=api.id, location={"type": "MODEL"}, properties="{}"
    ) == "BadRequestException"
    assert error_code(
        apigw.create_documentation_part, restApiId=api.id, location={"type": "MODEL", "name": "X"}, properties="[1]"
    ) == "BadRequestException"
    apigw.delete_documentation_part(restApiId=api.id, documentationPartId=method["id"])
    assert error_code(
        apigw.get_documentation_part, restApiId=api.id, documentationPartId=method["id"]
    ) == "NotFoundException"


def test_export_applies_parts_with_aws_inheritance(apigw: Any) -> None:
    api = build(apigw)
    create_parts(apigw, api.id)
    out = export(apigw, api.id)
    assert out["info"]["description"] == "All about pets"
    pets, pet = out["paths"]["/pets"], out["paths"]["/pets/{id}"]
    assert pets["description"] == "The pets collection"
    assert pets["get"]["summary"] == "List pets" and pets["get"]["tags"] == ["pets"]  # the exact method wins
    assert pets["post"]["summary"] == "Any method on /pets"  # "*" covers the others
    # A child path inherits a parent's METHOD part (the path matches as a prefix); a RESOURCE part stays put.
    assert pet["get"]["summary"] == "List pets" and "description" not in pet
    query = {p["name"]: p for p in pets["get"]["parameters"]}
    assert query["type"]["description"] == "a kind" and query["x-trace"]["description"] == "tracing"
    assert pet["get"]["parameters"][0]["description"] == "an id, everywhere"  # inherited from "/"
    assert pets["post"]["requestBody"]["description"] == "the new pet"
    assert pets["get"]["responses"]["200"]["description"] == "it worked"  # inherited from "/", every method
    assert pet["get"]["responses"]["200"]["description"] == "the pet"  # the more specific part wins
    assert pets["post"]["responses"]["200"]["x-note"] == "body"
    assert pets["get"]["responses"]["200"]["headers"]["x-count"]["description"] == "how many"
    assert out["components"]["schemas"]["Pet"]["description"] == "A pet"
    listed = out["x-amazon-apigateway-documentation"]["documentationParts"]
    assert len(listed) == len(PARTS) and "version" not in out["x-amazon-apigateway-documentation"]
    # Without the extension the export carries none of it.
    plain = json.loads(apigw.get_export(restApiId=api.id, stageName="v1", exportType="oas30")["body"].read())
    assert "x-amazon-apigateway-documentation" not in plain and "description" not in plain["info"]


def test_round_trip_through_export_and_import(apigw: Any) -> None:
    api = build(apigw)
    create_parts(apigw, api.id)
    document = export(apigw, api.id)
    copy = apigw.import_rest_api(body=json.dumps(document).encode())["id"]
    assert located(apigw, copy) == located(apigw, api.id)
    skipped = apigw.import_rest_api(body=json.dumps(document).encode(), parameters={"ignore": "documentation"})
    assert apigw.get_documentation_parts(restApiId=skipped["id"])["items"] == []
    # PutRestApi in overwrite mode replaces the parts with the definition's.
    document["x-amazon-apigateway-documentation"]["documentationParts"] = [
        {"location": {"type": "API"}, "properties": {"info": {"description": "replaced"}}}
    ]
    apigw.put_rest_api(restApiId=copy, mode="overwrite", body=json.dumps(document).encode())
    assert [json.loads(p) for _, p in located(apigw, copy)] == [{"info": {"description": "replaced"}}]


def test_import_documentation_parts_merge_and_overwrite(apigw: Any) -> None:
    api = build(apigw)
    create_parts(apigw, api.id)
    before = located(apigw, api.id)
    definition = {
        "openapi": "3.0.1",
        "info": {"title": "docs", "version": "1"},
        "paths": {},
        "x-amazon-apigateway-documentation": {
            "version": "2",
            "documentationParts": [
                {"location": {"type": "API"}, "properties": {"info": {"description": "merged"}}},
                {"location": {"type": "MODEL", "name": "Other"}, "properties": {"description": "new"}},
            ],
        },
    }
    merged = apigw.import_documentation_parts(restApiId=api.id, mode="merge", body=json.dumps(definition).encode())
    assert len(merged["ids"]) == 2
    after = located(apigw, api.id)
    assert len(after) == len(before) + 1  # the API part was replaced in place, the model's added
    assert export(apigw, api.id)["info"]["description"] == "merged"
    apigw.import_documentation_parts(restApiId=api.id, mode="overwrite", body=json.dumps(definition).encode())
    assert len(located(apigw, api.id)) == 2
    assert error_code(
        apigw.import_documentation_parts, restApiId=api.id, mode="merge", failOnWarnings=True, body=b"{}"
    ) == "BadRequestException"


def test_versions_are_snapshots_tied_to_stages(apigw: Any) -> None:
    api = build(apigw)
    create_parts(apigw, api.id)
    created = apigw.create_documentation_version(
        restApiId=api.id, documentationVersion="1.0", stageName="v1", description="first"
    )
    assert created["version"] == "1.0" and created["description"] == "first"
    assert apigw.get_stage(restApiId=api.id, stageName="v1")["documentationVersion"] == "1.0"
    assert error_code(
        apigw.create_documentation_version, restApiId=api.id, documentationVersion="1.0"
    ) == "ConflictException"
    # Parts changed after the snapshot do not reach the stage's export until a new version is tied to it.
    part = apigw.get_documentation_parts(restApiId=api.id, type="API")["items"][0]
    apigw.update_documentation_part(
        restApiId=api.id,
        documentationPartId=part["id"],
        patchOperations=[{"op": "replace", "path": "/properties", "value": '{"info": {"description": "later"}}'}],
    )
    out = export(apigw, api.id)
    assert out["info"]["description"] == "All about pets"
    assert out["x-amazon-apigateway-documentation"]["version"] == "1.0"
    apigw.create_documentation_version(restApiId=api.id, documentationVersion="2.0")
    apigw.update_stage(
        restApiId=api.id,
        stageName="v1",
        patchOperations=[{"op": "replace", "path": "/documentationVersion", "value": "2.0"}],
    )
    assert export(apigw, api.id)["info"]["description"] == "later"
    versions = apigw.get_documentation_versions(restApiId=api.id)["items"]
    assert [v["version"] for v in versions] == ["1.0", "2.0"]
    assert "parts" not in versions[0]
    updated = apigw.update_documentation_version(
        restApiId=api.id,
        documentationVersion="1.0",
        patchOperations=[{"op": "replace", "path": "/description", "value": "old"}],
    )
    assert updated["description"] == "old"
    assert error_code(
        apigw.delete_documentation_version, restApiId=api.id, documentationVersion="2.0"
    ) == "BadRequestException"  # in use by v1
    apigw.delete_documentation_version(restApiId=api.id, documentationVersion="1.0")
    assert error_code(
        apigw.get_documentation_version, restApiId=api.id, documentationVersion="1.0"
    ) == "NotFoundException"


def test_cli_docs_prints_the_page_and_writes_the_document(gateway: GatewayProcess, apigw: Any, tmp_path: Any) -> None:
    import subprocess
    import sys

    api = build(apigw)
    create_parts(apigw, api.id)
    target = tmp_path / "doc.json"
    done = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "docs", api.id, "v1", "-o", str(target), "--endpoint", gateway.url],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"{gateway.url}/_apigate/docs/{api.id}/v1"
    assert json.loads(target.read_text())["info"]["description"] == "All about pets"
