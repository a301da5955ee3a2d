"""Mapping templates: the Velocity (VTL) engine with API Gateway's ``$input``, ``$util`` and ``$context``."""

from __future__ import annotations

from apigate.dataplane.mapping.errors import TemplateError, TemplateRenderError
from apigate.dataplane.mapping.input import InputVariable
from apigate.dataplane.mapping.util import UTIL, Util
from apigate.dataplane.mapping.vtl import Template, render_mapping
from apigate.dataplane.mapping.vtl_runtime import MAX_FOREACH

__all__ = [
    "MAX_FOREACH",
    "UTIL",
    "InputVariable",
    "Template",
    "TemplateError",
    "TemplateRenderError",
    "Util",
    "render_mapping",
]
