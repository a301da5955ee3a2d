"""Identifiers in the shapes AWS uses: short lowercase alphanumerics and request ids."""

from __future__ import annotations

import base64
import itertools
import os
import secrets
import string
from random import getrandbits

_ALPHABET = string.ascii_lowercase + string.digits


def short_id(length: int = 10) -> str:
    """An API Gateway style id: rest APIs have 10 characters, resources and deployments 6."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


# Request ids are labels, not secrets, and only need to be unique. A random per-process prefix plus a counter
# replaced a fresh 128-bit random UUID per request (request_id + extended_request_id measured ~5% of the CPU
# of an HTTP_PROXY request in py-spy; now two string formats). The prefix is drawn again in a forked child
# (`apigate serve --workers N` forks), so no two processes share one.
_HIGH = 1 << 48
_counter = itertools.count(_HIGH)
_uuid_prefix = ""
_extended_prefix = ""
_trace_prefix = ""


def _reseed() -> None:
    global _counter, _uuid_prefix, _extended_prefix, _trace_prefix, _trace_second
    h = f"{getrandbits(80):020x}"
    _uuid_prefix = f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-"
    _extended_prefix = base64.b64encode(getrandbits(48).to_bytes(6, "big")).decode()
    _trace_prefix = f"{getrandbits(48):012x}"
    _trace_second = -1  # a forked process formats its own head
    # The counter starts anywhere (ids do not look sequential), above 2**48: ``hex(n)[-12:]`` is then always 12
    # digits, the low 48 bits, about half the instructions of a ``:012x`` format (the hot path makes 3 per request).
    _counter = itertools.count(_HIGH | getrandbits(40))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def request_id() -> str:
    """A version 4 UUID string, as AWS's x-amzn-RequestId."""
    return _uuid_prefix + hex(next(_counter))[-12:]


def request_ids() -> tuple[str, str]:
    """``request_id()`` and ``extended_request_id()`` from one counter step: every data plane request needs both."""
    digits = hex(next(_counter))
    return _uuid_prefix + digits[-12:], _extended_prefix + digits[-7:] + "="


def extended_request_id() -> str:
    """16 characters of base64, as AWS's x-amz-apigw-id."""
    # 6 random bytes are 8 characters; 7 hex digits of the counter (hex digits are base64 characters) and "="
    # make the 16 of base64 over 11 bytes, as AWS's ids look.
    return _extended_prefix + hex(next(_counter))[-7:] + "="


_trace_second = -1
_trace_head = ""


def trace_id(epoch_seconds: int) -> str:
    """An X-Ray trace header, as API Gateway's X-Amzn-Trace-Id: ``Root=1-{epoch hex}-{96 bits hex}``."""
    global _trace_second, _trace_head
    if epoch_seconds != _trace_second:  # the head changes once a second: formatted then, not per request
        _trace_second, _trace_head = epoch_seconds, f"Root=1-{epoch_seconds:08x}-{_trace_prefix}"
    return _trace_head + hex(next(_counter))[-12:]


def trace_root(header: str | None) -> str | None:
    """The ``Root=…`` part of an incoming X-Amzn-Trace-Id (a caller's trace is continued, not replaced)."""
    if not header:
        return None
    for part in header.split(";"):
        part = part.strip()
        if part.startswith("Root=1-") and len(part) == 40:
            return part
    return None


ACCOUNT_ID = "000000000000"

