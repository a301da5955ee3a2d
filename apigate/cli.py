"""The `apigate` command: `serve` (optionally a SAM template), and client commands for a running gateway."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from apigate import __version__
from apigate.config import Settings, prepare_data_dir

log = logging.getLogger("apigate")

_DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
DATA_DIR_VARIABLE = "APIGATE_DATA_DIR"


def _default_data_dir() -> Path:
    import os

    return Path(os.environ.get(DATA_DIR_VARIABLE) or ".apigate")


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _otlp_endpoint(value: str) -> str:
    from urllib.parse import urlsplit

    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(
            f"not an http:// or https:// URL: {value!r} (e.g. http://127.0.0.1:4318)"
        )
    return value


def _log_level(value: str) -> str:
    level = value.strip().upper()
    level = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if level not in _LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a log level (pick one of {', '.join(_LOG_LEVELS).lower()})"
        )
    return level


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, except where there is none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], ()) or isinstance(action, argparse._VersionAction):
            return action.help
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apigate", description="A self-hosted AWS API Gateway.", formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"apigate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the management API and every deployed stage",
        description="Serve the management API and every deployed stage; with a template, deploy it first.",
        formatter_class=_HelpFormatter,
    )
    serve.add_argument(
        "template", nargs="?", type=Path, help="a SAM or CloudFormation template to deploy and serve"
    )
    serve.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters (Key=Value or ParameterKey=Key,ParameterValue=Value)",
    )
    serve.add_argument("--stack-name", help="the stack's name (default: the template's folder name)")
    serve.add_argument("--no-watch", action="store_true", help="do not reload on code or template changes")
    serve.add_argument(
        "--api-at-root",
        action="store_true",
        help="also serve the template's single API at the root (http://127.0.0.1:PORT/hello), as `sam local "
        "start-api` does; signed SDK calls still reach the management API",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=4566, help="the port to listen on (0: any free port)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=_default_data_dir(),
        help=f"where APIs, functions and logs are kept (or ${DATA_DIR_VARIABLE})",
    )
    tls = serve.add_argument_group("HTTPS (custom domains pick their certificate by SNI)")
    tls.add_argument("--https-port", type=int, metavar="PORT", help="serve HTTPS on this port too")
    tls.add_argument("--tls-cert", type=Path, metavar="PEM", help="the HTTPS listener's default certificate")
    tls.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key (default: in --tls-cert)")
    serve.add_argument(
        "--region", default="us-east-1", help="the region in ARNs and in functions' environment"
    )
    serve.add_argument(
        "--max-workers-per-function",
        type=int,
        default=8,
        help="worker processes one function may run at once",
    )
    serve.add_argument(
        "--log-level",
        type=_log_level,
        default="INFO",
        metavar="LEVEL",
        help="debug, info, warning, error or critical; debug also prints tracebacks of start-up errors",
    )
    serve.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        type=_otlp_endpoint,
        help="send OpenTelemetry traces (OTLP/HTTP, e.g. http://127.0.0.1:4318): REST stages whose "
        "tracingEnabled is true, HTTP and WebSocket APIs; off without it",
    )
    serve.add_argument(
        "--otlp-sample-ratio",
        type=float,
        default=0.05,
        metavar="RATIO",
        help="with --otlp-endpoint: the first request of each second is traced, then this share of the others "
        "(X-Ray's default rule); 1 traces every request",
    )
    console = serve.add_argument_group("console (stderr)")
    console.add_argument(
        "--quiet", action="store_true", help="no request lines (the default without a template)"
    )
    console.add_argument(
        "--access-log", action="store_true", help="print request lines even without a template"
    )
    console.add_argument(
        "--no-function-output",
        dest="function_output",
        action="store_false",
        help="do not echo what functions print (prefixed with the function's name) with the request lines",
    )
    serve.add_argument(
        "--account-rate", type=float, default=10000.0, help="account-level throttle, requests per second"
    )
    serve.add_argument("--account-burst", type=int, default=5000, help="account-level burst (bucket size)")
    serve.add_argument(
        "--redis",
        metavar="URL",
        help="keep throttles, quotas, usage and the cache in Redis (redis://127.0.0.1:6379/0), shared by processes",
    )
    serve.add_argument(
        "--store",
        metavar="URL",
        help="keep the configuration in PostgreSQL (postgresql://user@host/db) shared by several hosts, "
        "instead of SQLite in the data dir (see docs/cluster.md)",
    )
    serve.add_argument(
        "--on-state-error",
        choices=("allow", "deny"),
        default="allow",
        help="while Redis is unreachable: allow requests (default) or refuse them",
    )
    serve.add_argument(
        "--cache-budget-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply each stage cache's byte budget (cacheClusterSize) by FACTOR, e.g. 0.001 on a small host",
    )
    websocket = serve.add_argument_group("WebSocket APIs (AWS's limits by default)")
    websocket.add_argument(
        "--websocket-idle-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="seconds a WebSocket connection may stay silent",
    )
    websocket.add_argument(
        "--websocket-max-duration",
        type=float,
        default=7200.0,
        metavar="SECONDS",
        help="seconds a WebSocket connection may last",
    )
    websocket.add_argument(
        "--websocket-frame-size",
        type=int,
        default=32 * 1024,
        metavar="BYTES",
        help="largest WebSocket frame, in bytes",
    )
    websocket.add_argument(
        "--websocket-message-size",
        type=int,
        default=128 * 1024,
        metavar="BYTES",
        help="largest WebSocket message, in bytes",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="serve with N processes on one port (SO_REUSEPORT; SIGHUP restarts them one by one, SIGTERM "
        "drains all); share state between them with --redis",
    )
    serve.add_argument(
        "--user-pool",
        action="append",
        default=[],
        metavar="POOL_ID=ISSUER_URL",
        help="where a Cognito user pool's tokens come from (repeatable; default https://cognito-idp.REGION"
        ".amazonaws.com/POOL_ID); its keys are read from ISSUER_URL/.well-known/jwks.json",
    )
    serve.add_argument(
        "--function-init-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a function's init budget (Lambda's 10 s); past it the init is retried within the invocation",
    )
    serve.add_argument(
        "--event-retry-delay",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before an asynchronous (Event) invocation's first retry; the second waits twice as long (Lambda: 60 s)",
    )
    for name, default, what in (
        ("header", 10.0, "from a request's first byte to the end of its headers"),
        ("body", 30.0, "from the end of a request's headers to the end of its body"),
        ("idle", 60.0, "a keep-alive connection may wait for its next request"),
    ):
        serve.add_argument(
            f"--{name}-timeout", type=float, default=default, metavar="SECONDS", help=f"seconds {what}"
        )
    _access_options(serve)
    _client_commands(commands)
    ca = commands.add_parser("ca", help="the local certificate authority RequestCertificate issues from")
    ca_commands = ca.add_subparsers(dest="ca_command", required=True)
    export = ca_commands.add_parser("export", help="print the root certificate (PEM), for clients to trust")
    export.add_argument("--data-dir", type=Path, default=Path(".apigate"))
    export.add_argument("-o", "--output", type=Path, help="write to a file instead of stdout")
    return parser


def _access_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--admin-key",
        metavar="ID:SECRET",
        help="require every management call to be SigV4-signed with this access key (needed off loopback); "
        "visible to every local process on the command line: prefer APIGATE_ADMIN_KEY or --admin-key-file",
    )
    serve.add_argument(
        "--admin-key-file",
        type=Path,
        metavar="PATH",
        help="read the admin key (ID:SECRET) from this file; without either option, from APIGATE_ADMIN_KEY",
    )
    serve.add_argument(
        "--function-user",
        metavar="NAME",
        help="when serving as root: the user function workers run as (default apigate-function if it exists, "
        "else nobody; 'root' keeps them root). Without root, functions run as the gateway's user",
    )
    serve.add_argument(
        "--python",
        action="append",
        metavar="pythonX.Y=PATH",
        help="the interpreter that runs functions of that runtime (repeatable; default: pyenv's, then PATH's)",
    )
    serve.add_argument(
        "--runtime-fallback",
        action="store_true",
        help="run a function whose Python runtime this machine lacks on the gateway's own Python, instead of "
        "refusing to deploy it",
    )
    serve.add_argument(
        "--private-listen",
        metavar="HOST:PORT",
        help="also listen here as a VPC endpoint: PRIVATE APIs are served only on this listener",
    )
    serve.add_argument(
        "--aws-endpoint",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="where AWS service integrations (and functions' SDK calls) reach SERVICE, e.g. "
        "kinesis=http://127.0.0.1:5000; else AWS_ENDPOINT_URL_<SERVICE>, the AWS config file's services "
        "section, else the real regional AWS endpoint. Repeatable",
    )
    serve.add_argument(
        "--vpc-link-target",
        action="append",
        default=[],
        metavar="ARN=URL",
        help="the address a VPC link's target (a network load balancer's ARN) stands for here, e.g. "
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/app/1a2b=http://127.0.0.1:8080; "
        "an integration through the link reaches it. Repeatable",
    )
    serve.add_argument(
        "--vpce-id", default="vpce-0123456789abcdef0", help="the private listener's VPC endpoint id"
    )
    serve.add_argument("--vpc-id", default="vpc-0123456789abcdef0", help="the private listener's VPC id")


def access_settings(args: argparse.Namespace) -> dict[str, Any]:
    """--admin-key, --private-listen and friends as Settings fields; SystemExit with a clear message when the
    management API would be open to the network without a key."""
    admin_key = _admin_key(args)
    if admin_key is None and not _is_loopback(args.host):
        raise SystemExit(
            f"apigate: error: refusing to serve the management API on {args.host} without --admin-key: "
            "anyone who can reach it could change every API (pass --admin-key ID:SECRET, or --host 127.0.0.1)"
        )
    private = None
    if args.private_listen:
        host, sep, port = args.private_listen.rpartition(":")
        if not sep or not (port.isascii() and port.isdigit()):
            raise SystemExit("apigate: error: --private-listen expects HOST:PORT")
        private = (host.strip("[]") or "127.0.0.1", int(port))
        if args.workers:
            raise SystemExit("apigate: error: --private-listen is not supported with --workers yet")
    return {
        "admin_key": admin_key,
        "private_listen": private,
        "vpce_id": args.vpce_id,
        "vpc_id": args.vpc_id,
        "function_user": args.function_user,
    }


ADMIN_KEY_VARIABLE = "APIGATE_ADMIN_KEY"


def _admin_key(args: argparse.Namespace) -> tuple[str, str] | None:
    """The admin key from --admin-key, --admin-key-file or $APIGATE_ADMIN_KEY (in that order of preference
    of the caller: at most one of the options). The command line is readable by every local process
    (/proc/PID/cmdline), so that source is warned about; the environment and a file are the gateway user's."""
    import os

    if args.admin_key and args.admin_key_file:
        raise SystemExit("apigate: error: pass --admin-key or --admin-key-file, not both")
    # Taken out of the environment either way: nothing the gateway starts later inherits it.
    from_env = os.environ.pop(ADMIN_KEY_VARIABLE, None)
    if args.admin_key:
        print(
            "apigate: warning: --admin-key on the command line can be read by every process on this machine "
            f"(/proc/PID/cmdline); pass it in {ADMIN_KEY_VARIABLE} or --admin-key-file instead",
            file=sys.stderr,
            flush=True,
        )
        raw, source = args.admin_key, "--admin-key"
    elif args.admin_key_file:
        try:
            raw = args.admin_key_file.read_text().strip()
        except OSError as exc:
            raise SystemExit(f"apigate: error: cannot read --admin-key-file: {exc}") from None
        source = "--admin-key-file"
    elif from_env:
        raw, source = from_env.strip(), ADMIN_KEY_VARIABLE
    else:
        return None
    key_id, sep, secret = raw.partition(":")
    if not sep or not key_id or not secret:
        raise SystemExit(f"apigate: error: {source} expects ACCESS_KEY_ID:SECRET")
    return (key_id, secret)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def _client_commands(commands: Any) -> None:
    """Commands that talk to a running gateway over its management API, as the AWS CLI would."""

    def client_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = commands.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            formatter_class=_HelpFormatter,
        )
        command.add_argument("--endpoint", default=_DEFAULT_ENDPOINT, help="the gateway's URL")
        command.add_argument("--region", default="us-east-1", help="the region the gateway signs for")
        command.add_argument("--json", action="store_true", help="machine-readable output")
        return command

    client_command("apis", "list the REST, HTTP and WebSocket APIs, their stages and invoke URLs")
    routes = client_command(
        "routes",
        "list every deployed route with its invoke URL and target (of a running gateway, or a template)",
    )
    routes.add_argument(
        "template",
        nargs="?",
        type=Path,
        help="a template (SAM, CloudFormation, ...): list what serving it would give, without a gateway",
    )
    routes.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="the template's parameters"
    )
    invoke = client_command("invoke", "invoke a function and print what it returned")
    invoke.add_argument("function", help="the function's name")
    invoke.add_argument("--payload", default="{}", help="the event, as JSON")
    imported = client_command("import", "import an OpenAPI definition (JSON or YAML) as a REST API")
    imported.add_argument("file", type=Path, help="the OpenAPI 2 or 3 file")
    imported.add_argument("--api-id", help="update this API (PutRestApi) instead of creating one")
    imported.add_argument(
        "--update",
        metavar="API",
        help="update the API of this name or id in place (PutRestApi) instead of creating one",
    )
    imported.add_argument("--stage", help="deploy the imported API to this stage (created if needed)")
    imported.add_argument(
        "--mode", choices=("merge", "overwrite"), default="overwrite", help="how --api-id is updated"
    )
    imported.add_argument(
        "--basepath",
        choices=("ignore", "prepend", "split"),
        default="ignore",
        help="what to do with a base path",
    )
    imported.add_argument(
        "--endpoint-type", choices=("EDGE", "REGIONAL", "PRIVATE"), help="the API's endpoint type"
    )
    imported.add_argument("--fail-on-warnings", action="store_true", help="refuse a definition with warnings")
    exported = client_command("export", "print a deployed stage as an OpenAPI definition")
    exported.add_argument("api", help="the API's id or name")
    exported.add_argument("stage", help="the stage's name")
    exported.add_argument(
        "--type", choices=("oas30", "swagger"), default="oas30", help="OpenAPI 3 or Swagger 2"
    )
    exported.add_argument("--format", choices=("json", "yaml"), default="json", help="the output's format")
    exported.add_argument(
        "--extensions", default="apigateway", help="integrations, apigateway, authorizers, postman (or '')"
    )
    exported.add_argument("-o", "--output", type=Path, help="write to a file instead of stdout")
    sdk = client_command("sdk", "write a stage's client library (GetSdk) into a folder")
    sdk.add_argument("api", help="the API's id or name")
    sdk.add_argument("stage", help="the stage's name")
    sdk.add_argument(
        "--type", default="javascript", help="javascript, typescript or python (default javascript)"
    )
    sdk.add_argument("--out", type=Path, default=Path("."), help="the folder to unpack into (default .)")
    docs = client_command("docs", "print a stage's reference page URL; -o writes its documented OpenAPI")
    docs.add_argument("api", help="the API's id or name")
    docs.add_argument("stage", help="the stage's name")
    docs.add_argument("-o", "--output", type=Path, help="write the stage's OpenAPI (with documentation) here")
    logs = commands.add_parser(
        "logs",
        help="print a function's log, with timestamps (from the gateway's data dir)",
        description="Print a function's log group (/aws/lambda/FUNCTION) from the data dir of a gateway serving "
        "on this machine, one timestamped event a line.",
        formatter_class=_HelpFormatter,
    )
    logs.add_argument("function", help="the function's name")
    logs.add_argument(
        "--data-dir",
        type=Path,
        help=f"the gateway's data dir (default: ${DATA_DIR_VARIABLE}, else that of the one `apigate serve` "
        "running here, else .apigate)",
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument(
        "--since", metavar="WHEN", help="only events since then: an age (10m, 2h, 1d) or an ISO 8601 time"
    )
    cluster = commands.add_parser("cluster", help="the hosts serving from one store")
    cluster.add_argument("action", choices=("status",))
    cluster.add_argument(
        "--store", metavar="URL", help="the cluster's PostgreSQL (default: SQLite in --data-dir)"
    )
    cluster.add_argument("--data-dir", type=Path, default=Path(".apigate"))
    cluster.add_argument(
        "--stale-after", type=float, default=10.0, metavar="SECONDS", help="a host silent this long is gone"
    )
    cluster.add_argument(
        "--forget-after",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="a host silent this long is not listed",
    )
    cluster.add_argument("--json", action="store_true", help="machine-readable output")


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateOptions:
    path: Path
    overrides: dict[str, str]
    stack_name: str | None = None
    watch: bool = True
    api_at_root: bool = False


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``Key=Value`` pairs, or the AWS CLI's ``ParameterKey=Key,ParameterValue=Value``."""
    overrides: dict[str, str] = {}
    for item in items:
        if item.startswith("ParameterKey="):
            fields = dict(part.split("=", 1) for part in item.split(",", 1) if "=" in part)
            key, value = fields.get("ParameterKey"), fields.get("ParameterValue")
        else:
            key, _, value = item.partition("=")
            if not _:
                value = None
        if not key or value is None:
            raise ValueError(f"--parameter-overrides expects Key=Value, not {item!r}")
        overrides[key] = value
    return overrides


async def serve(
    settings: Settings,
    template: TemplateOptions | None = None,
    *,
    listener: socket.socket | None = None,
    https_listener: socket.socket | None = None,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT. ``listener`` (and ``https_listener``): bound sockets to serve instead of
    binding them (a worker of ``--workers``); ``on_ready``: called once serving, instead of printing the ready
    line and the stages."""
    # Imported here so that `apigate --help` stays instant.
    from apigate.app import Gateway
    from apigate.server.listener import Server
    from apigate.server.protocol import Limits

    # Bind first: with --port 0 the URLs handed to functions and printed below must carry the real port.
    sock = listener if listener is not None else _bind(settings.host, settings.port)
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    try:
        gateway = Gateway(settings)
    except ConnectionError as exc:  # --store names a PostgreSQL that does not answer
        print(f"apigate: error: {exc}", file=sys.stderr, flush=True)
        sock.close()
        return 1
    app = None
    if template is not None:
        from apigate.declarative.app import DeclarativeApp
        from apigate.declarative.template import TemplateError

        app = DeclarativeApp(
            gateway, template.path, template.overrides, template.stack_name, api_at_root=template.api_at_root
        )
        try:
            await app.deploy()
        except TemplateError as exc:
            print(f"apigate: error: {exc}", file=sys.stderr, flush=True)
            sock.close()
            await gateway.close()
            return 2
    gateway.start_sync()
    await gateway.websockets.start()
    server = Server()
    server.on_upgrade = gateway.upgrade
    limits = Limits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        idle_timeout=settings.idle_timeout,
    )
    await server.start(None, 0, gateway, limits, sock=sock)
    https = None
    if settings.https_port is not None:
        https = Server()
        https.on_upgrade = gateway.upgrade
        await https.start(
            settings.host,
            settings.https_port,
            gateway,
            limits,
            sock=https_listener,
            tls=_tls_sites(gateway).context,
        )
    private = None
    if settings.private_listen is not None:  # PRIVATE APIs, as through a VPC endpoint
        private = Server()
        private_sock = _bind(*settings.private_listen)
        await private.start(None, 0, gateway.serve_private, limits, sock=private_sock)
    if on_ready is not None:
        on_ready()
    else:
        print(f"apigate {__version__} ready on {settings.base_url} (data in {settings.data_dir})", flush=True)
    if https is not None and on_ready is None:
        print(
            f"  https on {settings.base_url.replace('http:', 'https:').rsplit(':', 1)[0]}:{https.port}",
            flush=True,
        )
    if private is not None and on_ready is None:
        host = settings.private_listen[0] if settings.private_listen else ""
        print(f"  private endpoint {settings.vpce_id} on http://{host}:{private.port}", flush=True)
    for deployed in gateway.registry.stages() if on_ready is None else ():
        path_url, host_url = settings.invoke_urls(deployed.api_id, deployed.stage)
        print(
            f"  {deployed.api_name or deployed.api_id} stage {deployed.stage}: {path_url}  {host_url}",
            flush=True,
        )
    for socket_stage in gateway.websockets.stages() if on_ready is None else ():
        path_url, host_url = settings.invoke_urls(socket_stage.api_id, socket_stage.stage)
        print(
            f"  {socket_stage.api_name or socket_stage.api_id} stage {socket_stage.stage}: "
            f"ws{path_url.removeprefix('http').rstrip('/')}  ws{host_url.removeprefix('http').rstrip('/')}",
            flush=True,
        )
    if app is not None:
        app.report()
        if template is not None and template.watch:
            app.start_watching()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: draining requests in flight")
    if app is not None:
        await app.stop_watching()
    await server.shutdown(grace=10.0)
    if https is not None:
        await https.shutdown(grace=1.0)
    if private is not None:
        await private.shutdown(grace=1.0)
    await gateway.close()
    return 0


def _tls_sites(gateway: Any) -> Any:
    """The HTTPS listener's SNI table, its default certificate --tls-cert or one the local CA issues for
    localhost and ``*.execute-api.localhost``."""
    from apigate.server.tls import TlsSites, server_context, write_private

    settings = gateway.settings
    folder = settings.data_dir / "tls"
    if settings.tls_cert is not None:
        default = server_context(settings.tls_cert, settings.tls_key)
    else:
        bundle = folder / "default.pem"
        if not bundle.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            issued = gateway.ca.issue(["localhost", "*.execute-api.localhost"])
            write_private(bundle, issued.private_key + issued.certificate + issued.chain)
        default = server_context(bundle)
    gateway.tls = TlsSites(folder, default)
    gateway.reload_domains()
    return gateway.tls


def _https_port(args: argparse.Namespace) -> int | None:
    return int(args.https_port) if args.https_port is not None else None


def _ca(args: argparse.Namespace) -> int:
    from apigate.control.local_ca import LocalCa

    prepare_data_dir(args.data_dir)
    pem = LocalCa(args.data_dir / "ca").root_pem
    if args.output is not None:
        args.output.write_text(pem)
    else:
        sys.stdout.write(pem)
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from exc
    except (socket.gaierror, UnicodeError) as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host!r}: not an address — pick another with --host") from exc
    sock.setblocking(False)
    return sock


def _client(args: argparse.Namespace, service: str) -> Any:
    import os

    import botocore.session

    # A gateway started with --admin-key wants its key: APIGATE_ADMIN_KEY=ID:SECRET.
    key, _, secret = (os.environ.get("APIGATE_ADMIN_KEY") or "apigate:apigate").partition(":")
    return botocore.session.get_session().create_client(
        service,
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _table(rows: list[list[str]], header: list[str]) -> None:
    """Columns aligned; a bold header on a terminal, plain text when piped."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    bold, reset = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(bold + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + reset)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _print_json(value: Any) -> None:
    import orjson

    print(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode())


def _api_id(apigw: Any, name_or_id: str) -> str:
    """An API's id from its id or its name; two APIs of that name are an error, not a guess."""
    apis = apigw.get_rest_apis(limit=500)["items"]
    for api in apis:
        if api["id"] == name_or_id:
            return str(api["id"])
    named = [api["id"] for api in apis if api["name"] == name_or_id]
    if len(named) > 1:
        raise LookupError(
            f"{len(named)} REST APIs are named {name_or_id} ({', '.join(sorted(named))}): pass the id instead"
        )
    if named:
        return str(named[0])
    raise LookupError(f"no REST API named {name_or_id}")


def _list_apis(args: argparse.Namespace) -> list[dict[str, Any]]:
    """REST, HTTP and WebSocket APIs with each stage and its invoke URL."""
    base = args.endpoint.rstrip("/")
    apigw = _client(args, "apigateway")
    listed: list[dict[str, Any]] = []
    for api in apigw.get_rest_apis(limit=500)["items"]:
        stages = apigw.get_stages(restApiId=api["id"])["item"]
        for stage in stages or [{}]:
            name = stage.get("stageName")
            url = f"{base}/_aws/execute-api/{api['id']}/{name}/" if name else ""
            listed.append({"id": api["id"], "name": api["name"], "type": "REST", "stage": name, "url": url})
    v2 = _client(args, "apigatewayv2")
    for api in v2.get_apis(MaxResults="500").get("Items", []):
        kind = "WEBSOCKET" if api.get("ProtocolType") == "WEBSOCKET" else "HTTP"
        stages = v2.get_stages(ApiId=api["ApiId"], MaxResults="500").get("Items", [])
        for stage in stages or [{}]:
            name = stage.get("StageName")
            url = ""
            if name:
                url = f"{base}/_aws/execute-api/{api['ApiId']}/" + ("" if name == "$default" else f"{name}/")
                if kind == "WEBSOCKET":
                    url = "ws" + url.removeprefix("http").rstrip("/")
            listed.append({"id": api["ApiId"], "name": api["Name"], "type": kind, "stage": name, "url": url})
    return listed


def _run_client(args: argparse.Namespace) -> int:
    import botocore.exceptions

    try:
        return _client_call(args)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"apigate: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    except botocore.exceptions.EndpointConnectionError:
        print(
            f"apigate: no gateway answers on {args.endpoint} (start one with `apigate serve`)",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        raise  # main() ends quietly
    except (LookupError, OSError, ValueError) as exc:
        print(f"apigate: {exc}", file=sys.stderr)
        return 1


def _client_call(args: argparse.Namespace) -> int:
    import orjson

    if args.command in ("sdk", "docs"):
        from apigate.sdk.commands import run

        apigw = _client(args, "apigateway")
        return run(args, apigw, _api_id(apigw, args.api))
    if args.command == "routes":
        from apigate.cli_routes import gateway_routes, template_routes

        if args.template is not None:
            from apigate.declarative.template import TemplateError

            try:
                found = template_routes(
                    args.template, args.endpoint, parse_overrides(args.parameter_overrides)
                )
            except TemplateError as exc:
                raise ValueError(str(exc)) from None
        else:
            found = gateway_routes(args.endpoint, _client(args, "apigateway"), _client(args, "apigatewayv2"))
        if args.json:
            _print_json(found)
        else:
            _table(
                [[r["method"], r["url"], r["target"] or "-", f"{r['api']} {r['stage']}"] for r in found],
                ["METHOD", "URL", "TARGET", "API STAGE"],
            )
        return 0
    if args.command == "apis":
        listed = _list_apis(args)
        if args.json:
            _print_json(listed)
        else:
            _table(
                [[a["id"], a["name"], a["type"], a["stage"] or "-", a["url"]] for a in listed],
                ["ID", "NAME", "TYPE", "STAGE", "URL"],
            )
        return 0
    if args.command == "invoke":
        orjson.loads(args.payload)  # a clear error before the call
        result = _client(args, "lambda").invoke(
            FunctionName=args.function, Payload=args.payload.encode(), LogType="Tail"
        )
        payload = result["Payload"].read().decode()
        if args.json:
            _print_json({k: result.get(k) for k in ("StatusCode", "FunctionError")} | {"Payload": payload})
        else:
            print(payload)
        if result.get("LogResult") and not args.json:
            import base64

            print(base64.b64decode(result["LogResult"]).decode(errors="replace"), file=sys.stderr, end="")
        return 1 if result.get("FunctionError") else 0
    if args.command == "import":
        apigw = _client(args, "apigateway")
        body = args.file.read_bytes()
        parameters = {"basepath": args.basepath}
        if args.endpoint_type:
            parameters["endpointConfigurationTypes"] = args.endpoint_type
        target = args.api_id or (args.update and _api_id(apigw, args.update))
        if target:
            api = apigw.put_rest_api(
                restApiId=target,
                mode=args.mode,
                body=body,
                parameters=parameters,
                failOnWarnings=args.fail_on_warnings,
            )
        else:
            api = apigw.import_rest_api(
                body=body, parameters=parameters, failOnWarnings=args.fail_on_warnings
            )
        api.pop("ResponseMetadata", None)
        if args.stage:  # deployed, so that it serves at once
            deployment = apigw.create_deployment(restApiId=api["id"], stageName=args.stage)
            base = args.endpoint.rstrip("/")
            api["stage"] = {"name": args.stage, "deploymentId": deployment["id"]}
            api["url"] = f"{base}/_aws/execute-api/{api['id']}/{args.stage}/"
        if args.json:
            _print_json(api)
        else:
            print(
                f"{api['id']}  {api['name']}"
                + (f"  deployed to {args.stage}: {api['url']}" if args.stage else "")
            )
            for warning in api.get("warnings") or []:
                print(f"Warning: {warning}", file=sys.stderr)
        return 0
    if args.command == "export":
        apigw = _client(args, "apigateway")
        accepts = "application/yaml" if args.format == "yaml" else "application/json"
        exported = apigw.get_export(
            restApiId=_api_id(apigw, args.api),
            stageName=args.stage,
            exportType=args.type,
            accepts=accepts,
            parameters={"extensions": args.extensions} if args.extensions else {},
        )
        body = exported["body"]
        data: bytes = body.read() if hasattr(body, "read") else body
        if args.output:
            args.output.write_bytes(data)
        else:
            sys.stdout.write(data.decode())
            if not data.endswith(b"\n"):
                sys.stdout.write("\n")
        return 0
    raise ValueError(f"unknown command {args.command}")


def _serving_data_dirs() -> list[Path]:
    """The data dirs of the `apigate serve` processes on this machine that we may inspect (Linux's /proc):
    each one's --data-dir, else its $APIGATE_DATA_DIR, else .apigate, resolved against its working dir."""
    import os

    found: list[Path] = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = [
                a.decode(errors="replace")
                for a in Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            ]
            if "serve" not in argv or not any("apigate" in a for a in argv[: argv.index("serve")]):
                continue
            cwd = Path(os.readlink(f"/proc/{entry.name}/cwd"))
            data_dir: str | None = None
            for i, arg in enumerate(argv):
                if arg == "--data-dir" and i + 1 < len(argv):
                    data_dir = argv[i + 1]
                elif arg.startswith("--data-dir="):
                    data_dir = arg.split("=", 1)[1]
            if data_dir is None:
                environ = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
                prefix = f"{DATA_DIR_VARIABLE}=".encode()
                data_dir = next(
                    (e[len(prefix) :].decode() for e in environ if e.startswith(prefix)), ".apigate"
                )
        except (OSError, ValueError):
            continue
        path = (cwd / data_dir).resolve()
        if path not in found:
            found.append(path)
    return found


def _logs_data_dir(args: argparse.Namespace) -> Path:
    import os

    if args.data_dir is not None:
        return Path(args.data_dir)
    if os.environ.get(DATA_DIR_VARIABLE):
        return Path(os.environ[DATA_DIR_VARIABLE])
    serving = [d for d in _serving_data_dirs() if (d / "logs" / f"{args.function}.log").exists()]
    if len(serving) == 1:
        return serving[0]
    if len(serving) > 1:
        raise LookupError(
            f"{len(serving)} running gateways have a log for {args.function} "
            f"({', '.join(map(str, serving))}): pick one with --data-dir"
        )
    return Path(".apigate")


def parse_since(value: str, now: float) -> int:
    """``--since``: ``10m``, ``2h``, ``1d``, ``30s``, ``1w`` ago, or an ISO 8601 time; epoch milliseconds."""
    import datetime
    import re

    relative = re.fullmatch(r"(\d+)([smhdw])", value.strip())
    if relative:
        seconds = int(relative[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[relative[2]]
        return int((now - seconds) * 1000)
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {value!r}: give an age (10m, 2h, 1d) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a local time, as typed
    return int(moment.timestamp() * 1000)


def _logs(args: argparse.Namespace) -> int:
    """A function's log group from the data dir's log store, a timestamp on each event; the plain log file
    for a data dir from before the store."""
    import time

    try:
        data_dir = _logs_data_dir(args)
        since = parse_since(args.since, time.time()) if args.since else 0
    except (LookupError, ValueError) as exc:
        print(f"apigate: {exc}", file=sys.stderr)
        return 2
    if not (data_dir / "logs.db").exists():
        return _log_file(args, data_dir)
    from apigate.store.log_events import LogStore

    store = LogStore(data_dir / "logs.db", read_only=True)
    group = f"/aws/lambda/{args.function}"
    if store.group(group) is None and not args.follow:
        print(f"apigate: no log for {args.function} in {data_dir}", file=sys.stderr)
        return 1
    last = 0
    try:
        while True:
            events = store.written_after(group, last, since)
            for _, _, message, ts, _ in events:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + f".{ts % 1000:03d}Z"
                sys.stdout.write(f"{stamp} {message}\n")
            if events:
                last = events[-1][0]
                sys.stdout.flush()
                continue
            if not args.follow:
                return 0
            time.sleep(0.25)
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


def _log_file(args: argparse.Namespace, data_dir: Path) -> int:
    import time

    path = data_dir / "logs" / f"{args.function}.log"
    if not path.exists() and not args.follow:
        print(f"apigate: no log for {args.function} in {path.parent}", file=sys.stderr)
        return 1
    position = 0
    try:
        while True:
            if path.exists():
                with path.open("rb") as log_file:
                    log_file.seek(position)
                    chunk = log_file.read()
                    position += len(chunk)
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
            if not args.follow:
                return 0
            time.sleep(0.25)
    except KeyboardInterrupt:
        return 0


def parse_aws_endpoints(items: list[str]) -> dict[str, str]:
    """`--aws-endpoint kinesis=http://host:port` -> {service: URL}."""
    endpoints: dict[str, str] = {}
    for item in items:
        service, sep, url = item.partition("=")
        if not sep or not service or not url.startswith(("http://", "https://")):
            raise SystemExit(
                f"apigate: error: --aws-endpoint expects SERVICE=http(s)://HOST[:PORT], not {item!r}"
            )
        endpoints[service.strip().lower()] = url.strip()
    return endpoints


def _cluster_status(args: argparse.Namespace) -> int:
    """``apigate cluster status``: every host that serves from the store, its configuration version and
    health, from the heartbeats hosts write (every 2 s) into the store itself."""
    from apigate.store import open_store

    try:
        store = open_store(args.store, args.data_dir)
    except (ConnectionError, ValueError) as exc:
        print(f"apigate: error: {exc}", file=sys.stderr)
        return 1
    try:
        version, hosts = store.version(), store.hosts()
    finally:
        store.close()
    # A process restarted under a new pid leaves its old entry behind: shown as gone for a while, then not.
    hosts = [host for host in hosts if host["seconds_ago"] <= args.forget_after]
    for host in hosts:
        if host["seconds_ago"] > args.stale_after:
            host["status"] = "gone"
        host["behind"] = max(0, version - int(host.get("version", 0)))
    if args.json:
        _print_json({"version": version, "hosts": hosts})
    else:
        print(f"store version {version}")
        rows = [
            [
                h["host"],
                str(h.get("version")),
                str(h["behind"]),
                h.get("status", "?"),
                f"{h['seconds_ago']}s",
                h.get("error", ""),
            ]
            for h in hosts
        ]
        _table(rows, ["HOST", "VERSION", "BEHIND", "STATUS", "SEEN", "ERROR"])
    # Exit 3 when a host is degraded (its store reads fail) or gone: for scripts and health checks.
    return 0 if all(h.get("status") == "ok" for h in hosts) else 3


def parse_vpc_link_targets(items: list[str]) -> dict[str, str]:
    """`--vpc-link-target ARN=http://host:port` -> {ARN: URL}."""
    targets: dict[str, str] = {}
    for item in items:
        arn, sep, url = item.partition("=")
        if not sep or not arn.startswith("arn:") or not url.startswith(("http://", "https://")):
            raise SystemExit(
                f"apigate: error: --vpc-link-target expects ARN=http(s)://HOST[:PORT], not {item!r}"
            )
        targets[arn.strip()] = url.strip().rstrip("/")
    return targets


def parse_user_pools(items: list[str]) -> dict[str, str]:
    """``POOL_ID=ISSUER_URL`` pairs from ``--user-pool``."""
    pools: dict[str, str] = {}
    for item in items:
        pool, sep, issuer = item.partition("=")
        if not sep or not pool or not issuer.startswith(("http://", "https://")):
            raise SystemExit(f"apigate: error: --user-pool expects POOL_ID=ISSUER_URL, not {item!r}")
        pools[pool] = issuer.rstrip("/")
    return pools


class StartupError(Exception):
    """A reason `apigate serve` cannot start, worded for the user: cause and fix in one or two lines."""


def main(argv: list[str] | None = None) -> int:
    """Errors are one line naming the cause and the fix; a traceback only with ``--log-level debug``."""
    args = _parser().parse_args(argv)
    debug = getattr(args, "log_level", "INFO") == "DEBUG"
    try:
        return _main(args)
    except BrokenPipeError:  # `apigate apis | head`: the reader left; end quietly, flushing nothing more
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:
        if debug:
            raise
        print(f"apigate: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except Exception as exc:
        if debug:
            raise
        print(
            f"apigate: error: {type(exc).__name__}: {exc}\n"
            "  (this looks like a bug in apigate; run again with --log-level debug for the traceback)",
            file=sys.stderr,
            flush=True,
        )
        return 1


def _main(args: argparse.Namespace) -> int:
    if args.command == "logs":
        return _logs(args)
    if args.command == "cluster":
        return _cluster_status(args)
    if args.command == "ca":
        return _ca(args)
    if args.command != "serve":
        return _run_client(args)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from apigate.functions.interpreters import parse_python_overrides

    try:
        python_overrides = parse_python_overrides(args.python)
    except ValueError as exc:
        print(f"apigate: error: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        region=args.region,
        max_workers_per_function=args.max_workers_per_function,
        account_rate=args.account_rate,
        account_burst=args.account_burst,
        redis_url=args.redis,
        store_url=args.store,
        on_state_error=args.on_state_error,
        cache_budget_scale=args.cache_budget_scale,
        websocket_idle_timeout=args.websocket_idle_timeout,
        websocket_max_duration=args.websocket_max_duration,
        websocket_frame_size=args.websocket_frame_size,
        websocket_message_size=args.websocket_message_size,
        user_pools=tuple(parse_user_pools(args.user_pool).items()),
        aws_endpoints=tuple(parse_aws_endpoints(args.aws_endpoint).items()),
        vpc_link_targets=tuple(parse_vpc_link_targets(args.vpc_link_target).items()),
        function_init_timeout=args.function_init_timeout,
        event_retry_delay=args.event_retry_delay,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        idle_timeout=args.idle_timeout,
        https_port=_https_port(args),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        console=(args.template is not None or args.access_log) and not args.quiet,
        function_output=args.function_output,
        otlp_endpoint=args.otlp_endpoint,
        otlp_sample_ratio=args.otlp_sample_ratio,
        python_interpreters=tuple(python_overrides.items()),
        runtime_fallback=args.runtime_fallback,
        **access_settings(args),
    )
    template = None
    if args.template is not None:
        try:
            overrides = parse_overrides(args.parameter_overrides)
        except ValueError as exc:
            print(f"apigate: error: {exc}", file=sys.stderr)
            return 2
        template = TemplateOptions(
            args.template, overrides, args.stack_name, not args.no_watch, args.api_at_root
        )
    try:
        from apigate.functions.sandbox import function_user

        function_user(settings.function_user)  # an unknown user is a clear error now, not at the first call
    except (ValueError, OSError) as exc:
        print(f"apigate: error: {exc}", file=sys.stderr)
        return 2
    _prepare_data_dir(settings.data_dir)
    # --workers N: the supervisor forks its gateways, which inherit these settings (the admin key too)
    # in memory, never through a command line or an environment of theirs.
    if args.workers:
        return _supervise(settings, template, args.workers)
    return _run(serve(settings, template))


def _prepare_data_dir(data_dir: Path) -> None:
    import errno

    if data_dir.exists() and not data_dir.is_dir():
        raise StartupError(
            f"the data dir {data_dir} is a file, not a folder — pass --data-dir with a folder's path"
        )
    try:
        prepare_data_dir(data_dir)
    except OSError as exc:
        where = exc.filename or data_dir
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StartupError(
                f"cannot write the data dir {where}: {exc.strerror} — pass --data-dir with a folder you can "
                "write, or fix its permissions"
            ) from exc
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            blocker = next((p for p in data_dir.absolute().parents if p.exists() and not p.is_dir()), where)
            raise StartupError(
                f"cannot make the data dir {data_dir}: {blocker} is a file — pass --data-dir with a folder's path"
            ) from exc
        raise StartupError(
            f"cannot prepare the data dir {data_dir}: {exc.strerror or exc} — pass --data-dir with another folder"
        ) from exc


def _bind_error(host: str, port: int, exc: OSError) -> StartupError:
    import errno

    if exc.errno == errno.EADDRINUSE:
        from apigate.server.port_owner import port_owner

        owner = port_owner(port)
        held = f" (pid {owner[0]}: {owner[1]})" if owner else ""
        return StartupError(f"port {port} is in use{held} — pick another with --port, or stop that process")
    if exc.errno == errno.EACCES:
        return StartupError(
            f"not allowed to listen on port {port} (ports below 1024 need root) — pick another with --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(f"{host} is not an address of this machine — pick another with --host")
    return StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc} — check --host and --port")


def _run(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio's loop still works
        return asyncio.run(main)
    return uvloop.run(main)


def _supervise(settings: Settings, template: TemplateOptions | None, workers: int) -> int:
    """``--workers N``: a supervisor process forks N gateways on one port (see apigate/supervisor.py)."""
    from apigate.supervisor import Slot, Supervisor, bind_slots, replace_port

    if workers < 1:
        print("apigate: error: --workers takes a positive number", file=sys.stderr)
        return 2
    try:
        sockets = bind_slots(settings.host, settings.port, workers)
    except OSError as exc:
        raise _bind_error(settings.host, settings.port, exc) from exc
    slots: list[Slot] = [(sock,) for sock in sockets]
    if settings.https_port is not None:  # the HTTPS listener spreads over the workers the same way
        try:
            secure = bind_slots(settings.host, settings.https_port, workers)
        except OSError as exc:
            for sock in sockets:
                sock.close()
            raise _bind_error(settings.host, settings.https_port, exc) from exc
        slots = [(plain, tls) for plain, tls in zip(sockets, secure, strict=True)]

    def worker(settings: Settings, slot_sockets: Slot, slot: int, ready: Callable[[], None]) -> int:
        # Only the first slot deploys (and watches) a template; the others serve what it stored.
        https = slot_sockets[1] if len(slot_sockets) > 1 else None
        return _run(
            serve(
                settings,
                template if slot == 0 else None,
                listener=slot_sockets[0],
                https_listener=https,
                on_ready=ready,
            )
        )

    return Supervisor(replace_port(settings, slots), slots, worker).run()


if __name__ == "__main__":
    raise SystemExit(main())
