"""Whether a management call may have come from a web page: the browser's side of the management API's boundary.

Without ``--admin-key`` the management API trusts whoever reaches its loopback listener, and a browser on the
developer's machine reaches it too: any page can POST a "simple" request (``text/plain``, a form, no content type)
to ``http://127.0.0.1:4566/2015-03-31/functions`` without a CORS preflight, and DNS rebinding lets a page send
reads under the attacker's own host name. Browsers always say where such a request comes from, and SDKs never do,
so a call is refused when:

- its ``Host`` is not a loopback name or address (``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``::1``) or the
  host the listener was configured with (any host when it listens on a wildcard address, where only signed calls
  are served anyway): DNS rebinding sends the attacker's name;
- its ``Origin`` is not the gateway's own (``http(s)://`` + its ``Host``), or is ``null``;
- its ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site`` (another port of localhost is same-site);
- its body's content type is none an AWS SDK sends: botocore sends ``application/json`` or nothing (blob
  payloads), the query protocol (IAM, STS) ``application/x-www-form-urlencoded`` to ``/`` only, other SDKs
  ``application/x-amz-json-1.x`` or ``application/octet-stream``. ``text/plain`` and ``multipart/form-data`` (what
  a page can send without a preflight) are never one.

The data plane is not checked here: browsers call APIs cross-origin on purpose (CORS).
"""

from __future__ import annotations

import ipaddress

from apigate.aws.errors import AwsError
from apigate.server.message import Request

__all__ = ["RequestOrigins"]

# Media types (parameters stripped, lower case) that AWS SDKs and CLIs put on management calls' bodies.
_SDK_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/x-amz-json-1.0",
        "application/x-amz-json-1.1",
        "application/octet-stream",
        "binary/octet-stream",  # aws-sdk-js v2's blob payloads
    }
)
_FORM = "application/x-www-form-urlencoded"  # the query protocol: only ``POST /``
_REFUSED_FETCH_SITES = frozenset({"cross-site", "same-site"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


def _host_name(host: str) -> str:
    """``Host``'s name without its port, lower case, IPv6 brackets removed."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def _is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: never resolved by DNS
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refused(reason: str) -> AwsError:
    return AwsError(
        "AccessDeniedException",
        f"Refused a management call that may come from a web page: {reason}. "
        "AWS SDKs and the apigate CLI never send this; browsers do.",
        403,
    )


class RequestOrigins:
    """Answers, per management call, whether a browser page (cross-site, or DNS-rebound) may have sent it."""

    __slots__ = ("_any_host", "_configured")

    def __init__(self, listen_host: str) -> None:
        configured = _host_name(listen_host) if listen_host not in _WILDCARDS else ""
        self._any_host = listen_host in _WILDCARDS
        self._configured = configured

    def allows_host(self, host: str) -> bool:
        name = _host_name(host)
        return self._any_host or name == self._configured or _is_loopback(name)

    def refusal(self, request: Request, *, custom_domain: bool = False) -> AwsError | None:
        """None for a call an SDK could have made; else AWS's 403 to answer it with. ``custom_domain``: the
        ``Host`` names a custom domain the gateway's owner created (a rebinding attacker's name is none)."""
        hosts = request.header_values("host")
        if len(hosts) > 1:
            return _refused("more than one Host header")
        host = hosts[0] if hosts else ""
        if hosts and not custom_domain and not self.allows_host(host):
            return _refused(f"Host {host!r} is not a name of this gateway's listener")
        origins = request.header_values("origin")
        if origins:
            own = host.strip().lower()
            if len(origins) > 1 or origins[0].strip().lower() not in (f"http://{own}", f"https://{own}"):
                return _refused(f"Origin {origins[-1]!r} is not this gateway's own")
        site = request.header("sec-fetch-site")
        if site is not None and site.strip().lower() in _REFUSED_FETCH_SITES:
            return _refused(f"Sec-Fetch-Site is {site}")
        content_type = request.header("content-type")
        if content_type is not None:
            media = content_type.partition(";")[0].strip().lower()
            if media not in _SDK_CONTENT_TYPES and not (
                media == _FORM and request.method == "POST" and request.raw_path == "/"
            ):
                return _refused(f"no AWS SDK sends a body of type {media or 'none'!r} here")
        return None
