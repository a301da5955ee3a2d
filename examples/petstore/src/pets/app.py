"""The pets: listed, fetched by id, created. Data lives in the code; each worker starts from the same list."""

import json
import os

PETS = {
    "1": {"id": "1", "name": "Rex", "type": "dog", "price": 249.99},
    "2": {"id": "2", "name": "Tom", "type": "cat", "price": 124.99},
    "3": {"id": "3", "name": "Nemo", "type": "fish", "price": 0.99},
}


def _answer(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def list_pets(event, context):
    variables = event.get("stageVariables") or {}
    wanted = (event.get("queryStringParameters") or {}).get("type")
    pets = [pet for pet in PETS.values() if wanted in (None, pet["type"])]
    return _answer(
        200,
        {
            "greeting": os.environ["GREETING"],
            "store": variables.get("store"),
            "currency": variables.get("currency"),
            "pets": pets,
        },
    )


def get_pet(event, context):
    pet = PETS.get(event["pathParameters"]["petId"])
    if pet is None:
        return _answer(404, {"message": f"no pet {event['pathParameters']['petId']}"})
    return _answer(200, pet)


def create_pet(event, context):
    try:
        pet = json.loads(event.get("body") or "{}")
    except ValueError:
        return _answer(400, {"message": "the body must be JSON"})
    if not isinstance(pet, dict) or not pet.get("name"):
        return _answer(400, {"message": "a pet needs a name"})
    pet["id"] = str(len(PETS) + 1)
    return _answer(201, pet)
