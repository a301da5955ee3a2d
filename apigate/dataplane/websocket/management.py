"""The ``@connections`` API (``apigatewaymanagementapi``): post to, describe and close a connection."""

from __future__ import annotations

import time
from typing import Any

from apigate.aws import wire
from apigate.aws.errors import AwsError
from apigate.state.connections import ConnectionDirectory, PostResult


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"


def _gone() -> AwsError:
    return AwsError("GoneException", "", 410)


def management_api(directory: ConnectionDirectory, max_message: int) -> wire.ServiceApi:
    async def post_to_connection(params: dict[str, Any]) -> None:
        data = params.get("Data") or b""
        if len(data) > max_message:
            raise AwsError(
                "PayloadTooLargeException", f"Message too long. Max size is {max_message} bytes", 413
            )
        result = await directory.post(params["ConnectionId"], data)
        if result is PostResult.GONE:
            raise _gone()
        if result is PostResult.FULL:
            raise AwsError("LimitExceededException", "The client's buffer is full", 429)

    async def get_connection(params: dict[str, Any]) -> dict[str, Any]:
        info = await directory.get(params["ConnectionId"])
        if info is None:
            raise _gone()
        return {
            "ConnectedAt": _iso(info.connected_at),
            "Identity": {"SourceIp": info.source_ip, "UserAgent": info.user_agent},
            "LastActiveAt": _iso(info.last_active_at),
        }

    async def delete_connection(params: dict[str, Any]) -> None:
        if not await directory.delete(params["ConnectionId"]):
            raise _gone()

    return wire.ServiceApi(
        "apigatewaymanagementapi",
        {
            "PostToConnection": post_to_connection,
            "GetConnection": get_connection,
            "DeleteConnection": delete_connection,
        },
    )
