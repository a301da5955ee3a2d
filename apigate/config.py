"""Settings of one gateway process, from the command line; and the data dir they name, made private."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from apigate.aws.ids import ACCOUNT_ID


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path(".apigate")
    region: str = "us-east-1"
    account_id: str = ACCOUNT_ID
    max_workers_per_function: int = 8
    account_rate: float = 10000.0  # the account-level throttle (AWS's default per Region)
    account_burst: int = 5000
    redis_url: str | None = None  # shared state (buckets, quotas, usage, cache) in Redis instead of memory
    on_state_error: str = "allow"  # allow | deny: what requests get while Redis is unreachable
    cache_budget_scale: float = 1.0  # multiplies each stage cache's budget (cacheClusterSize in bytes)
    # WebSocket APIs: AWS's limits (frames 32 KB, messages 128 KB, 10 minutes idle, 2 hours in all)
    websocket_frame_size: int = 32 * 1024
    websocket_message_size: int = 128 * 1024
    websocket_idle_timeout: float = 600.0
    websocket_max_duration: float = 7200.0
    sync_interval: float = 0.5  # seconds between checks for changes made by other processes and hosts
    store_url: str | None = (
        None  # `--store postgresql://…`: the cluster's store (None: SQLite in the data dir)
    )
    # `--aws-endpoint SERVICE=URL`: where AWS service integrations and functions' SDK calls reach a service
    aws_endpoints: tuple[tuple[str, str], ...] = ()
    # `--vpc-link-target ARN=URL`: the address a VPC link's load balancer (or an HTTP API private integration's
    # listener / Cloud Map service) stands for here
    vpc_link_targets: tuple[tuple[str, str], ...] = ()
    user_pools: tuple[tuple[str, str], ...] = ()  # Cognito user pool id -> issuer URL (`--user-pool ID=URL`)
    function_init_timeout: float = 10.0  # Lambda's init phase budget; past it the init is retried in the call
    # `--event-retry-delay`: before an Event invocation's first retry (the second waits twice as long), Lambda's 60 s
    event_retry_delay: float = 60.0
    header_timeout: float = 10.0  # a client's first byte -> end of its headers (slowloris)
    body_timeout: float = 30.0  # end of the headers -> end of the body
    idle_timeout: float = 60.0  # a keep-alive connection with no request
    admin_key: tuple[str, str] | None = None  # `--admin-key ID:SECRET`: every management call signed with it
    # `--function-user NAME`: who function workers run as when the gateway runs as root (None: the default,
    # apigate-function if it exists, else nobody; "root": as root). Ignored when the gateway is not root.
    function_user: str | None = None
    python_interpreters: tuple[tuple[str, str], ...] = ()  # `--python pythonX.Y=PATH`, repeated
    runtime_fallback: bool = False  # `--runtime-fallback`: a runtime the machine lacks runs on the gateway's Python
    private_listen: tuple[str, int] | None = (
        None  # `--private-listen HOST:PORT`: where PRIVATE APIs are served
    )
    vpce_id: str = "vpce-0123456789abcdef0"  # the VPC endpoint the private listener stands for (`--vpce-id`)
    vpc_id: str = "vpc-0123456789abcdef0"  # and its VPC (`--vpc-id`)
    https_port: int | None = None  # `--https-port`: an HTTPS listener too (custom domains, SNI)
    tls_cert: Path | None = None  # `--tls-cert`/`--tls-key`: its default certificate (else one the local CA issues)
    tls_key: Path | None = None
    # A line per request on stderr (`serve TEMPLATE`, `--access-log`; `--quiet` stops it).
    console: bool = False
    # `--otlp-endpoint URL`: OpenTelemetry spans of the stages with tracingEnabled.
    otlp_endpoint: str | None = None
    otlp_sample_ratio: float = 0.05  # besides the first request of each second, as X-Ray's default rule
    function_output: bool = True  # with the console: what functions print, prefixed with their names

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def invoke_urls(self, api_id: str, stage: str) -> tuple[str, str]:
        """The two ways to call a stage: the path form, and the host form (``*.localhost`` resolves to loopback)."""
        return (
            f"{self.base_url}/_aws/execute-api/{api_id}/{stage}/",
            f"http://{api_id}.execute-api.localhost:{self.port}/{stage}/",
        )


# What in the data dir holds secrets (the store: admin state, IAM keys and sessions; the logs; function code),
# with the modes each gets: the gateway's user alone may read them.
_PRIVATE_DIRS = ("logs", "functions", "layers")
_STORE_FILES = (
    *("apigate.db", "apigate.db-wal", "apigate.db-shm"),
    *("logs.db", "logs.db-wal", "logs.db-shm"),  # the CloudWatch Logs store (store/log_events.py)
)


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir 0700 (and its store 0600: SQLite gives its -wal and -shm files the database's
    mode), or tighten those modes on one made before. Function workers never need a path in it: a worker
    started by a root gateway reaches its own code through an open directory (see functions/sandbox.py)."""
    if not data_dir.is_dir():
        data_dir.mkdir(mode=0o700, parents=True)
    else:
        os.chmod(data_dir, os.stat(data_dir).st_mode & 0o700)
    for name in _PRIVATE_DIRS:
        path = data_dir / name
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    for name in _STORE_FILES:
        path = data_dir / name
        if name in ("apigate.db", "logs.db") or path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # an empty file is a new SQLite database
            os.chmod(path, 0o600)
