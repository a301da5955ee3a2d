"""Functions shared by the template corpus (tests/test_templates.py): each template points its CodeUri here."""

import base64
import json
import os


def _answer(body, status=200, headers=None):
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": json.dumps(body)}


def hello(event, context):
    return _answer({"message": "hello world"})


def echo(event, context):
    """What the function saw, in both payload formats (REST/HTTP 1.0 and HTTP 2.0)."""
    request = event.get("requestContext") or {}
    method = event.get("httpMethod") or (request.get("http") or {}).get("method")
    path = event.get("path") or event.get("rawPath")
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return _answer({
        "method": method,
        "path": path,
        "pathParameters": event.get("pathParameters"),
        "query": event.get("queryStringParameters"),
        "body": body,
        "stage": request.get("stage"),
        "stageVariables": event.get("stageVariables"),
        "authorizer": request.get("authorizer"),
        "version": event.get("version", "1.0"),
        "function": context.function_name,
        "env": {k: v for k, v in os.environ.items() if k.startswith("APP_")},
    })


def whoami(event, context):
    """The credentials the function runs with: its execution role's session."""
    return _answer({"keyPrefix": os.environ.get("AWS_ACCESS_KEY_ID", "")[:4],
                    "hasToken": bool(os.environ.get("AWS_SESSION_TOKEN"))})


def token_authorizer(event, context):
    if event.get("authorizationToken") != "allow":
        raise Exception("Unauthorized")
    return {"principalId": "ann", "context": {"user": "ann"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}}


def request_authorizer(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    effect = "Allow" if headers.get("x-pass") == "open" else "Deny"
    return {"principalId": "ann", "context": {"user": "ann"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}


def simple_authorizer(event, context):
    headers = event.get("headers") or {}
    return {"isAuthorized": headers.get("x-pass") == "open", "context": {"user": "ann"}}


def png(event, context):
    data = b"\x89PNG\r\n\x1a\n-apigate"
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
