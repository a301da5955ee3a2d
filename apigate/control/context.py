"""What every management module shares: the store, what is served, the functions, the settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from apigate.aws.service_access import ServiceAccess
from apigate.config import Settings
from apigate.registry import Registry
from apigate.store.base import DocumentStore
from apigate.store.regional import region_here, region_of

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis
    from apigate.dataplane.local_issuers import LocalIssuers
    from apigate.dataplane.pipeline import Pipeline
    from apigate.dataplane.websocket import WebSocketApis
    from apigate.functions.directory import FunctionDirectory
    from apigate.state import QuotaCounter
    from apigate.state.cache import ResponseCache


@dataclass(slots=True)
class ControlContext:
    """``writes`` serialises management calls: a call that awaits inside a store transaction (an import,
    a template deployment) must not have another call's writes join that transaction."""

    settings: Settings
    store: DocumentStore
    registry: Registry
    functions: FunctionDirectory
    pipeline: Pipeline | None = None  # set once the data plane exists; TestInvokeMethod runs through it
    quotas: QuotaCounter | None = None  # usage counts (GetUsage, UpdateUsage)
    cache: ResponseCache | None = None  # stage response caches (FlushStageCache)
    http_apis: HttpApis | None = None  # what HTTP APIs are served (set by the gateway)
    websocket_apis: WebSocketApis | None = None  # what WebSocket APIs are served (set by the gateway)
    local_issuers: LocalIssuers | None = None  # the local user pools' keys, as token checks see them
    aws: ServiceAccess = field(default_factory=ServiceAccess)  # other AWS services (S3 truststores)
    writes: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def region(self) -> str:
        """The region of the call being served: its partition, and the region in what it creates."""
        return region_here(self.settings.region)

    def region_of(self, owner: str) -> str:
        """The region a top-level resource (an API's id, a domain name) lives in: the one in its ARNs."""
        return region_of(self.store, owner, self.settings.region)
