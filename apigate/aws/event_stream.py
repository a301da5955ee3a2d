"""AWS's event stream framing (``application/vnd.amazon.eventstream``), the encoding side: what streaming
operations (CloudWatch Logs' StartLiveTail) send and the SDKs' decoders (botocore/eventstream.py) read.

A message is a 12-byte prelude (total length, headers length, the CRC32 of those eight bytes), the headers, the
payload and the CRC32 of everything before it; integers big-endian. Headers are (name, type, value): we only send
strings (type 7, a 16-bit length then UTF-8).
"""

from __future__ import annotations

import struct
import zlib

import orjson

__all__ = ["event_message", "exception_message", "message"]

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_JSON = "application/json"


def _headers(headers: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for name, value in headers:
        key, text = name.encode(), value.encode()
        out += bytes((len(key),)) + key + bytes((_STRING,)) + struct.pack(">H", len(text)) + text
    return bytes(out)


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    encoded = _headers(headers)
    prelude = _PRELUDE.pack(12 + len(encoded) + len(payload) + 4, len(encoded))
    head = prelude + _CRC.pack(zlib.crc32(prelude))
    body = head + encoded + payload
    return body + _CRC.pack(zlib.crc32(body))


def event_message(event_type: str, document: object) -> bytes:
    """One event of the stream: ``event_type`` names the stream member (``initial-response`` for the JSON
    protocols' first message, which carries the non-stream members of the output)."""
    return message(
        [(":message-type", "event"), (":event-type", event_type), (":content-type", _JSON)],
        orjson.dumps(document),
    )


def exception_message(exception_type: str, text: str) -> bytes:
    """A modelled error that ends the stream (``SessionTimeoutException``, …)."""
    return message(
        [(":message-type", "exception"), (":exception-type", exception_type), (":content-type", _JSON)],
        orjson.dumps({"message": text}),
    )
