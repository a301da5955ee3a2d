"""The gateway application: one request handler in front of the management API and the data plane."""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import re
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import unquote

import orjson

from apigate import __version__
from apigate.aws import json_rpc, service_openapi, wire
from apigate.aws.errors import AwsError
from apigate.aws.ids import request_id
from apigate.aws.json_rpc import JsonApi
from apigate.aws.json_rpc import error_response as json_error_response
from apigate.aws.query import QueryApi, form_params
from apigate.aws.service_access import ServiceAccess
from apigate.aws.service_credentials import ServiceCredentials
from apigate.aws.service_endpoints import ServiceEndpoints, unserved_service_error, unserved_service_message
from apigate.compile.canary import pick
from apigate.config import Settings
from apigate.console import ConsoleAssets
from apigate.control import (
    api_keys,
    authorizers,
    certificates,
    client_certificates,
    cloudwatch_logs,
    deployments,
    documentation,
    domain_access,
    domain_names,
    gateway_responses,
    invoke_method,
    models,
    openapi,
    resources,
    rest_apis,
    sdks,
    tags,
    usage_plans,
    user_pool_auth,
    user_pool_groups,
    user_pool_oauth,
    user_pool_users,
    user_pools,
    validators,
    vpc_links,
)
from apigate.control import iam as iam_control
from apigate.control import lambda_functions as lambda_api
from apigate.control import v2 as http_api_control
from apigate.control.admin import ManagementGuard
from apigate.control.cloudwatch_logs import LogsContext
from apigate.control.code_links import CodeLinks
from apigate.control.context import ControlContext
from apigate.control.local_ca import LocalCa
from apigate.control.management_scope import call_region
from apigate.control.request_origin import RequestOrigins
from apigate.control.sync import ConfigSync
from apigate.control.v2 import domain_names as v2_domain_names
from apigate.control.v2 import portal_products, portals, routing_rules
from apigate.dataplane import function_call, integrations
from apigate.dataplane.domains import DomainRoute, DomainRouter
from apigate.dataplane.http_api import HttpApis
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.local_issuers import LocalIssuers
from apigate.dataplane.pipeline import Pipeline, SharedState
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.responses.gateway import respond
from apigate.dataplane.websocket import WebSocketApis
from apigate.docs_page import DocsPages
from apigate.docs_page.portal import PortalPages
from apigate.functions.directory import FunctionDirectory
from apigate.observe.access_log import AccessLogs
from apigate.observe.console import RequestConsole
from apigate.observe.log_sink import LogSink
from apigate.observe.tracing import Tracing
from apigate.registry import Registry
from apigate.root_page import root_page, wants_root_page
from apigate.server.client_cert import current
from apigate.server.message import Request, Response
from apigate.server.peer_verify import verified
from apigate.server.tls import Site, TlsSites
from apigate.server.upstream import UpstreamPool
from apigate.server.websocket import WebSocketLimits, WebSocketServer, write_response
from apigate.state.connections import connection_directory
from apigate.store import DocumentStore, open_store
from apigate.store.log_events import LogStore
from apigate.store.regional import RegionalStore, everywhere, in_region

log = logging.getLogger("apigate")

_SIGNING_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_EXECUTE_API_PREFIX = "/_aws/execute-api/"
_JSON = [("Content-Type", "application/json")]
# A local user pool's OIDC discovery document and JWKS, at the paths Cognito serves them under its issuer.
# A local user pool domain's token endpoint: by AWS's host name, or by the path form Outputs are rewritten to.
_POOL_DOMAIN_HOST = re.compile(r"([a-z0-9-]+)\.auth\.[a-z0-9-]+\.amazoncognito\.com(?::\d+)?")
_POOL_DOMAIN_PATH = "/_aws/cognito-idp/"
_POOL_DOCUMENT = re.compile(r"/([a-z]{2}(?:-[a-z]+)+-\d_[A-Za-z0-9]+)/\.well-known/(openid-configuration|jwks\.json)")


def _forbidden() -> Response:
    # What AWS answers for a stage that does not exist on an API's endpoint.
    return Response(403, [*_JSON, ("x-amzn-ErrorType", "ForbiddenException")], b'{"message":"Forbidden"}')


def _execute_api_address(request: Request) -> tuple[str, str, str] | None:
    """(api id, path below it, domain name) of an execute-api request, by the path form
    (``/_aws/execute-api/{api}/…``, checked first: it needs no header lookup) or ``Host: {api}.execute-api…``;
    None for anything else (the management API, ``/_apigate/``)."""
    path = request.raw_path
    if path.startswith(_EXECUTE_API_PREFIX):
        api_id, _, rest = path[len(_EXECUTE_API_PREFIX) :].partition("/")
        return api_id, "/" + rest, f"{api_id}.execute-api.localhost"
    host = request.header("host") or ""
    if ".execute-api." in host:
        return host.split(".", 1)[0], path, host.split(":", 1)[0]
    return None


def _stage_path(route: DomainRoute) -> str:
    """``/{stage}{below}`` for a WebSocket API's mapping (one without a stage: the path names it)."""
    stage = route.mapping.stage
    return route.below if stage is None else f"/{stage}{route.below}"


def _is_signed(request: Request) -> bool:
    """A SigV4-signed request (every SDK and CLI call): with an API at the root, these still reach the
    management API, and everything else is the API's."""
    authorization = request.header("authorization") or ""
    return (
        authorization.startswith("AWS4-HMAC-SHA256")
        or "X-Amz-Signature=" in request.query_string
        or _is_query_call(request)
    )


def _is_query_call(request: Request) -> bool:
    """An unsigned IAM/STS call: a form POST to ``/`` (no rest-json operation posts a form there)."""
    return (
        request.method == "POST"
        and request.raw_path == "/"
        and "x-www-form-urlencoded" in (request.header("content-type") or "")
    )


def _shared_state(settings: Settings, registry: Registry) -> tuple[SharedState, Any]:
    """Memory state for one process (the default), or Redis shared by every process that names the same server."""
    if settings.redis_url is None:
        return SharedState(registry), None
    from apigate.state.cache import RedisResponseCache
    from apigate.state.redis import RedisQuotaCounter, RedisRateLimiter, connect

    client = connect(settings.redis_url)
    fail_open = settings.on_state_error != "deny"
    state = SharedState(
        registry,
        limiter=RedisRateLimiter(client, fail_open=fail_open),
        quotas=RedisQuotaCounter(client, fail_open=fail_open),
        cache=RedisResponseCache(client),
    )
    return state, client


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Management calls see their region's partition of the store (store/regional.py); nothing else does.
        self.store: DocumentStore = RegionalStore(open_store(settings.store_url, settings.data_dir), settings.region)
        self.functions = FunctionDirectory(settings, self.store)
        self.upstream = UpstreamPool()
        # AWS service integrations' endpoints, and the role sessions they sign with (apigate's own STS)
        self.aws = ServiceAccess(
            ServiceEndpoints(settings.aws_endpoints),
            ServiceCredentials(
                functools.partial(iam_control.execution_role_session, self.store, settings.account_id)
            ),
        )
        self.registry = Registry()
        # `apigate serve TEMPLATE --api-at-root`: (api id, stage or "" for $default) served at "/" as well.
        self.root_api: tuple[str, str] | None = None
        self.state, self._redis = _shared_state(settings, self.registry)
        # The gateway's own Cognito user pools: token checks get their keys directly (control/user_pools.py).
        self.local_issuers = LocalIssuers()
        services = integrations.IntegrationServices(self.functions, self.upstream, self.local_issuers, self.aws)
        self.pipeline = Pipeline(
            integrations.build(services), self.state, services=services, user_pools=dict(settings.user_pools)
        )
        ctx = ControlContext(
            settings,
            self.store,
            self.registry,
            self.functions,
            self.pipeline,
            quotas=self.state.quotas,
            cache=self.state.cache,
            local_issuers=self.local_issuers,
            aws=self.aws,
        )
        self.control = ctx  # declarative deployments call the same handlers
        self.apigateway = wire.ServiceApi(
            "apigateway",
            {
                **rest_apis.handlers(ctx),
                **resources.handlers(ctx),
                **deployments.handlers(ctx),
                **invoke_method.handlers(ctx),
                **models.handlers(ctx),
                **validators.handlers(ctx),
                **gateway_responses.handlers(ctx),
                **openapi.handlers(ctx),
                **api_keys.handlers(ctx),
                **usage_plans.handlers(ctx),
                **authorizers.handlers(ctx),
                **documentation.handlers(ctx),
                **sdks.handlers(ctx),
                **tags.handlers(ctx),
                **domain_names.handlers(ctx),
                **domain_access.handlers(ctx),
                **client_certificates.handlers(ctx),
                **vpc_links.handlers(ctx),
            },
            lock=ctx.writes,
            unlocked=frozenset({"TestInvokeMethod", "TestInvokeAuthorizer", "GetSdk"}),  # GetSdk locks itself
        )
        # HTTP APIs (apigatewayv2): their own compiled stages, served again after a restart.
        self.http_apis = ctx.http_apis = HttpApis(
            self.functions, self.upstream, self.state.limiter, self.local_issuers, self.aws
        )
        # WebSocket APIs (apigatewayv2 too): compiled stages, and the connections this process holds.
        limits = WebSocketLimits(
            settings.websocket_frame_size,
            settings.websocket_message_size,
            settings.websocket_idle_timeout,
            settings.websocket_max_duration,
        )
        directory = connection_directory(
            settings.redis_url, ttl_seconds=int(settings.websocket_max_duration) + 60
        )
        self.websockets = ctx.websocket_apis = WebSocketApis(
            self.functions,
            self.upstream,
            WebSocketServer(limits),
            directory,
            lambda: self.registry.plans,
            self.state.limiter,
            lambda: self.state.identities,
            self.aws,
        )
        self._upgrades: set[Any] = set()
        self.apigatewayv2 = wire.ServiceApi(
            "apigatewayv2",
            {
                **http_api_control.handlers(ctx, self.http_apis),
                **tags.v2_handlers(ctx),
                **v2_domain_names.handlers(ctx),
                **routing_rules.handlers(ctx),
                **portals.handlers(ctx),
                **portal_products.handlers(ctx),
            },
            lock=ctx.writes,
        )
        # Certificates (an ACM subset, JSON protocol) from imports or the local CA, and the custom domains
        # they serve: the domain router in front of the API routers, and the HTTPS listener's SNI table.
        self.ca = LocalCa(settings.data_dir / "ca")
        self.acm = JsonApi("CertificateManager", certificates.handlers(ctx, self.ca), ctx.writes)
        # Local Cognito user pools (a cognito-idp subset, JSON 1.1): pools, clients, users, sign-in.
        self.cognito = JsonApi(
            "AWSCognitoIdentityProviderService",
            {
                **user_pools.handlers(ctx),
                **user_pool_users.handlers(ctx),
                **user_pool_auth.handlers(ctx),
                **user_pool_oauth.handlers(ctx),
                **user_pool_groups.handlers(ctx),
            },
            ctx.writes,
        )
        user_pools.publish(ctx)
        self.domains = DomainRouter()
        self.tls: TlsSites | None = None  # set when an HTTPS listener serves (cli.serve)
        http_api_control.load_all(ctx, self.http_apis)
        self.lambda_api = wire.ServiceApi(
            "lambda", lambda_api.handlers(self.functions), lock=ctx.writes, unlocked=frozenset({"Invoke"})
        )
        # IAM and STS (query protocol): who may sign AWS_IAM requests and management calls, role sessions.
        self.iam = iam_control.IamDirectory(self.store, settings.account_id, settings.admin_key)
        self.state.identities = self.iam
        self.iam_api = QueryApi("iam", iam_control.iam_handlers(self.store, self.iam), lock=ctx.writes)
        self.sts_api = QueryApi("sts", iam_control.sts_handlers(self.store, self.iam), lock=ctx.writes)
        self.guard = ManagementGuard(self.iam, settings.admin_key, settings.region)
        self.origins = RequestOrigins(settings.host)  # management calls a web page may have sent are refused
        self.code_links = CodeLinks(settings.data_dir)  # GetFunction's Code.Location, checked here
        self.docs = DocsPages(ctx)  # /_apigate/docs/{apiId}/{stage}: a stage's reference page
        self.portal_pages = PortalPages(ctx)  # /_apigate/portals/{portalId}/: what PublishPortal published
        self.console = ConsoleAssets(
            region=settings.region, account_id=settings.account_id, signed=settings.admin_key is not None
        )
        # @connections: signed and allowed by the signer's policies under --admin-key, open otherwise.
        self.websockets.management.secure(
            self.iam, signed_only=settings.admin_key is not None, region=settings.region
        )
        # Functions sign their calls with their own role's session (FunctionSpec.credentials), never the admin key;
        # the guard evaluates that role's policies, naming Lambda operations through the Lambda API's routes.
        self.guard.lambda_api = self.lambda_api
        # Serve every stored stage again after a restart, and later what other processes on this data dir change.
        self.sync = ConfigSync(ctx, f"{settings.host}:{settings.port}#{os.getpid()}")
        self.sync.reload()
        self.sync.also_reload.append(lambda: http_api_control.load_all(ctx, self.http_apis))
        self.sync.also_reload.append(self.reload_domains)
        domain_kinds = (
            domain_names.DOMAIN,
            domain_names.MAPPING,
            domain_names.TRUSTSTORE,
            certificates.KIND,
            routing_rules.KIND,  # rules route a domain's requests before or instead of its mappings
            domain_access.KIND,  # which VPC endpoints reach a private domain
        )
        self.sync.on_kinds.append((frozenset(domain_kinds), self.reload_domains))
        self.sync.also_reload.append(lambda: user_pools.publish(ctx))
        self.reload_domains()
        self.request_console: RequestConsole | None = None
        # CloudWatch Logs: functions' output, and access/execution logs sent to log groups, in logs.db.
        self.log_store = LogStore(settings.data_dir / "logs.db")
        self.log_sink = LogSink(self.log_store)
        self.logs_api = JsonApi(
            "Logs_20140328",
            cloudwatch_logs.handlers(LogsContext(self.log_store, settings.region, settings.account_id)),
            asyncio.Lock(),
        )
        self.functions.runtime._logs.tee = self._function_output
        self.access_logs = AccessLogs(settings.data_dir / "logs" / "groups")
        self.access_logs.sink = self.log_sink
        self.state.metrics.access_logs = self.http_apis.access_logs = self.access_logs
        self.http_apis.metrics = self.websockets.metrics = self.state.metrics
        self.websockets.access_logs = self.access_logs
        self.tracing: Tracing | None = None
        if settings.otlp_endpoint:
            self.tracing = Tracing(settings.otlp_endpoint, ratio=settings.otlp_sample_ratio)
            self.pipeline.tracing = self.state.metrics.tracing = self.tracing
            self.http_apis.tracing = self.websockets.tracing = self.tracing
        if settings.console:
            self._attach_console(RequestConsole(function_output=settings.function_output))

    def _attach_console(self, console: RequestConsole) -> None:
        """Request lines, function errors and function output on stderr (rendered by the console's own task)."""
        self.request_console = console
        self.state.metrics.console = console
        self.http_apis.console = console
        self.websockets.console = console
        function_call.observe_errors(console.function_error)

    def _function_output(self, function: str, data: bytes) -> None:
        """The function logs' echo (the one hook in functions/: its runtime's log directory)."""
        self.log_sink.function_output(function, data)
        if self.request_console is not None:
            self.request_console.output(function, data)

    def reload_domains(self) -> None:
        """Rebuild the domain router and the SNI table from the stored domains (after a change)."""
        with everywhere():  # every region's domains: one listener serves them all
            docs = self.store.list(domain_names.DOMAIN)
            names = [doc["domainName"] for doc in docs]
            mappings = {name: self.store.list(domain_names.MAPPING, name) for name in names}
            rules = {name: self.store.list(routing_rules.KIND, name) for name in names}
            associations = {name: self.store.list(domain_access.KIND, name) for name in names}
        self.domains.build(docs, mappings, rules, associations)
        if self.tls is None:
            return
        sites: dict[str, Site] = {}
        for doc in docs:
            arn = doc.get("regionalCertificateArn") or doc.get("certificateArn")
            cert = self.store.get(certificates.KIND, arn) if arn else None
            if cert is None:
                log.error("domain %s names a missing certificate %s", doc["domainName"], arn)
                continue
            chain, key = certificates.pem_bundle(cert)
            trust = self.store.get(domain_names.TRUSTSTORE, doc["domainName"])
            sites[doc["domainName"]] = Site(
                chain, key, doc.get("securityPolicy"), trust["pem"] if trust else None
            )
        self.tls.install(sites)

    async def _query(self, request: Request, service: str | None) -> Response:
        """IAM and STS calls (the query protocol), told apart by the signature's scope or else by the action."""
        params = form_params(request)
        api = self.sts_api if service == "sts" or self.sts_api.handles(params.get("Action")) else self.iam_api
        try:
            return await api.dispatch(request, params)
        except Exception:
            log.exception("management call failed")
            return api.error(AwsError("InternalFailure", "The server encountered an internal error", 500))

    async def serve_private(self, request: Request) -> Response:
        """The private listener: requests arrive as through a VPC endpoint, addressed by the path form, by
        ``Host: {api}-{vpce}.execute-api…`` / ``{api}.execute-api…``, by a custom domain's name, or by
        ``x-apigw-api-id``."""
        request.vpce_id = self.settings.vpce_id
        request.vpc_id = self.settings.vpc_id
        found = _execute_api_address(request)
        api_id: str | None
        if found is not None:
            api_id, path, domain = found
            if not request.raw_path.startswith(_EXECUTE_API_PREFIX):  # Host: {api}-{vpce}.execute-api…
                api_id = api_id.split("-vpce-", 1)[0]
        else:
            host = (request.header("host") or "").split(":", 1)[0]
            custom = self.domains.serves(host.lower()) if self.domains and host else None
            if custom is not None:  # a custom domain (private ones answer only here)
                routed = self._custom_domain(request, custom)
                return routed if isinstance(routed, Response) else await routed
            api_id, path = request.header("x-apigw-api-id"), request.raw_path
            domain = host or f"{api_id}.execute-api.localhost"
        # Only REST APIs can be private; the endpoint serves execute-api only (no management API here).
        if not api_id or api_id in self.http_apis or api_id in self.websockets:
            return _forbidden()
        answer = self._execute(request, api_id, path, domain)
        return answer if isinstance(answer, Response) else await answer

    def start_sync(self) -> None:
        """Poll for changes other processes made to the shared data dir (needs the running loop)."""
        self.sync.start(self.settings.sync_interval)
        if self.request_console is not None:
            self.request_console.start()
        self.access_logs.start()
        self.log_sink.start()

    async def close(self) -> None:
        await self.websockets.close()  # before the functions: $disconnect still runs
        if self.request_console is not None:
            await self.request_console.close()
            function_call.observe_errors(None)
        await self.access_logs.close()
        await self.log_sink.close()  # after the access logs: their last lines pass through it
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.close)
        await self.sync.stop()
        await self.functions.close()
        await self.upstream.close()
        if self._redis is not None:
            await self._redis.aclose()
        self.store.close()
        self.log_store.close()

    def __call__(self, request: Request) -> Response | Coroutine[Any, Any, Response]:
        # Not async: the server awaits the coroutine we return, one coroutine level less per request (the
        # server core accepts a Response or an awaitable, see apigate/server/message.py).
        found = _execute_api_address(request)
        if found is not None:
            return self._execute(request, *found)
        if self.domains:
            domain = self.domains.serves((request.header("host") or "").partition(":")[0].lower())
            if domain is not None:
                return self._custom_domain(request, domain)
        path = request.raw_path
        if path.startswith("/_apigate/"):
            return self._internal(request, path)
        if path.endswith("/oauth2/token"):
            domain = self._pool_domain(request, path)
            if domain is not None:
                return user_pool_oauth.token_endpoint(self.control, domain, request)
        if request.method == "GET" and path.endswith(("/openid-configuration", "/jwks.json")):
            pool_document = _POOL_DOCUMENT.fullmatch(path)
            if pool_document is not None:
                return self._pool_document(*pool_document.groups())
        if (
            self.root_api is not None and not _is_signed(request) and not self.cognito.handles(request)
        ):  # `--api-at-root`: the API keeps the root
            api_id, stage = self.root_api
            prefix = f"/{stage}" if stage else ""
            return self._execute(request, api_id, prefix + path, f"{api_id}.execute-api.localhost")
        if path == "/" and wants_root_page(request):
            return root_page(self, request)
        return self._manage(request)

    def upgrade(self, request: Request, transport: Any, protocol: Any) -> None:
        """The server's upgrade hook: a WebSocket API stage takes the connection over; any other upgrade request
        is answered as an ordinary request, then the connection closes."""
        found = _execute_api_address(request)
        through_domain = False
        if found is None and self.domains:
            found = self._websocket_mapping(request)
            through_domain = found is not None
        if found is not None and found[0] and found[0] in self.websockets:
            api_id, path, domain = found
            self.websockets.upgrade(
                request, transport, protocol.upgrade_data, api_id, path, domain, through_domain=through_domain
            )
            return

        async def answer() -> None:
            response = self(request)
            write_response(transport, response if isinstance(response, Response) else await response)

        task = asyncio.get_running_loop().create_task(answer())
        self._upgrades.add(task)
        task.add_done_callback(self._upgrades.discard)

    def _execute(
        self, request: Request, api_id: str, path: str, domain: str
    ) -> Response | Coroutine[Any, Any, Response]:
        """An answer, or the coroutine that makes it: returned, not awaited here, so each request walks one
        coroutine level less on every suspension (the data plane's hot path)."""
        stage, slash, rest = path[1:].partition("/")
        deployed = self.registry.get(api_id, stage)  # REST first: one lookup where two membership tests were
        if deployed is None:
            if api_id in self.http_apis:
                return self.http_apis.serve(request, api_id, path, domain)
            if api_id in self.websockets:  # plain HTTP to a WebSocket API: its stage's @connections
                refusal = self.origins.refusal(request)  # a management call: no web page may drive it
                if refusal is not None:
                    return wire.error_response(refusal)
                return self.websockets.serve_http(request, api_id, path)
            return _forbidden()
        if (deployed.endpoint_type == "PRIVATE") != (request.vpce_id is not None):
            return _forbidden()  # a private API from outside its VPC endpoint, or a public one from inside
        if deployed.execute_api_disabled:  # disableExecuteApiEndpoint: reachable through custom domains only
            return _forbidden()
        if deployed.canary is not None:
            deployed = pick(deployed)
        if not slash:  # "/{stage}" without the slash names no resource, not even the root
            inv = Invocation(request, deployed, "/", path, domain)
            return respond(inv, GatewayError(ResponseType.MISSING_AUTHENTICATION_TOKEN))
        return self.pipeline.run(Invocation(request, deployed, "/" + rest, path, domain))  # path: /{stage}/…

    def _websocket_mapping(self, request: Request) -> tuple[str, str, str] | None:
        """(api id, ``/{stage}{below}``, host) of a handshake to a custom domain that maps a WebSocket API's
        stage; None when it maps none, or mutual TLS refuses (the request is then answered as any other)."""
        host = (request.header("host") or "").partition(":")[0].lower()
        domain = self.domains.serves(host)
        if domain is None or not self._client_cert_accepted(request, domain):
            return None
        route = self.domains.route(domain, request.raw_path)
        if route is None or route.mapping.api_id not in self.websockets:
            return None
        return route.mapping.api_id, _stage_path(route), host

    def _client_cert_accepted(self, request: Request, domain: str) -> bool:
        """Mutual TLS: a certificate that chains to the domain's truststore and is within its validity is
        required (the handshake lets any through, so that the others get AWS's 403). The chain was checked
        against the truststore of the domain SNI named: a Host naming another domain is refused."""
        if domain not in self.domains.mutual_tls:
            return True
        session = request.tls
        der = session.getpeercert(True) if session is not None else None
        if session is None or not der:
            return False  # no certificate (or plain HTTP): AWS's 403
        if self.tls is not None and session.context is not self.tls.domain_context(domain):
            return False
        return verified(session) and current(der, time.time())

    def _custom_domain(self, request: Request, domain: str) -> Response | Coroutine[Any, Any, Response]:
        """A request to a custom domain: its base path mapping names the API and stage. Under a base path the
        resource is what is below it; a REST event's ``path``, ``requestContext.path`` and an HTTP API's
        ``rawPath`` keep the whole path, base path included (AWS's rules)."""
        if not self._client_cert_accepted(request, domain):
            return _forbidden()
        private = self.domains.private.get(domain)
        if private is not None and not private.admits(request.vpce_id, request.raw_path, request.client[0]):
            return _forbidden()  # not through an associated VPC endpoint, or not allowed by its policy
        route = self.domains.route(domain, request.raw_path, request.header)
        if route is None:
            return _forbidden()
        api_id, stage, below = route.mapping.api_id, route.mapping.stage, route.below
        host = (request.header("host") or domain).partition(":")[0]
        if api_id in self.websockets:  # plain HTTP to a WebSocket API's mapping: its stage's @connections
            refusal = self.origins.refusal(request, custom_domain=True)
            if refusal is not None:
                return wire.error_response(refusal)
            return self.websockets.serve_http(request, api_id, _stage_path(route), through_domain=True)
        if api_id in self.http_apis:
            below = below if stage == "$default" else f"/{stage}{below}"
            return self.http_apis.serve(request, api_id, below, host, request.raw_path)
        if stage is None:  # a v1 mapping without a stage: the next segment names it
            stage, _, rest = below[1:].partition("/")
            below = "/" + rest
        deployed = self.registry.get(api_id, stage or "")
        if deployed is None or (deployed.endpoint_type == "PRIVATE") != (private is not None):
            return _forbidden()  # private domains serve private APIs, public ones public APIs
        if deployed.canary is not None:
            deployed = pick(deployed)
        inv = Invocation(request, deployed, below, request.raw_path, host)
        inv.event_path = request.raw_path
        return self.pipeline.run(inv)

    def _internal(self, request: Request, path: str) -> Response:
        """``/_apigate/*``: health for anyone; metrics and the OpenAPI documents for the management API's own
        callers (the admin key under --admin-key); function code only through GetFunction's signed link."""
        if path == "/_apigate/health":
            return Response(
                200,
                list(_JSON),
                orjson.dumps(
                    # pid: which process of `apigate serve --workers N` answered
                    {
                        "status": "ok",
                        "version": __version__,
                        "config": self.sync.digest,
                        "pid": os.getpid(),
                        "deferred": self.registry.deferred(),  # stages not compiled yet (registry.py)
                    }
                ),
            )
        refusal = self.origins.refusal(request)
        if refusal is not None:
            return wire.error_response(refusal)
        if path.startswith("/_apigate/code/") and path.endswith(".zip"):
            return self._code(request, unquote(path[len("/_apigate/code/") : -len(".zip")]))
        # The console: static files, alike for everyone (the management calls they make are signed).
        if path.startswith("/_apigate/console"):
            return self.console.answer(request, path)
        if path in ("/_apigate/metrics", "/_apigate/requests") or path.startswith(
            ("/_apigate/openapi/", "/_apigate/docs/")
        ):
            try:
                self.guard.caller(request, None)  # under --admin-key: signed by the admin key
            except AwsError as exc:
                return wire.error_response(exc)
        if path == "/_apigate/metrics":
            return Response(
                200,
                [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                self.state.metrics.render(),
            )
        if path.startswith("/_apigate/docs/"):
            return self.docs.serve(path)
        if path.startswith(portals.PATH):  # published portals are public, as on AWS
            return self.portal_pages.serve(path)
        if path == "/_apigate/requests":  # the console's live view: the last data plane requests
            after = dict(wire.parse_query(request.query_string)).get("after", "0")
            lines = self.state.metrics.lines.since(int(after) if after.isascii() and after.isdigit() else 0)
            return Response(200, [*_JSON, ("Cache-Control", "no-store")], lines)
        if path.startswith("/_apigate/openapi/") and path.endswith(".json"):
            document = self._management_openapi(path[len("/_apigate/openapi/") : -len(".json")])
            if document is not None:
                return Response(200, list(_JSON), document)
        return Response(404, list(_JSON), b'{"message":"Not Found"}')

    @staticmethod
    def _pool_domain(request: Request, path: str) -> str | None:
        """The user pool domain a token request names: ``/_aws/cognito-idp/{domain}/oauth2/token``, or
        ``/oauth2/token`` with ``Host: {domain}.auth.{region}.amazoncognito.com``."""
        if path.startswith(_POOL_DOMAIN_PATH):
            domain, _, rest = path[len(_POOL_DOMAIN_PATH) :].partition("/")
            return domain if rest == "oauth2/token" else None
        host = _POOL_DOMAIN_HOST.fullmatch((request.header("host") or "").lower())
        return host.group(1) if host is not None and path == "/oauth2/token" else None

    def _pool_document(self, pool_id: str, name: str) -> Response:
        """A local user pool's discovery document or JWKS (public, as Cognito's are)."""
        if name == "jwks.json":
            document = user_pools.jwks(self.control, pool_id)
        else:
            document = user_pools.discovery(self.control, pool_id, self.settings.base_url)
        if document is None:
            return Response(404, list(_JSON), b'{"message":"User pool not found"}')
        return Response(200, list(_JSON), orjson.dumps(document))

    async def _cognito(self, request: Request, service: str | None) -> Response:
        """cognito-idp calls: sign-in and sign-up as clients make them, unsigned; the rest as management calls
        (signed by the admin key, or allowed by the signer's policies, under --admin-key)."""
        operation = (request.header("x-amz-target") or "").partition(".")[2]
        if operation not in user_pool_auth.PUBLIC_OPERATIONS:
            try:
                iam_control.caller.set(self.guard.caller(request, service))
            except AwsError as exc:
                return json_rpc.error_response(exc)
        try:
            response = await self.cognito.dispatch(request)
        except Exception:
            log.exception("cognito-idp call failed")
            return json_rpc.error_response(AwsError("InternalErrorException", "Internal error", 500))
        self.sync.check()
        return response

    def _code(self, request: Request, name: str) -> Response:
        """A function's zip, for a link signed for its current code that has not expired (S3's 403 otherwise);
        ``name:N``: a published version's; ``@layer:name:N`` (never a function name): a layer version's."""
        if name.startswith("@layer:"):
            layer = self.store.get("layer-version", name[len("@layer:") :])
            layer_sha = (layer or {}).get("Content", {}).get("CodeSha256")
            refusal = self.code_links.refusal(request.query_string, name, layer_sha)
            if refusal is not None:
                return refusal
            assert layer_sha is not None
            zipped = self.functions.layer_code.zip_bytes(name.split(":")[1], layer_sha)
            return Response(200, [("Content-Type", "application/zip")], zipped)
        function, _, version = name.partition(":")  # name:3: a published version's code
        doc = self.store.get("function-version", name) if version else self.store.get("function", name)
        sha = doc.get("CodeSha256") if doc is not None else None
        refusal = self.code_links.refusal(request.query_string, name, sha)
        if refusal is not None:
            return refusal
        assert doc is not None and sha is not None
        return Response(200, [("Content-Type", "application/zip")], self.functions.code.zip_bytes(function, sha))

    def _management_openapi(self, service: str) -> bytes | None:
        """The OpenAPI description of one management service, limited to what apigate implements."""
        apis = {api.model.service_name: api for api in (self.apigateway, self.apigatewayv2, self.lambda_api)}
        api = apis.get(service)
        if api is None:
            return None
        return orjson.dumps(service_openapi.describe(api.model, api.handlers))

    async def _manage(self, request: Request) -> Response:
        """Every management answer carries AWS's request id header (SDKs log it; some tools require it)."""
        response = await self._manage_call(request)
        if not any(name.lower() == "x-amzn-requestid" for name, _ in response.headers):
            response.headers.append(("x-amzn-RequestId", request_id()))
        return response

    def _refuse(self, request: Request, error: AwsError, is_query: bool) -> Response:
        """A refused management call, in its protocol's error shape."""
        if is_query:
            return self.sts_api.error(error)
        if self.logs_api.handles(request):
            return json_error_response(error)
        return wire.error_response(error)

    async def _manage_call(self, request: Request) -> Response:
        query = wire.parse_query(request.query_string)
        signed = _SIGNING_SERVICE.search(request.header("authorization") or "")
        service = signed.group(1) if signed else None
        is_query = service in ("iam", "sts") or (service in (None, "") and _is_query_call(request))
        refusal = self.origins.refusal(request)
        if refusal is not None:
            return self._refuse(request, refusal, is_query)
        if request.raw_path.startswith("/@connections/"):
            # apigatewaymanagementapi at AWS_ENDPOINT_URL (functions): authorized as at the stage's URL,
            # by ManageConnections on the connection's own API and stage, not by the admin-key guard.
            return await self.websockets.management.at_root(request)
        if self.cognito.handles(request):
            return await self._cognito(request, service)
        try:
            iam_control.caller.set(self.guard.caller(request, service))
        except AwsError as exc:
            return self._refuse(request, exc, is_query)
        region = call_region(request, self.settings.region)  # the partition the call sees, while it runs
        if is_query:
            return await self._query(request, service)
        if self.logs_api.handles(request):
            return await self.logs_api.dispatch(request)
        if self.acm.handles(request):
            try:
                with in_region(region):
                    return await self.acm.dispatch(request)
            finally:
                self.reload_domains()
        order = (
            [self.lambda_api, self.apigateway] if service == "lambda" else [self.apigateway, self.lambda_api]
        )
        if request.raw_path.startswith("/v2/"):
            order = [self.apigatewayv2]
        try:
            for api in order:
                with in_region(region):
                    response = await api.dispatch(request, request.raw_path, query)
                if response is not None:
                    if request.method != "GET":
                        self.sync.check()  # this process serves its own change before answering
                        self.reload_domains()
                    return response
        except AwsError as exc:
            return wire.error_response(exc)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                log.exception("management call failed")
                return wire.error_response(
                    AwsError("InternalFailure", "The server encountered an internal error", 500)
                )
            # The data dir's disk is full: the change was rolled back, deployed stages keep serving.
            log.error("management call failed, the data dir's disk is full: %s", exc)
            return wire.error_response(
                AwsError(
                    "InternalFailure",
                    f"No space left on the disk holding the data dir ({self.settings.data_dir}): "
                    "the change was not saved",
                    500,
                )
            )
        except Exception:
            log.exception("management call failed")
            return wire.error_response(
                AwsError("InternalFailure", "The server encountered an internal error", 500)
            )
        unserved = unserved_service_message(service, request.header("x-amz-target"))
        if unserved is not None:  # an SDK call meant for another service (a function's DynamoDB client…)
            return unserved_service_error(service, request.header("x-amz-target"), unserved)
        return wire.error_response(
            AwsError(
                "UnknownOperationException", f"No operation matches {request.method} {request.raw_path}", 404
            )
        )
