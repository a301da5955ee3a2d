"""What an integration is, and the services integrations call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from apigate.dataplane.invocation import Invocation
from apigate.server.message import Response

if TYPE_CHECKING:
    from apigate.functions.directory import FunctionDirectory
    from apigate.server.upstream import UpstreamPool


class Integration(Protocol):
    async def invoke(self, inv: Invocation) -> Response: ...


@dataclass(slots=True)
class IntegrationServices:
    functions: FunctionDirectory
    upstream: UpstreamPool
