"""HTTP APIs' AWS service integrations (``IntegrationSubtype``): each subtype's service, action and parameters.

``RequestParameters`` of such an integration map these parameter names to values (``$request.body.x``,
``$request.header.x``, static text). Parameters holding numbers, lists or objects are converted from the mapped
text; ``Region`` picks the service's region rather than being sent.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SUBTYPES", "Subtype"]


@dataclass(frozen=True, slots=True)
class Subtype:
    service: str  # endpoint prefix, as in REST integration URIs
    action: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    integers: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()
    wrap: str | None = None  # EventBridge: the parameters are one entry of this list
    blobs: frozenset[str] = frozenset()  # sent base64-encoded (JSON blobs)

    @property
    def camel_case(self) -> bool:
        """Step Functions' members are camelCase (stateMachineArn) though the parameters are named as AWS
        documents them (StateMachineArn)."""
        return self.service == "states"

    @property
    def names(self) -> frozenset[str]:
        return frozenset((*self.required, *self.optional, "Region"))


_SQS_ATTRIBUTES = frozenset({"MessageAttributes", "MessageSystemAttributes"})

SUBTYPES: dict[str, Subtype] = {
    "SQS-SendMessage": Subtype(
        "sqs",
        "SendMessage",
        ("QueueUrl", "MessageBody"),
        (
            "DelaySeconds",
            "MessageAttributes",
            "MessageDeduplicationId",
            "MessageGroupId",
            "MessageSystemAttributes",
        ),
        integers=frozenset({"DelaySeconds"}),
        objects=_SQS_ATTRIBUTES,
    ),
    "SQS-ReceiveMessage": Subtype(
        "sqs",
        "ReceiveMessage",
        ("QueueUrl",),
        (
            "AttributeNames",
            "MaxNumberOfMessages",
            "MessageAttributeNames",
            "ReceiveRequestAttemptId",
            "VisibilityTimeout",
            "WaitTimeSeconds",
        ),
        integers=frozenset({"MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds"}),
        lists=frozenset({"AttributeNames", "MessageAttributeNames"}),
    ),
    "SQS-DeleteMessage": Subtype("sqs", "DeleteMessage", ("QueueUrl", "ReceiptHandle")),
    "SQS-PurgeQueue": Subtype("sqs", "PurgeQueue", ("QueueUrl",)),
    "Kinesis-PutRecord": Subtype(
        "kinesis",
        "PutRecord",
        ("StreamName", "Data", "PartitionKey"),
        ("SequenceNumberForOrdering", "ExplicitHashKey"),
        blobs=frozenset({"Data"}),
    ),
    "EventBridge-PutEvents": Subtype(
        "events",
        "PutEvents",
        ("Detail", "DetailType", "Source"),
        ("Time", "EventBusName", "Resources", "TraceHeader"),
        lists=frozenset({"Resources"}),
        wrap="Entries",
    ),
    "StepFunctions-StartExecution": Subtype(
        "states", "StartExecution", ("StateMachineArn",), ("Name", "Input")
    ),
    "StepFunctions-StartSyncExecution": Subtype(
        "states",
        "StartSyncExecution",
        ("StateMachineArn",),
        ("Name", "Input", "TraceHeader"),
    ),
    "StepFunctions-StopExecution": Subtype("states", "StopExecution", ("ExecutionArn",), ("Cause", "Error")),
    "AppConfig-GetConfiguration": Subtype(
        "appconfig",
        "GetConfiguration",
        ("Application", "Environment", "Configuration", "ClientId"),
        ("ClientConfigurationVersion",),
    ),
}
