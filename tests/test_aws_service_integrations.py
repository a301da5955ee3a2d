"""REST `AWS` integrations to services other than Lambda, against a real AWS-compatible server (moto_server):
each kind through a deployed stage and through TestInvokeMethod, with AWS's documented mapping templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from moto_server import REGION, MotoServer

from helpers import GatewayProcess, RestApi, create_function, unique

ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/apigateway-integration"


@pytest.fixture(scope="module")
def apigw(aws_gateway: GatewayProcess) -> Any:
    return aws_gateway.client("apigateway")


def _aws(
    api: RestApi,
    path: str,
    verb: str,
    uri: str,
    template: str,
    *,
    responses: dict[str, dict[str, Any]] | None = None,
    parameters: dict[str, str] | None = None,
    method_parameters: dict[str, bool] | None = None,
    content_type: str = "application/json",
) -> str:
    apigw = api.apigw
    rid = api.resource(path)
    apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        authorizationType="NONE",
        requestParameters=method_parameters or {},
    )
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        type="AWS",
        integrationHttpMethod="POST",
        uri=uri,
        credentials=ROLE,
        requestParameters=parameters or {},
        requestTemplates={content_type: template},
        passthroughBehavior="NEVER",
    )
    for status, response in (responses or {"200": {}}).items():
        apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode=status)
        apigw.put_integration_response(
            restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode=status, **response
        )
    return rid


def _url(gateway: GatewayProcess, api: RestApi, path: str) -> str:
    return gateway.invoke_url(api.id, "test", path)


# AWS's Kinesis tutorial: PutRecord with the record's data base64-encoded by the template.
KINESIS_PUT = """{
    "StreamName": "$input.params('stream-name')",
    "Data": "$util.base64Encode($input.json('$.Data'))",
    "PartitionKey": "$input.path('$.PartitionKey')"
}"""


def test_kinesis_put_record(aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer) -> None:
    kinesis = moto.client("kinesis")
    stream = unique("stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    api = RestApi(apigw, unique("kinesis"))
    rid = _aws(
        api,
        "/streams/{stream-name}/record",
        "PUT",
        f"arn:aws:apigateway:{REGION}:kinesis:action/PutRecord",
        KINESIS_PUT,
    )
    api.deploy()
    answer = requests.put(
        _url(aws_gateway, api, f"/streams/{stream}/record"),
        json={"Data": {"hello": "world"}, "PartitionKey": "p1"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["ShardId"].startswith("shardId-")
    result = apigw.test_invoke_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="PUT",
        pathWithQueryString=f"/streams/{stream}/record",
        body=json.dumps({"Data": {"n": 2}, "PartitionKey": "p2"}),
        headers={"Content-Type": "application/json"},
    )
    assert result["status"] == 200, result["log"]
    assert "X-Amz-Target=Kinesis_20131202.PutRecord" in result["log"]
    assert f"Endpoint request URI: {moto.url}/" in result["log"]
    assert "Authorization=**********" in result["log"]  # the signature is never shown
    shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [json.loads(r["Data"]) for r in records] == [{"hello": "world"}, {"n": 2}]
    assert [r["PartitionKey"] for r in records] == ["p1", "p2"]


def test_sqs_send_message_by_path_and_by_action(
    aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer
) -> None:
    sqs = moto.client("sqs")
    queue = unique("orders")
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    api = RestApi(apigw, unique("sqs"))
    # AWS's SQS pattern: the queue in the path, a form body built by the template.
    _aws(
        api,
        "/orders",
        "POST",
        f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/{queue}",
        "Action=SendMessage&MessageBody=$util.urlEncode($input.body)",
        parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
        responses={"200": {"responseTemplates": {"application/json": '{"queued": true}'}}},
    )
    # The action form: the queue URL as a mapped query parameter, the body a form too.
    _aws(
        api,
        "/direct",
        "POST",
        f"arn:aws:apigateway:{REGION}:sqs:action/SendMessage",
        "MessageBody=$util.urlEncode($input.body)",
        parameters={"integration.request.querystring.QueueUrl": f"'{queue_url}'"},
    )
    api.deploy()
    first = requests.post(_url(aws_gateway, api, "/orders"), json={"order": 1, "note": "a&b=c"}, timeout=10)
    assert first.status_code == 200, first.text
    assert first.json() == {"queued": True}
    second = requests.post(_url(aws_gateway, api, "/direct"), json={"order": 2}, timeout=10)
    assert second.status_code == 200, second.text
    assert "<MessageId>" in second.text  # SQS's own answer, passed through by the default response
    bodies = []
    while len(bodies) < 2:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        assert messages, "the messages never reached the queue"
        bodies += [json.loads(m["Body"]) for m in messages]
    assert sorted(bodies, key=lambda b: b["order"]) == [{"order": 1, "note": "a&b=c"}, {"order": 2}]


DYNAMO_PUT = """{
    "TableName": "$stageVariables.table",
    "Item": {
        "id": {"S": "$input.path('$.id')"},
        "name": {"S": "$input.path('$.name')"}
    }
}"""
DYNAMO_QUERY = """{
    "TableName": "$stageVariables.table",
    "KeyConditionExpression": "id = :v",
    "ExpressionAttributeValues": {":v": {"S": "$input.params('id')"}}
}"""
DYNAMO_ITEMS = """#set($items = $input.path('$.Items'))
{"items": [#foreach($item in $items){"id": "$item.id.S", "name": "$item.name.S"}#if($foreach.hasNext),#end#end]}"""


def test_dynamodb_put_and_query(aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer) -> None:
    dynamo = moto.client("dynamodb")
    table = unique("items")
    dynamo.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    api = RestApi(apigw, unique("dynamo"))
    _aws(api, "/items", "POST", f"arn:aws:apigateway:{REGION}:dynamodb:action/PutItem", DYNAMO_PUT)
    rid = _aws(
        api,
        "/items/{id}",
        "GET",
        f"arn:aws:apigateway:{REGION}:dynamodb:action/Query",
        DYNAMO_QUERY,
        responses={
            "200": {"responseTemplates": {"application/json": DYNAMO_ITEMS}},
            # The service's 4xx picks this one by its status: AWS's selectionPattern on the status code.
            "400": {
                "selectionPattern": "4\\d{2}",
                "responseTemplates": {"application/json": '{"error": "$input.path(\'$.__type\')"}'},
            },
        },
    )
    api.deploy(variables={"table": table})
    put = requests.post(_url(aws_gateway, api, "/items"), json={"id": "a1", "name": "first"}, timeout=10)
    assert put.status_code == 200, put.text
    assert dynamo.get_item(TableName=table, Key={"id": {"S": "a1"}})["Item"]["name"] == {"S": "first"}
    got = requests.get(_url(aws_gateway, api, "/items/a1"), timeout=10)
    assert got.status_code == 200, got.text
    assert got.json() == {"items": [{"id": "a1", "name": "first"}]}
    # A table that does not exist: DynamoDB's 400 goes through the integration-response selection.
    apigw.create_deployment(restApiId=api.id, stageName="broken", variables={"table": "no-such-table"})
    missing = requests.get(aws_gateway.invoke_url(api.id, "broken", "/items/a1"), timeout=10)
    assert missing.status_code == 400
    assert "ResourceNotFoundException" in missing.json()["error"]
    result = apigw.test_invoke_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        pathWithQueryString="/items/a1",
        stageVariables={"table": table},
    )
    assert result["status"] == 200, result["log"]
    assert json.loads(result["body"]) == {"items": [{"id": "a1", "name": "first"}]}
    assert "X-Amz-Target=DynamoDB_20120810.Query" in result["log"]
    assert "Received response. Status: 200" in result["log"]


def test_eventbridge_put_events(aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer) -> None:
    events, sqs = moto.client("events"), moto.client("sqs")
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=unique("bus-target"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    api = RestApi(apigw, unique("events"))
    template = (
        '{"Entries": [{"Source": "shop", "DetailType": "order", "EventBusName": "' + bus + '",'
        ' "Detail": "$util.escapeJavaScript($input.json(\'$\'))"}]}'
    )
    _aws(api, "/events", "POST", f"arn:aws:apigateway:{REGION}:events:action/PutEvents", template)
    api.deploy()
    answer = requests.post(_url(aws_gateway, api, "/events"), json={"order": 7}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["FailedEntryCount"] == 0
    messages = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
    assert messages and json.loads(messages[0]["Body"])["detail"] == {"order": 7}


def test_step_functions_start_execution(aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer) -> None:
    sfn = moto.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=unique("flow"),
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    api = RestApi(apigw, unique("sfn"))
    template = '{"input": "$util.escapeJavaScript($input.json(\'$\'))", "stateMachineArn": "' + machine + '"}'
    rid = _aws(
        api, "/workflow", "POST", f"arn:aws:apigateway:{REGION}:states:action/StartExecution", template
    )
    api.deploy()
    answer = requests.post(_url(aws_gateway, api, "/workflow"), json={"job": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    execution = answer.json()["executionArn"]
    assert json.loads(sfn.describe_execution(executionArn=execution)["input"]) == {"job": 1}
    result = apigw.test_invoke_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        pathWithQueryString="/workflow",
        body='{"job": 2}',
    )
    assert result["status"] == 200, result["log"]
    assert "X-Amz-Target=AWSStepFunctions.StartExecution" in result["log"]
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 2


def test_sns_publish_query_protocol(aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer) -> None:
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    queue_url = sqs.create_queue(QueueName=unique("subscriber"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    api = RestApi(apigw, unique("sns"))
    _aws(
        api,
        "/notify",
        "POST",
        f"arn:aws:apigateway:{REGION}:sns:action/Publish",
        "TopicArn=$util.urlEncode('" + topic + "')&Message=$util.urlEncode($input.body)",
    )
    api.deploy()
    answer = requests.post(_url(aws_gateway, api, "/notify"), json={"ping": True}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert "<PublishResult>" in answer.text
    messages = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
    assert messages and json.loads(messages[0]["Body"]) == {"ping": True}


def test_s3_path_put_and_get(aws_gateway: GatewayProcess, apigw: Any, moto: MotoServer) -> None:
    s3 = moto.client("s3")
    bucket = unique("bucket").lower()
    s3.create_bucket(Bucket=bucket)
    api = RestApi(apigw, unique("s3"))
    for verb in ("PUT", "GET"):
        rid = api.resource("/files/{key}")
        apigw.put_method(
            restApiId=api.id,
            resourceId=rid,
            httpMethod=verb,
            authorizationType="NONE",
            requestParameters={"method.request.path.key": True},
        )
        apigw.put_integration(
            restApiId=api.id,
            resourceId=rid,
            httpMethod=verb,
            type="AWS",
            integrationHttpMethod=verb,
            uri=f"arn:aws:apigateway:{REGION}:s3:path/{bucket}/{{object}}",
            credentials=ROLE,
            requestParameters={"integration.request.path.object": "method.request.path.key"},
        )
        apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode="200")
        apigw.put_integration_response(
            restApiId=api.id,
            resourceId=rid,
            httpMethod=verb,
            statusCode="200",
            responseTemplates={"application/json": "$input.body"} if verb == "GET" else {},
        )
    api.deploy()
    put = requests.put(_url(aws_gateway, api, "/files/note.txt"), data=b'{"text": "hi"}', timeout=10)
    assert put.status_code == 200, put.text
    assert s3.get_object(Bucket=bucket, Key="note.txt")["Body"].read() == b'{"text": "hi"}'
    got = requests.get(_url(aws_gateway, api, "/files/note.txt"), timeout=10)
    assert got.status_code == 200 and got.json() == {"text": "hi"}


def test_unreachable_service_is_500_with_reason(aws_gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("dead"))
    rid = _aws(api, "/put", "POST", f"arn:aws:apigateway:{REGION}:firehose:action/PutRecord", '{"x": 1}')
    api.deploy()
    answer = requests.post(_url(aws_gateway, api, "/put"), json={}, timeout=10)
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal server error"}
    result = apigw.test_invoke_method(restApiId=api.id, resourceId=rid, httpMethod="POST", body="{}")
    assert result["status"] == 500
    assert "firehose endpoint http://127.0.0.1:" in result["log"]
    assert "could not be reached" in result["log"]


def test_unknown_service_uri_is_configuration_error(aws_gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("unknown"))
    rid = _aws(api, "/x", "POST", f"arn:aws:apigateway:{REGION}:nosuchservice:action/Do", "{}")
    api.deploy()
    assert requests.post(_url(aws_gateway, api, "/x"), json={}, timeout=10).status_code == 500
    result = apigw.test_invoke_method(restApiId=api.id, resourceId=rid, httpMethod="POST", body="{}")
    assert "unknown AWS service: nosuchservice" in result["log"]


FUNCTION = """
import boto3

def lambda_handler(event, context):
    table = event["table"]
    dynamo = boto3.client("dynamodb")
    dynamo.put_item(TableName=table, Item={"id": {"S": "from-function"}})
    try:
        boto3.client("kms").list_keys()
        kms = "reached"
    except Exception as exc:
        kms = str(exc)
    return {"count": dynamo.scan(TableName=table)["Count"], "kms": kms}
"""


def test_functions_reach_configured_services(
    aws_gateway: GatewayProcess, moto: MotoServer, tmp_path: Path
) -> None:
    """Inside a function, boto3 reaches the services the gateway has endpoints for (here DynamoDB on moto);
    a service it has none for answers an error that names the service and how to configure it."""
    dynamo = moto.client("dynamodb")
    table = unique("fn-table")
    dynamo.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    lam = aws_gateway.client("lambda")
    name = create_function(lam, FUNCTION, Timeout=30)
    result = lam.invoke(FunctionName=name, Payload=json.dumps({"table": table}))
    payload = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, payload
    assert payload["count"] == 1
    assert "KMS" in payload["kms"] and "--aws-endpoint kms=URL" in payload["kms"]
    assert "AWS_ENDPOINT_URL_KMS" in payload["kms"]
