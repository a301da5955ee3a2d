"""apigate: a self-hosted API gateway that speaks AWS API Gateway's language."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
