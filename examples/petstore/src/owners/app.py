import json


def handler(event, context):
    params = event["pathParameters"]
    body = {"owner": params["ownerId"], "pet": params["petId"], "resource": event["resource"]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
