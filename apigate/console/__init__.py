"""The web console: static assets served at ``/_apigate/console/`` that talk only to the public management API."""

from __future__ import annotations

from apigate.console.assets import ConsoleAssets

__all__ = ["ConsoleAssets"]
