"""What an EDGE (edge-optimized) API shows its clients of the CloudFront distribution in front of it at AWS.

apigate serves EDGE APIs as REGIONAL ones (no distribution, no caching at the edge, no geographic routing);
what a client can see of CloudFront is reproduced: the ``Via``, ``X-Amz-Cf-Id`` and ``X-Cache`` response
headers, and the dot segments CloudFront resolves in paths (request_path.py).
"""

from __future__ import annotations

import base64
import itertools
import os

__all__ = ["cloudfront_headers"]

# One "edge server" per process, named as CloudFront names them.
_VIA = ("Via", f"1.1 {os.urandom(16).hex()}.cloudfront.net (CloudFront)")
_CACHE = ("X-Cache", "Miss from cloudfront")


# X-Amz-Cf-Id: 56 characters, one per request. A label, not a secret: a random per-process prefix and a counter
# (as request ids, aws/ids.py), 0.7 µs where 42 fresh random bytes took 1.7 µs (measured here, machine busy).
_CF_PREFIX = base64.urlsafe_b64encode(os.urandom(30)).decode()  # 40 characters
_counter = itertools.count(1 << 64)  # hex(n)[-16:]: 16 digits without a format spec (aws/ids.py)


def _redraw() -> None:  # a forked worker (`serve --workers N`) must not repeat its parent's ids
    global _CF_PREFIX
    _CF_PREFIX = base64.urlsafe_b64encode(os.urandom(30)).decode()


os.register_at_fork(after_in_child=_redraw)


def cloudfront_headers() -> tuple[tuple[str, str], ...]:
    return _VIA, ("X-Amz-Cf-Id", _CF_PREFIX + hex(next(_counter))[-16:]), _CACHE
