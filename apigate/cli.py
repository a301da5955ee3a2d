"""``apigate serve``: start the gateway on its embedded defaults (SQLite and in-memory state)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import socket
import sys
from pathlib import Path

from apigate import __version__
from apigate.config import Settings

log = logging.getLogger("apigate")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apigate", description="A self-hosted AWS API Gateway.")
    parser.add_argument("--version", action="version", version=f"apigate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the management API and every deployed stage")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--data-dir", type=Path, default=Path(".apigate"))
    serve.add_argument(
        "--region", default="us-east-1", help="the region in ARNs and in functions' environment"
    )
    serve.add_argument("--max-workers-per-function", type=int, default=8)
    serve.add_argument("--log-level", default="INFO")
    return parser


async def serve(settings: Settings) -> None:
    # Imported here so that `apigate --help` stays instant.
    from apigate.app import Gateway
    from apigate.server.listener import Server

    # Bind first: with --port 0 the URLs handed to functions and printed below must carry the real port.
    sock = _bind(settings.host, settings.port)
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    gateway = Gateway(settings)
    server = Server()
    await server.start(None, 0, gateway, sock=sock)
    print(f"apigate {__version__} ready on {settings.base_url} (data in {settings.data_dir})", flush=True)
    for deployed in gateway.registry.stages():
        path_url, host_url = settings.invoke_urls(deployed.api_id, deployed.stage)
        print(
            f"  {deployed.api_name or deployed.api_id} stage {deployed.stage}: {path_url}  {host_url}",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: draining requests in flight")
    await server.shutdown(grace=10.0)
    await gateway.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        region=args.region,
        max_workers_per_function=args.max_workers_per_function,
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio's loop still works
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
