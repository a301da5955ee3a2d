"""Client libraries generated from a stage's OpenAPI export, as GetSdk returns them (a zip).

``javascript`` has the shape of API Gateway's own generated SDK (``apigClientFactory.newClient(config)``, one
method per operation, ``(params, body, additionalParams)``); ``typescript`` and ``python`` are typed clients of
apigate's own. All three are rendered from Jinja2 templates in ``templates/`` and need nothing at run time beyond
the platform (fetch and WebCrypto; Python's standard library).

The other types AWS offers (java, android, objectivec, swift, ruby) are made by OpenAPI Generator where it can
run (openapi_generator.py: the ``sdk`` extra and a Java runtime), and refused with AWS's BadRequestException
elsewhere.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import jinja2

from apigate.sdk.spec import Spec, read

__all__ = ["SDK_TYPES", "UNAVAILABLE", "generate", "read"]

SDK_TYPES: dict[str, dict[str, Any]] = {
    "javascript": {
        "id": "javascript",
        "friendlyName": "JavaScript",
        "description": "JavaScript SDK in the shape API Gateway generates (apigClient.js), for browsers and Node.js",
        "configurationProperties": [],
    },
    "typescript": {
        "id": "typescript",
        "friendlyName": "TypeScript",
        "description": "A typed TypeScript client (fetch and WebCrypto), with the stage's models as interfaces",
        "configurationProperties": [],
    },
    "python": {
        "id": "python",
        "friendlyName": "Python",
        "description": "A typed Python client (standard library only), with the stage's models as dataclasses",
        "configurationProperties": [],
    },
}
# AWS's other SDK types: OpenAPI Generator's where it runs here, BadRequestException elsewhere.
UNAVAILABLE = ("java", "android", "objectivec", "swift", "ruby")

_FILES: dict[str, tuple[str, dict[str, str | None]]] = {
    "javascript": ("apiGateway-js-sdk", {"apigClient.js": "apigClient.js.j2", "README.md": "README.md.j2"}),
    "typescript": ("apigate-ts-sdk", {"client.ts": "client.ts.j2", "README.md": "README.md.j2"}),
    "python": ("apigate-python-sdk", {"client.py": "client.py.j2", "py.typed": None, "README.md": "README.md.j2"}),
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("apigate.sdk", "templates"),
        autoescape=False,  # code, not HTML: literals go through the js/py filters below
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["js"] = lambda value: json.dumps(value, ensure_ascii=True)
    env.filters["py"] = repr
    return env


_ENV = _environment()


def render(sdk_type: str, spec: Spec, region: str) -> dict[str, str]:
    """The files of one SDK, by path inside the zip."""
    folder, files = _FILES[sdk_type]
    out = {}
    for name, template in files.items():
        rendered = _ENV.get_template(template).render(spec=spec, region=region, sdk_type=sdk_type) if template else ""
        out[f"{folder}/{name}"] = rendered
    return out


def generate(sdk_type: str, document: dict[str, Any], base_url: str, region: str) -> bytes:
    """The zip GetSdk returns for an OpenAPI 3 export of the stage."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in render(sdk_type, read(document, base_url), region).items():
            archive.writestr(name, text)
    return buffer.getvalue()
