"""Settings of one gateway process, from the command line."""

from __future__ import annotations

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
