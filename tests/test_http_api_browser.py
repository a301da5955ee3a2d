"""Native CORS from a real browser: headless Chromium loads a page from another origin that calls the HTTP API."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from console_helpers import CHROMIUM, NEEDS_CHROMIUM, run_headless
from helpers import GatewayProcess, create_function

# Answers with the method and the custom header it saw, so the page can show what reached the function.
FUNCTION = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"x-custom": "from-function"},
            "body": json.dumps({"method": event["requestContext"]["http"]["method"],
                                "header": event["headers"].get("x-client")})}
"""

PAGE = """<!doctype html><html><body><script>
fetch("%(url)s", {method: "PUT", headers: {"Content-Type": "application/json", "X-Client": "page"}, body: "{}"})
  .then(r => r.text().then(t => { document.body.setAttribute("data-result",
        "status=" + r.status + " body=" + t + " exposed=" + r.headers.get("x-custom")); }))
  .catch(e => { document.body.setAttribute("data-result", "failed=" + e.name); });
</script></body></html>"""


def browse(url: str) -> str:
    done = run_headless(url, "--virtual-time-budget=10000", "--dump-dom", timeout=60)
    found = re.search(r'data-result="([^"]*)"', done.stdout)  # quotes inside are &quot;
    assert found is not None, done.stdout[-2000:] + done.stderr[-2000:]
    return html.unescape(found.group(1))


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_browser_cross_origin_calls(
    gateway: GatewayProcess, lam: Any, page_server: tuple[str, dict[str, str]]
) -> None:
    origin, pages = page_server
    v2 = gateway.client("apigatewayv2")
    function = create_function(lam, FUNCTION)
    target = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    allowed = v2.create_api(
        Name="browser-ok",
        ProtocolType="HTTP",
        Target=target,
        CorsConfiguration={
            "AllowOrigins": [origin],
            "AllowMethods": ["PUT"],
            "AllowHeaders": ["content-type", "x-client"],
            "ExposeHeaders": ["x-custom"],
        },
    )["ApiId"]
    refused = v2.create_api(
        Name="browser-no",
        ProtocolType="HTTP",
        Target=target,
        CorsConfiguration={"AllowOrigins": ["https://somewhere.else"], "AllowMethods": ["PUT"]},
    )["ApiId"]
    pages["/ok.html"] = PAGE % {"url": f"{gateway.url}/_aws/execute-api/{allowed}/things"}
    pages["/no.html"] = PAGE % {"url": f"{gateway.url}/_aws/execute-api/{refused}/things"}

    result = browse(f"{origin}/ok.html")
    assert "status=200" in result
    assert '"method":"PUT"' in result.replace(" ", "") and '"header":"page"' in result.replace(" ", "")
    assert "exposed=from-function" in result
    assert browse(f"{origin}/no.html") == "failed=TypeError"
