"""Everything under /files/: the greedy {proxy+} route, any method."""

import json


def handler(event, context):
    body = {
        "method": event["httpMethod"],
        "file": event["pathParameters"]["proxy"],
        "stage": event["requestContext"]["stage"],
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
