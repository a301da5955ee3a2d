"""Uniqueness holds across processes: two gateways on one data dir race to create the same thing.

Every race starts RACERS boto3 calls at once (a barrier), split over both processes; exactly one may win,
every other one gets AWS's conflict error, and the store holds one. The store's primitive (``insert`` and
the claims of ``uniqueness.RULES``) is tested in-process at the end, racing two connections to one file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from apigate.store import Conflict, SqliteStore, uniqueness

from helpers import GatewayProcess, unique, zip_code

RACERS = 8
ROUNDS = 3  # a race lost once by chance must not hide a missing check

Pair = tuple[GatewayProcess, GatewayProcess]
Outcome = tuple[str, str]  # ("ok", "") or (error code, message)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    data = tmp_path_factory.mktemp("unique")
    first, second = GatewayProcess(data), GatewayProcess(data)
    first.start()
    second.start()
    yield first, second
    second.stop()
    first.stop()


def race(pair: Pair, service: str, call: Callable[[Any, int], Any]) -> list[Outcome]:
    """``call(client, racer)`` from RACERS threads at once, alternating between the two processes."""
    clients = [pair[i % 2].client(service) for i in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    outcomes: list[Outcome] = [("unset", "")] * RACERS

    def run(i: int) -> None:
        barrier.wait()
        try:
            call(clients[i], i)
            outcomes[i] = ("ok", "")
        except ClientError as exc:
            outcomes[i] = (exc.response["Error"]["Code"], exc.response["Error"]["Message"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def assert_one_winner(outcomes: list[Outcome], code: str, message: str) -> None:
    assert [o for o in outcomes if o[0] == "ok"] == [("ok", "")], outcomes
    assert sorted(o for o in outcomes if o[0] != "ok") == [(code, message)] * (RACERS - 1)


# --- the management API, two processes -------------------------------------------------------------------


def test_create_function_races_to_one(pair: Pair) -> None:
    lam = pair[0].client("lambda")
    for _ in range(ROUNDS):
        _function_round(pair, lam)


def _function_round(pair: Pair, lam: Any) -> None:
    name = unique("racefn")

    def create(client: Any, racer: int, name: str = name) -> None:
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role="arn:aws:iam::000000000000:role/lambda-role",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": zip_code({"lambda_function.py": f"RACER = {racer}\n"})},
        )

    outcomes = race(pair, "lambda", create)
    assert_one_winner(outcomes, "ResourceConflictException", f"Function already exist: {name}")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names.count(name) == 1


def test_create_api_key_value_races_to_one(pair: Pair) -> None:
    apigw = pair[1].client("apigateway")
    for _ in range(ROUNDS):
        _api_key_round(pair, apigw)


def _api_key_round(pair: Pair, apigw: Any) -> None:
    value = unique("race-key-value-0123456789")
    outcomes = race(pair, "apigateway", lambda c, i: c.create_api_key(name=f"k{i}", value=value))
    assert_one_winner(outcomes, "ConflictException", "API Key already exists")
    keys = apigw.get_api_keys(includeValues=True, limit=500)["items"]
    assert [k["value"] for k in keys].count(value) == 1


def test_create_usage_plan_key_races_to_one(pair: Pair) -> None:
    apigw = pair[0].client("apigateway")
    for _ in range(ROUNDS):
        _plan_key_round(pair, apigw)


def _plan_key_round(pair: Pair, apigw: Any) -> None:
    plan = apigw.create_usage_plan(name=unique("race-plan"))["id"]
    key = apigw.create_api_key(name="k")["id"]
    outcomes = race(
        pair,
        "apigateway",
        lambda c, i: c.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY"),
    )
    assert_one_winner(outcomes, "ConflictException", f"Usage Plan {plan} already contains API Key {key}")
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan)["items"]] == [key]


def test_rest_api_names_race_to_one(pair: Pair) -> None:
    """A path part under one parent, a variable path part, a model, a stage and an authorizer name."""
    apigw = pair[1].client("apigateway")
    for _ in range(ROUNDS):
        _rest_names_round(pair, apigw)


def _rest_names_round(pair: Pair, apigw: Any) -> None:
    api = apigw.create_rest_api(name=unique("race"))["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]

    outcomes = race(
        pair, "apigateway", lambda c, i: c.create_resource(restApiId=api, parentId=root, pathPart="pets")
    )
    assert_one_winner(
        outcomes, "ConflictException", "Another resource with the same parent already has this name: pets"
    )
    # Different variables, one parent: AWS allows one of them.
    outcomes = race(
        pair,
        "apigateway",
        lambda c, i: c.create_resource(restApiId=api, parentId=root, pathPart=f"{{v{i}}}"),
    )
    assert [o[0] for o in outcomes].count("ok") == 1, outcomes
    assert {o[0] for o in outcomes} == {"ok", "BadRequestException"}
    paths = [r["path"] for r in apigw.get_resources(restApiId=api, limit=500)["items"]]
    assert sorted(p for p in paths if p != "/" and not p.startswith("/{")) == ["/pets"]
    assert len([p for p in paths if p.startswith("/{")]) == 1

    outcomes = race(
        pair,
        "apigateway",
        lambda c, i: c.create_model(restApiId=api, name="Pet", contentType="application/json", schema='{"type": "object"}'),
    )
    assert_one_winner(outcomes, "ConflictException", "Model name already exists for this REST API")
    assert [m["name"] for m in apigw.get_models(restApiId=api)["items"]].count("Pet") == 1

    outcomes = race(
        pair,
        "apigateway",
        lambda c, i: c.create_authorizer(
            restApiId=api,
            name="auth",
            type="TOKEN",
            identitySource="method.request.header.Authorization",
            authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:000000000000:function:auth/invocations",
        ),
    )
    assert_one_winner(
        outcomes,
        "BadRequestException",
        "Authorizer name must be unique. Authorizer auth already exists in this RestApi.",
    )
    assert len(apigw.get_authorizers(restApiId=api)["items"]) == 1

    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    deployment = apigw.create_deployment(restApiId=api)["id"]
    outcomes = race(
        pair,
        "apigateway",
        lambda c, i: c.create_stage(restApiId=api, stageName="dev", deploymentId=deployment),
    )
    assert_one_winner(outcomes, "ConflictException", "Stage already exists")
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api)["item"]] == ["dev"]


def test_put_method_races_to_one_and_loses_no_method(pair: Pair) -> None:
    apigw = pair[0].client("apigateway")
    api = apigw.create_rest_api(name=unique("race-methods"))["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    outcomes = race(
        pair,
        "apigateway",
        lambda c, i: c.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE"),
    )
    assert_one_winner(outcomes, "ConflictException", "Method already exists for this resource")
    verbs = ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "ANY"]
    outcomes = race(  # different methods at once: every one is kept
        pair,
        "apigateway",
        lambda c, i: c.put_method(
            restApiId=api, resourceId=root, httpMethod=verbs[i], authorizationType="NONE"
        ),
    )
    assert outcomes.count(("ok", "")) == RACERS - 1  # the GET is there already
    assert sorted(apigw.get_resource(restApiId=api, resourceId=root)["resourceMethods"]) == sorted(verbs)


def test_http_api_route_key_and_stage_race_to_one(pair: Pair) -> None:
    v2 = pair[1].client("apigatewayv2")
    for _ in range(ROUNDS):
        _http_api_round(pair, v2)


def _http_api_round(pair: Pair, v2: Any) -> None:
    api = v2.create_api(Name=unique("race-http"), ProtocolType="HTTP")["ApiId"]
    outcomes = race(pair, "apigatewayv2", lambda c, i: c.create_route(ApiId=api, RouteKey="GET /pets"))
    assert_one_winner(outcomes, "ConflictException", "Route with key GET /pets already exists for this API")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api)["Items"]] == ["GET /pets"]
    outcomes = race(pair, "apigatewayv2", lambda c, i: c.create_stage(ApiId=api, StageName="live"))
    assert_one_winner(outcomes, "ConflictException", "Stage live already exists")
    assert [s["StageName"] for s in v2.get_stages(ApiId=api)["Items"]] == ["live"]


def test_iam_user_and_role_names_race_to_one_regardless_of_case(pair: Pair) -> None:
    iam = pair[0].client("iam")
    trust = orjson.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ).decode()
    for _ in range(ROUNDS):
        _iam_round(pair, iam, trust)


def _iam_round(pair: Pair, iam: Any, trust: Any) -> None:
    base = unique("Racer")
    spellings = [base, base.lower(), base.upper()]

    outcomes = race(pair, "iam", lambda c, i: c.create_user(UserName=spellings[i % 3]))
    assert [o[0] for o in outcomes].count("ok") == 1, outcomes
    assert {o[0] for o in outcomes} == {"ok", "EntityAlreadyExists"}
    users = [u["UserName"].lower() for u in iam.list_users()["Users"]]
    assert users.count(base.lower()) == 1

    outcomes = race(
        pair, "iam", lambda c, i: c.create_role(RoleName=spellings[i % 3], AssumeRolePolicyDocument=trust)
    )
    assert [o[0] for o in outcomes].count("ok") == 1, outcomes
    roles = [r["RoleName"].lower() for r in iam.list_roles()["Roles"]]
    assert roles.count(base.lower()) == 1


def test_add_permission_statement_id_races_to_one(pair: Pair) -> None:
    lam = pair[0].client("lambda")
    name = unique("racepolicy")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_code({"lambda_function.py": "X = 1\n"})},
    )
    outcomes = race(
        pair,
        "lambda",
        lambda c, i: c.add_permission(
            FunctionName=name,
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        ),
    )
    assert outcomes.count(("ok", "")) == 1, outcomes
    assert {o[0] for o in outcomes} == {"ok", "ResourceConflictException"}
    statements = orjson.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["apigw"]


# --- the store primitive, in-process -----------------------------------------------------------------------


def key_doc(key_id: str, value: str) -> dict[str, Any]:
    return {"id": key_id, "value": value}


def test_insert_refuses_an_existing_key_and_writes_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    store.insert("function", "f", {"FunctionName": "f", "v": 1})
    with pytest.raises(Conflict) as caught:
        store.insert("function", "f", {"FunctionName": "f", "v": 2})
    assert (caught.value.kind, caught.value.key, caught.value.rule) == ("function", "f", "key")
    assert store.get("function", "f") == {"FunctionName": "f", "v": 1}


def test_claims_follow_puts_updates_and_deletes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    store.put("apikey", "k1", key_doc("k1", "v" * 20))
    with pytest.raises(Conflict) as caught:
        store.put("apikey", "k2", key_doc("k2", "v" * 20))
    assert caught.value.rule == "value"
    assert store.get("apikey", "k2") is None
    store.put("apikey", "k1", {**key_doc("k1", "v" * 20), "name": "renamed"})  # its own claim: no conflict
    store.put("apikey", "k1", key_doc("k1", "w" * 20))  # a new value frees the old one
    store.put("apikey", "k2", key_doc("k2", "v" * 20))
    assert store.delete("apikey", "k1")
    store.put("apikey", "k3", key_doc("k3", "w" * 20))
    # Claims scoped by parent die with it.
    store.put("v2route", "a/r1", {"RouteId": "r1", "RouteKey": "GET /"}, parent="a")
    store.put("v2route", "b/r1", {"RouteId": "r1", "RouteKey": "GET /"}, parent="b")  # another API: fine
    with pytest.raises(Conflict):
        store.put("v2route", "a/r2", {"RouteId": "r2", "RouteKey": "GET /"}, parent="a")
    store.delete_parent("a")
    store.put("v2route", "a/r2", {"RouteId": "r2", "RouteKey": "GET /"}, parent="a")


def test_a_conflict_caught_inside_a_transaction_leaves_nothing_half_written(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    store.put("resource", "a/1", {"id": "1", "parentId": "root", "pathPart": "{id}"}, parent="a")
    with store.transaction():
        store.put("apikey", "k1", key_doc("k1", "x" * 20))
        with pytest.raises(Conflict) as caught:  # its path part is free, its variable slot is not
            store.put("resource", "a/2", {"id": "2", "parentId": "root", "pathPart": "{name}"}, parent="a")
        assert caught.value.rule == "variablePathPart"
    assert store.get("resource", "a/2") is None
    assert store.get("apikey", "k1") is not None
    store.put("resource", "a/3", {"id": "3", "parentId": "root", "pathPart": "name"}, parent="a")


def test_two_connections_racing_one_insert_make_one_document(tmp_path: Path) -> None:
    """Two stores on one file behave as two processes do: SQLite's write lock is what separates them."""
    stores = [SqliteStore(tmp_path / "a.db") for _ in range(2)]
    for round_ in range(20):
        value = f"value-{round_}-" * 4
        assert _store_race(stores, value) == 1
        assert [d["value"] for d in stores[0].list("apikey")].count(value) == 1


def _store_race(stores: list[SqliteStore], value: str) -> int:
    """RACERS threads put a key with ``value`` at once, alternating between the stores: how many won."""
    barrier = threading.Barrier(RACERS)
    won: list[int] = []

    def run(i: int) -> None:
        barrier.wait()
        key = f"{value}{i}"
        try:
            stores[i % 2].put("apikey", key, key_doc(key, value))
            won.append(i)
        except Conflict:
            pass

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(won)


def test_an_existing_data_dir_gets_its_claims(tmp_path: Path) -> None:
    """A data dir written before claims existed (documents only, user_version 0), duplicates included."""
    path = tmp_path / "apigate.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE documents (kind TEXT NOT NULL, key TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '', "
        "body BLOB NOT NULL, PRIMARY KEY (kind, key));"
    )
    for key_id in ("old", "dup"):  # a duplicate a race let in before
        db.execute(
            "INSERT INTO documents VALUES ('apikey', ?, '', ?)",
            (key_id, orjson.dumps(key_doc(key_id, "s" * 20))),
        )
    db.commit()
    db.close()
    store = SqliteStore(path)
    with pytest.raises(Conflict):
        store.put("apikey", "new", key_doc("new", "s" * 20))
    store.put("apikey", "dup", {**key_doc("dup", "s" * 20), "name": "still updatable"})
    assert store.get("apikey", "dup") == {**key_doc("dup", "s" * 20), "name": "still updatable"}
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == uniqueness.VERSION
    store.close()
    # Opening it again finds the claims in place (and does not rebuild them).
    again = SqliteStore(path)
    with pytest.raises(Conflict):
        again.insert("apikey", "new", key_doc("new", "s" * 20))
