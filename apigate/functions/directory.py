"""The functions apigate knows, by name: their configuration as a spec, and invoking them.

Both Lambda's Invoke call and AWS_PROXY integrations go through here, so a function is resolved and run the
same way whichever side calls it.
"""

from __future__ import annotations

import time

from apigate.aws.errors import function_not_found
from apigate.config import Settings
from apigate.control.iam import execution_role_session
from apigate.functions.code_store import Blobs, CodeStore
from apigate.functions.deps import FunctionPackages, NodePackages
from apigate.functions.environment import RUNTIME_DIR
from apigate.functions.interpreters import Interpreter, Interpreters, RuntimeUnavailable
from apigate.functions.runtime import FunctionRuntime, InvokeResult
from apigate.functions.sandbox import Sandbox, function_user
from apigate.functions.spec import Credentials, FunctionSpec
from apigate.store.base import Document, DocumentStore

# A function's role session lasts 12 hours (IAM's longest) and is replaced an hour before it ends: longer than
# any invocation (Lambda's 15 minutes), so a call started on a warm worker never outlives its credentials.
SESSION_SECONDS = 12 * 3600
SESSION_RENEW_BEFORE_SECONDS = 3600


def name_of(function_name: str) -> str:
    """Accept a name, a full ARN or a partial ARN, as Lambda does; drop a qualifier."""
    if ":function:" in function_name:
        function_name = function_name.split(":function:", 1)[1]
    return function_name.split(":", 1)[0]


class FunctionThrottled(Exception):
    """The function's reserved concurrency is in use: Lambda's 429 (TooManyRequestsException)."""


class FunctionMissing(Exception):
    pass


class FunctionDirectory:
    """Function configurations by name, and invoking them in their worker processes."""

    def __init__(self, settings: Settings, store: DocumentStore) -> None:
        self.settings = settings
        self.store = store
        self.code = CodeStore(settings.data_dir / "functions", store if isinstance(store, Blobs) else None)
        user = function_user(settings.function_user)
        self.runtime = FunctionRuntime(
            settings.data_dir / "logs",
            settings.base_url,
            max_workers_per_function=settings.max_workers_per_function,
            init_timeout=settings.function_init_timeout,
            sandbox=None if user is None else Sandbox(user, RUNTIME_DIR),
        )
        self.interpreters = Interpreters(dict(settings.python_interpreters), fallback=settings.runtime_fallback)
        self.packages = FunctionPackages(settings.data_dir / "function-packages")
        self.node_packages = NodePackages(settings.data_dir / "function-packages")
        self._specs: dict[str, FunctionSpec] = {}
        # PutFunctionConcurrency: the limit, read with the spec, and the calls in flight, by function.
        self._reserved: dict[str, int | None] = {}
        self._in_flight: dict[str, int] = {}
        self._renew_at: dict[str, float] = {}  # by function name: when its spec's credentials are replaced

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
        if spec is None or self._renew_at[name] < time.time():
            doc = self.store.get("function", name)
            if doc is None:
                raise FunctionMissing(name)
            credentials = self._credentials(name, doc["Role"])
            code_dir = self.code.code_dir(name, doc["CodeSha256"])
            interpreter = self._interpreter(doc["Runtime"])
            code_dir = self.node_packages.built(code_dir, interpreter) or code_dir  # code + node_modules
            spec = FunctionSpec(
                name=name,
                arn=doc["FunctionArn"],
                handler=doc["Handler"],
                runtime=doc["Runtime"],
                code_dir=code_dir,
                code_sha=doc["CodeSha256"],
                environment=dict((doc.get("Environment") or {}).get("Variables") or {}),
                timeout=float(doc["Timeout"]),
                memory_size=int(doc["MemorySize"]),
                region=self.settings.region,
                account_id=self.settings.account_id,
                credentials=credentials,
                interpreter=interpreter,
                packages_dir=self.packages.built(code_dir, interpreter),
            )
            self._specs[name] = spec
            reserved = self.store.get("function-concurrency", name)
            self._reserved[name] = None if reserved is None else int(reserved["ReservedConcurrentExecutions"])
            self._renew_at[name] = credentials.expires_at - SESSION_RENEW_BEFORE_SECONDS
        return spec

    def _interpreter(self, runtime: str) -> Interpreter:
        """What runs the function: checked at deploy time, so a failure here means the machine changed since
        (or another gateway of the cluster deployed it): the gateway's own interpreter then, logged once."""
        try:
            return self.interpreters.choose(runtime).interpreter
        except RuntimeUnavailable as exc:
            self.interpreters.warn_once(runtime, f"{exc} Running it on {self.interpreters.own.runtime}.")
            return self.interpreters.own

    def _credentials(self, name: str, role_arn: str) -> Credentials:
        """A new session of the function's execution role, named after the function as Lambda names it. New
        credentials make a new spec, so the function's next workers start with them (see FunctionSpec)."""
        session = execution_role_session(
            self.store, self.settings.account_id, role_arn, name, SESSION_SECONDS
        )
        return Credentials(
            session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"], session["ExpiresAt"]
        )

    async def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
        trace: str | None = None,
    ) -> InvokeResult:
        """Run the function once. With ``timeout`` (the caller's, e.g. an integration's), TimeoutError once
        it has passed: cheaper than ``asyncio.wait_for``, which costs a task per call."""
        spec = self.spec(name)
        limit = self._reserved.get(name)
        if limit is None:
            return await self.runtime.invoke(spec, payload, request_id=request_id, timeout=timeout, trace=trace)
        in_flight = self._in_flight.get(name, 0)
        if in_flight >= limit:
            raise FunctionThrottled(name)
        self._in_flight[name] = in_flight + 1
        try:
            return await self.runtime.invoke(spec, payload, request_id=request_id, timeout=timeout, trace=trace)
        finally:
            self._in_flight[name] -= 1

    async def changed(self, name: str) -> None:
        """Configuration or code changed: the next request builds a new spec and new workers."""
        self._specs.pop(name, None)
        await self.runtime.retire(name)

    async def close(self) -> None:
        await self.runtime.close()
