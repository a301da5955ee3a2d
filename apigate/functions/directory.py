"""The functions apigate knows, by name: their configuration as a spec, and invoking them.

Both Lambda's Invoke call and AWS_PROXY integrations go through here, so a function is resolved and run the
same way whichever side calls it.
"""

from __future__ import annotations

from apigate.aws.errors import function_not_found
from apigate.config import Settings
from apigate.functions.code_store import CodeStore
from apigate.functions.runtime import FunctionRuntime, InvokeResult
from apigate.functions.spec import FunctionSpec
from apigate.store.base import Document, DocumentStore


def name_of(function_name: str) -> str:
    """Accept a name, a full ARN or a partial ARN, as Lambda does; drop a qualifier."""
    if ":function:" in function_name:
        function_name = function_name.split(":function:", 1)[1]
    return function_name.split(":", 1)[0]


class FunctionMissing(Exception):
    pass


class FunctionDirectory:
    """Function configurations by name, and invoking them in their worker processes."""

    def __init__(self, settings: Settings, store: DocumentStore) -> None:
        self.settings = settings
        self.store = store
        self.code = CodeStore(settings.data_dir / "functions")
        self.runtime = FunctionRuntime(
            settings.data_dir / "logs",
            settings.base_url,
            max_workers_per_function=settings.max_workers_per_function,
            init_timeout=settings.function_init_timeout,
        )
        self._specs: dict[str, FunctionSpec] = {}

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:function:{name}"

    def configuration(self, function_name: str) -> Document:
        name = name_of(function_name)
        doc = self.store.get("function", name)
        if doc is None:
            raise function_not_found(self.arn(name))
        return doc

    def spec(self, name: str) -> FunctionSpec:
        spec = self._specs.get(name)
        if spec is None:
            doc = self.store.get("function", name)
            if doc is None:
                raise FunctionMissing(name)
            spec = FunctionSpec(
                name=name,
                arn=doc["FunctionArn"],
                handler=doc["Handler"],
                runtime=doc["Runtime"],
                code_dir=self.code.code_dir(name, doc["CodeSha256"]),
                code_sha=doc["CodeSha256"],
                environment=dict((doc.get("Environment") or {}).get("Variables") or {}),
                timeout=float(doc["Timeout"]),
                memory_size=int(doc["MemorySize"]),
                region=self.settings.region,
                account_id=self.settings.account_id,
            )
            self._specs[name] = spec
        return spec

    async def invoke(self, name: str, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        return await self.runtime.invoke(self.spec(name), payload, request_id=request_id)

    async def changed(self, name: str) -> None:
        """Configuration or code changed: the next request builds a new spec and new workers."""
        self._specs.pop(name, None)
        await self.runtime.retire(name)

    async def close(self) -> None:
        await self.runtime.close()
