"""Mutual TLS as AWS answers it: a client certificate that does not chain to the truststore still completes the
handshake, and the gateway answers HTTP 403 instead of the handshake failing.

Python's ``ssl`` has no verify callback, so this module reaches OpenSSL itself through ctypes, in the library
``_ssl`` is linked to (the same OpenSSL instance, so its SSL_CTX and SSL are ours to pass):

- ``accept_untrusted(context)`` installs on the listener's SSL_CTX a verify callback that lets every chain through.
  OpenSSL copies the callback to each connection's SSL when the connection is made, before SNI switches to the
  domain's context, whose certificate store (its truststore) is then the one the chain is checked against.
  CPython's ``verify_mode`` setter keeps a callback already set, so the listener may change its mode afterwards.
- OpenSSL still records the chain's last error as the connection's verify result (and in the session, for a
  resumed one); ``verified(session)`` reads it, so the gateway can refuse what the handshake let through.

The pointers are read from CPython's objects: an ``SSLContext`` is {PyObject_HEAD; SSL_CTX *ctx; …} and an
``SSLObject``'s ``_sslobj`` is {PyObject_HEAD; PyObject *Socket; SSL *ssl; …} (CPython 3.9 to 3.13). The layout
is confirmed against OpenSSL before anything is installed; when it does not hold, nothing is installed and an
untrusted certificate fails the handshake, as it does without this module.
"""

from __future__ import annotations

import ctypes
import logging
import ssl
import sys
from typing import Any

__all__ = ["accept_untrusted", "verified"]

_logger = logging.getLogger("apigate.server")

_HEAD = object.__basicsize__  # PyObject_HEAD's size: a free-threaded or debug build's differs
_X509_V_OK = 0
# SSL_VERIFY_PEER, and FAIL_IF_NO_PEER_CERT for CERT_REQUIRED
_MODES = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}

_VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _continue(preverify_ok: int, store: int | None) -> int:
    """OpenSSL's verify callback: go on whatever the chain's check found (it is recorded all the same)."""
    return 1


_CALLBACK = _VerifyCallback(_continue)  # referenced for the life of the process: OpenSSL keeps calling it


def _pointer(obj: object, offset: int) -> int | None:
    return ctypes.c_void_p.from_address(id(obj) + offset).value


class _OpenSsl:
    """The few OpenSSL calls this needs, with their C types, from the library ``_ssl`` uses."""

    def __init__(self) -> None:
        import _ssl

        path = getattr(_ssl, "__file__", None)  # a shared extension; else _ssl is built into the interpreter
        lib: Any = ctypes.CDLL(path) if path else ctypes.CDLL(None)  # dlsym also searches its dependencies
        self.version = lib.OpenSSL_version_num
        self.version.restype, self.version.argtypes = ctypes.c_ulong, []
        self.set_verify = lib.SSL_CTX_set_verify
        self.set_verify.restype = None
        self.set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VerifyCallback]
        self.verify_mode = lib.SSL_CTX_get_verify_mode
        self.verify_mode.restype, self.verify_mode.argtypes = ctypes.c_int, [ctypes.c_void_p]
        self.verify_callback = lib.SSL_CTX_get_verify_callback
        self.verify_callback.restype, self.verify_callback.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        self.ssl_ctx = lib.SSL_get_SSL_CTX
        self.ssl_ctx.restype, self.ssl_ctx.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        self.verify_result = lib.SSL_get_verify_result
        self.verify_result.restype, self.verify_result.argtypes = ctypes.c_long, [ctypes.c_void_p]


_openssl: _OpenSsl | None = None  # set once the layout is confirmed and a callback installed


def _layout_problem(openssl: _OpenSsl, context: ssl.SSLContext) -> str | None:
    """Why the pointers read from ``context`` and its connections cannot be trusted; None when they can."""
    if openssl.version() != ssl.OPENSSL_VERSION_NUMBER:
        return "the OpenSSL found is not the one ssl uses"
    ctx = _pointer(context, _HEAD)
    if ctx is None or openssl.verify_mode(ctx) & 3 != _MODES[context.verify_mode]:
        return "SSLContext's layout is not the expected one"
    probe = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    connection = _pointer(probe._sslobj, _HEAD + ctypes.sizeof(ctypes.c_void_p))  # type: ignore[attr-defined]
    if connection is None or openssl.ssl_ctx(connection) != ctx:
        return "SSLObject's layout is not the expected one"
    return None


def accept_untrusted(context: ssl.SSLContext) -> bool:
    """Let handshakes on ``context`` (the listener's) complete whatever the client's certificate chain, for
    ``verified`` to judge afterwards. False, with the reason logged, when this Python cannot (the handshake then
    refuses an untrusted certificate itself)."""
    global _openssl
    problem = None
    # the interpreter first: on an unknown layout the pointers passed to OpenSSL could crash it, not just fail
    if sys.implementation.name != "cpython" or not (3, 9) <= sys.version_info[:2] <= (3, 13):
        problem = f"not CPython 3.9-3.13 ({sys.implementation.name} {sys.version_info[:2]})"
    openssl = None
    if problem is None:
        try:
            openssl = _OpenSsl()
        except (OSError, AttributeError) as exc:  # no such library or symbol
            problem = f"OpenSSL not reachable through ctypes: {exc}"
    if openssl is not None and problem is None:
        problem = _layout_problem(openssl, context)
    if openssl is None or problem is not None:
        _logger.warning(
            "mutual TLS: an untrusted client certificate fails the TLS handshake instead of getting HTTP 403 (%s)",
            problem,
        )
        return False
    ctx = _pointer(context, _HEAD)
    openssl.set_verify(ctx, openssl.verify_mode(ctx), _CALLBACK)
    context.verify_mode = context.verify_mode  # TlsSites sets the mode as domains change: the callback stays
    _openssl = openssl
    if openssl.verify_callback(ctx) != ctypes.cast(_CALLBACK, ctypes.c_void_p).value:
        _logger.warning(
            "mutual TLS: ssl dropped the verify callback; untrusted certificates fail the handshake"
        )
        return False
    return True


def verified(session: ssl.SSLObject) -> bool:
    """The client's certificate chains to the truststore of the context SNI settled on (dates aside: the
    listener leaves them to the gateway). Also True when ``accept_untrusted`` could not install itself: the
    handshake then verified the chain. A connection without a client certificate has nothing that failed."""
    if _openssl is None:
        return True
    connection = _pointer(session._sslobj, _HEAD + ctypes.sizeof(ctypes.c_void_p))  # type: ignore[attr-defined]
    return connection is not None and _openssl.verify_result(connection) == _X509_V_OK
