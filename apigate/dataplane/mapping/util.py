"""``$util``: the helpers AWS provides, with the quirks of the Java libraries behind them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import quote_plus, unquote_plus

from apigate.dataplane.mapping.errors import TemplateRenderError
from apigate.dataplane.mapping.input import parse_json
from apigate.dataplane.mapping.java import _NO_METHOD, VtlObject, to_str

_JS_ESCAPES = {
    "'": "\\'",  # the AWS quirk: commons-lang escapeJavaScript escapes single quotes (invalid in JSON)
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\n": "\\n",
    "\t": "\\t",
    "\f": "\\f",
    "\r": "\\r",
}


def escape_javascript(text: str) -> str:
    """Apache commons-lang 2 ``StringEscapeUtils.escapeJavaScript``: non-ASCII as upper-case UTF-16 ``\\uXXXX``."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in _JS_ESCAPES:
            out.append(_JS_ESCAPES[char])
        elif code < 0x20 or code > 0x7E:
            if code > 0xFFFF:  # Java strings are UTF-16: a surrogate pair, each escaped
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
            elif code < 0x20 or code > 0x7F:
                out.append(f"\\u{code:04X}")
            else:
                out.append(char)
        else:
            out.append(char)
    return "".join(out)


def url_encode(text: str) -> str:
    """``URLEncoder.encode(s, "UTF-8")``: space as ``+``; only ``A-Za-z0-9.-*_`` left alone (``~`` encoded)."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def url_decode(text: str) -> str:
    return unquote_plus(text)


def base64_encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def base64_decode(text: str) -> str:
    try:
        return base64.b64decode(text, validate=False).decode("utf-8", errors="replace")
    except binascii.Error as exc:
        raise TemplateRenderError(f"base64Decode: {exc}") from exc


_FUNCTIONS: dict[str, Callable[[str], object]] = {
    "escapeJavaScript": escape_javascript,
    "parseJson": parse_json,
    "urlEncode": url_encode,
    "urlDecode": url_decode,
    "base64Encode": base64_encode,
    "base64Decode": base64_decode,
}


class Util(VtlObject):
    """``$util``. Stateless: one shared instance serves every render."""

    __slots__ = ()

    def vtl_call(self, name: str, args: list[object]) -> object:
        function = _FUNCTIONS.get(name)
        if function is None or len(args) != 1:
            return _NO_METHOD
        if args[0] is None:  # a null argument gives null, as the Java helpers do
            return None
        return function(to_str(args[0]))

    def vtl_str(self) -> str:
        return "$util"


UTIL = Util()
