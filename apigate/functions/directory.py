"""The functions apigate knows, by name: their configuration as a spec, and invoking them.

Both Lambda's Invoke call and AWS_PROXY integrations go through here, so a function is resolved and run the
same way whichever side calls it.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from pathlib import Path
from random import random
from typing import Any

from apigate.aws.errors import function_not_found
from apigate.aws.service_endpoints import ServiceEndpoints
from apigate.config import Settings
from apigate.control.iam import execution_role_session
from apigate.functions.code_store import Blobs, CodeStore
from apigate.functions.deps import FunctionPackages, NodePackages
from apigate.functions.environment import RUNTIME_DIR
from apigate.functions.events import EventConfig, EventInvoker
from apigate.functions.interpreters import Interpreter, Interpreters, RuntimeUnavailable
from apigate.functions.runtime import FunctionRuntime, InvokeResult
from apigate.functions.sandbox import Sandbox, function_user
from apigate.functions.spec import Credentials, FunctionSpec
from apigate.store.base import Document, DocumentStore
from apigate.store.regional import region_here

# A function's role session lasts 12 hours (IAM's longest) and is replaced an hour before it ends: longer than
# any invocation (Lambda's 15 minutes), so a call started on a warm worker never outlives its credentials.
SESSION_SECONDS = 12 * 3600
SESSION_RENEW_BEFORE_SECONDS = 3600


def name_of(function_name: str) -> str:
    """Accept a name, a full ARN or a partial ARN, as Lambda does; drop a qualifier."""
    if ":function:" in function_name:
        function_name = function_name.split(":function:", 1)[1]
    return function_name.split(":", 1)[0]


def layer_key(arn: str) -> str | None:
    """``name:version`` of a layer version ARN (``arn:aws:lambda:region:account:layer:name:version``)."""
    _, found, rest = arn.partition(":layer:")
    name, _, version = rest.partition(":")
    return f"{name}:{version}" if found and name and version.isdigit() else None


def qualified_name_of(function_name: str) -> str:
    """A name, full ARN or partial ARN as ``name`` or ``name:qualifier`` (a version, an alias or $LATEST): the
    key :meth:`FunctionDirectory.invoke` takes. A partial ARN without ``function:`` is ``account:name``."""
    if ":function:" in function_name:
        return function_name.split(":function:", 1)[1]
    head, _, rest = function_name.partition(":")
    if head.isdigit() and len(head) == 12 and rest:  # 123456789012:name[:qualifier]
        return rest
    return function_name


class _WeightedAlias:
    """An alias with a RoutingConfig: each call picks one of two versions, by one random() draw."""

    __slots__ = ("additional", "primary", "weight")

    def __init__(self, primary: str, additional: str, weight: float) -> None:
        self.primary = primary  # "name:3": keys of the version specs
        self.additional = additional
        self.weight = weight

    def pick(self) -> str:
        return self.additional if random() < self.weight else self.primary


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
            service_endpoints=ServiceEndpoints(settings.aws_endpoints).environment(),
        )
        self.interpreters = Interpreters(dict(settings.python_interpreters), fallback=settings.runtime_fallback)
        self.packages = FunctionPackages(settings.data_dir / "function-packages")
        self.node_packages = NodePackages(settings.data_dir / "function-packages")
        # Layer versions' content, unpacked once each (their documents are in the store: control/lambda_layers.py).
        self.layer_code = CodeStore(
            settings.data_dir / "layers", store if isinstance(store, Blobs) else None, blob_prefix="layer"
        )
        self._specs: dict[str, FunctionSpec] = {}
        # PutFunctionConcurrency: the limit, read with the spec, and the calls in flight, by function.
        self._reserved: dict[str, int | None] = {}
        self._in_flight: dict[str, int] = {}
        self._renew_at: dict[str, float] = {}  # by function name: when its spec's credentials are replaced
        self.events = EventInvoker(
            self.invoke,
            retry_delay=settings.event_retry_delay,
            is_throttle=lambda exc: isinstance(exc, FunctionThrottled),
            destination_key=qualified_name_of,
        )
        # Aliases with a RoutingConfig, by "name:alias" (the others resolve once, into _specs).
        self._weighted: dict[str, _WeightedAlias] = {}

    def arn(self, name: str) -> str:
        """A function's ARN in the region of the call being served (its partition, store/regional.py)."""
        return f"arn:aws:lambda:{region_here(self.settings.region)}:{self.settings.account_id}:function:{name}"

    def configuration(self, function_name: str) -> Document:
        name = name_of(function_name)
        doc = self.store.get("function", name)
        if doc is None:
            raise function_not_found(self.arn(name))
        return doc

    def spec(self, name: str) -> FunctionSpec:
        """The spec for ``name``: a function's ``$LATEST`` by its bare name (the hot path: one dict lookup), or
        ``name:version`` / ``name:alias`` / ``name:$LATEST``. An alias resolves once, when first called after a
        change; one with a routing weight picks a version per call."""
        spec = self._specs.get(name)
        if spec is None or self._renew_at[name] < time.time():
            weighted = self._weighted.get(name)
            if weighted is not None:
                return self.spec(weighted.pick())
            spec = self._load(name)
        return spec

    def _load(self, key: str) -> FunctionSpec:
        name, colon, qualifier = key.partition(":")
        if colon and not qualifier:  # "name:": no such qualifier (and no second spec of $LATEST)
            raise FunctionMissing(key)
        if qualifier == "$LATEST":  # the same spec (and workers) as the bare name
            spec = self.spec(name)
            self._specs[key] = spec
            self._renew_at[key] = self._renew_at[name]
            return spec
        if not qualifier:
            doc = self.store.get("function", name)
            version = "$LATEST"
        elif qualifier.isdigit():
            doc = self.store.get("function-version", key)
            version = qualifier
        else:
            return self._alias(key, name)
        if doc is None:
            raise FunctionMissing(key)
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
            region=doc["FunctionArn"].split(":")[3],  # the function's own region (AWS_REGION)
            account_id=self.settings.account_id,
            credentials=credentials,
            interpreter=interpreter,
            packages_dir=self.packages.built(code_dir, interpreter),
            version=version,
            layer_dirs=self._layer_dirs(doc.get("Layers") or []),
        )
        self._specs[key] = spec
        reserved = self.store.get("function-concurrency", name)
        self._reserved[name] = None if reserved is None else int(reserved["ReservedConcurrentExecutions"])
        self._renew_at[key] = credentials.expires_at - SESSION_RENEW_BEFORE_SECONDS
        return spec

    def _layer_dirs(self, layers: list[Document]) -> tuple[Path, ...]:
        """Each layer's unpacked content, in the function's order; a layer version deleted since the function
        named it still serves it, as on Lambda (its content is kept while a function names it)."""
        dirs = []
        for layer in layers:
            key = layer_key(str(layer.get("Arn", "")))
            doc = self.store.get("layer-version", key) if key else None
            if doc is not None:
                sha = doc["Content"]["CodeSha256"]
            else:  # deleted since (control/lambda_layers.py keeps its content's hash)
                kept = self.store.get("layer-content", key) if key else None
                sha = kept["CodeSha256"] if kept is not None else None
            if key and sha:
                dirs.append(self.layer_code.code_dir(key.rsplit(":", 1)[0], sha))
        return tuple(dirs)

    def _alias(self, key: str, name: str) -> FunctionSpec:
        alias = self.store.get("function-alias", key)
        if alias is None:
            raise FunctionMissing(key)
        primary = f"{name}:{alias['FunctionVersion']}"
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        if weights:
            (other, weight), *_ = weights.items()
            weighted = self._weighted[key] = _WeightedAlias(primary, f"{name}:{other}", float(weight))
            return self.spec(weighted.pick())
        spec = self.spec(primary)
        self._specs[key] = spec  # later calls: one lookup, as for a bare name
        self._renew_at[key] = self._renew_at[primary]
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

    def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
        trace: str | None = None,
    ) -> Coroutine[Any, Any, InvokeResult]:
        """Run the function once (await the answer; FunctionMissing is raised at once). With ``timeout`` (the
        caller's, e.g. an integration's), TimeoutError once it has passed: cheaper than ``asyncio.wait_for``,
        which costs a task per call. The runtime's coroutine itself when no reserved concurrency applies: one
        coroutine level less on every call's suspension and resumption."""
        spec = self.spec(name)
        limit = self._reserved.get(spec.name)  # the function's, whichever version runs
        if limit is None:
            return self.runtime.invoke(spec, payload, request_id=request_id, timeout=timeout, trace=trace)
        return self._invoke_limited(spec, limit, payload, request_id, timeout, trace)

    async def _invoke_limited(
        self,
        spec: FunctionSpec,
        limit: int,
        payload: bytes,
        request_id: str | None,
        timeout: float | None,
        trace: str | None,
    ) -> InvokeResult:
        name = spec.name
        in_flight = self._in_flight.get(name, 0)
        if in_flight >= limit:
            raise FunctionThrottled(name)
        self._in_flight[name] = in_flight + 1
        try:
            return await self.runtime.invoke(spec, payload, request_id=request_id, timeout=timeout, trace=trace)
        finally:
            self._in_flight[name] -= 1

    async def changed(self, name: str, *, versions: bool = False) -> None:
        """Configuration, code or an alias changed: the next request builds a new spec and new workers.
        Published versions never change; ``versions`` (a version deleted, or the function) drops theirs too."""
        self._specs.pop(name, None)
        prefix = f"{name}:"
        for key in [k for k in self._specs if k.startswith(prefix)]:
            if versions or not key[len(prefix) :].isdigit():
                del self._specs[key]
        for key in [k for k in self._weighted if k.startswith(prefix)]:
            del self._weighted[key]
        await self.runtime.retire(name, versions=versions)

    def event_config(self, key: str) -> EventConfig:
        """The FunctionEventInvokeConfig of ``name`` or ``name:qualifier`` (Lambda's defaults without one)."""
        name, _, qualifier = key.partition(":")
        qualified = f"{name}:{qualifier or '$LATEST'}"
        doc = self.store.get("function-event-invoke-config", qualified) or {}
        destinations = doc.get("DestinationConfig") or {}
        return EventConfig(
            max_retries=int(doc.get("MaximumRetryAttempts", 2)),
            max_age=float(doc.get("MaximumEventAgeInSeconds", 21600)),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
            function_arn=f"{self.arn(name)}:{qualifier or '$LATEST'}",
        )

    def aliases_changed(self, name: str) -> None:
        """An alias of the function was created, changed or deleted (or a version published or deleted): the
        next call through an alias resolves it again. Warm workers of every version stay."""
        prefix = f"{name}:"
        for key in [k for k in self._specs if k.startswith(prefix)]:
            qualifier = key[len(prefix) :]
            if not qualifier.isdigit() or self.store.get("function-version", key) is None:
                del self._specs[key]
        for key in [k for k in self._weighted if k.startswith(prefix)]:
            del self._weighted[key]

    async def close(self) -> None:
        await self.events.close()
        await self.runtime.close()
