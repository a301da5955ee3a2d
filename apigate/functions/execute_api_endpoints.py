"""Inside a worker: boto3 clients pointed at an API's own execute-api address reach the gateway.

Code written for AWS builds the ``@connections`` endpoint from the event, ``https://{domainName}/{stage}``. Here
``domainName`` is ``{api}.execute-api.localhost``, served over plain HTTP on the gateway's port, and
``*.localhost`` need not resolve everywhere. So that such code runs unchanged, botocore's endpoint creation is
wrapped, once botocore is imported, to send those addresses to the gateway's path form
(``$AWS_ENDPOINT_URL/_aws/execute-api/{api}/{stage}``). Other endpoints are left alone. Runs only in worker
processes, never in the gateway.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

# {api}.execute-api.localhost, and AWS's own {api}.execute-api.{region}.amazonaws.com (code written for AWS).
_EXECUTE_API = re.compile(
    r"^https?://([A-Za-z0-9]+)\.execute-api\.(?:localhost|[a-z0-9-]+\.amazonaws\.com)(?::\d+)?(/.*)?$"
)
_TARGET = "botocore.session"
# Session.create_client(service_name, region_name, api_version, use_ssl, verify, endpoint_url, ...)
_ENDPOINT_URL_POSITION = 5


def rewrite(endpoint_url: str | None, gateway_url: str) -> str | None:
    """The gateway's path-form address for an execute-api ``endpoint_url``; anything else unchanged."""
    if endpoint_url is None:
        return None
    found = _EXECUTE_API.match(endpoint_url)
    if found is None:
        return endpoint_url
    return f"{gateway_url.rstrip('/')}/_aws/execute-api/{found.group(1)}{found.group(2) or ''}"


def _wrap(module: ModuleType, gateway_url: str) -> None:
    # Session.create_client is where every boto3 and botocore client gets its endpoint_url (resolved later by
    # the endpoint rules, which is why the address is changed before the client exists).
    session = module.Session
    original: Callable[..., Any] = session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "endpoint_url" in kwargs:
            kwargs["endpoint_url"] = rewrite(kwargs["endpoint_url"], gateway_url)
        elif len(args) > _ENDPOINT_URL_POSITION:
            args = (
                *args[:_ENDPOINT_URL_POSITION],
                rewrite(args[_ENDPOINT_URL_POSITION], gateway_url),
                *args[_ENDPOINT_URL_POSITION + 1 :],
            )
        return original(self, *args, **kwargs)

    session.create_client = create_client


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, gateway_url: str) -> None:
        self._inner = inner
        self._gateway_url = gateway_url

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _wrap(module, self._gateway_url)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it lets the other finders locate botocore.session, then wraps its loader."""

    def __init__(self, gateway_url: str) -> None:
        self._gateway_url = gateway_url

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, self._gateway_url)
                return spec
        return None


def install() -> None:
    """Arrange the rewrite for this process (the worker calls it before importing the handler)."""
    gateway_url = os.environ.get("AWS_ENDPOINT_URL")
    if not gateway_url:
        return
    if _TARGET in sys.modules:
        _wrap(sys.modules[_TARGET], gateway_url)
    else:
        sys.meta_path.insert(0, _Finder(gateway_url))
