"""What an EDGE (edge-optimized) API shows its clients of the CloudFront distribution in front of it at AWS.

apigate serves EDGE APIs as REGIONAL ones (no distribution, no caching at the edge, no geographic routing);
what a client can see of CloudFront is reproduced: the ``Via``, ``X-Amz-Cf-Id`` and ``X-Cache`` response
headers, and the dot segments CloudFront resolves in paths (request_path.py).
"""

from __future__ import annotations

import base64
import os

__all__ = ["cloudfront_headers"]

# One "edge server" per process, named as CloudFront names them.
_VIA = ("Via", f"1.1 {os.urandom(16).hex()}.cloudfront.net (CloudFront)")
_CACHE = ("X-Cache", "Miss from cloudfront")


def cloudfront_headers() -> list[tuple[str, str]]:
    # X-Amz-Cf-Id: 56 characters of URL-safe base64, one per request
    return [_VIA, ("X-Amz-Cf-Id", base64.urlsafe_b64encode(os.urandom(42)).decode()), _CACHE]
