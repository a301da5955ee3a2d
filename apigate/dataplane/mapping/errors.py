"""Errors raised by the mapping-template engine."""

from __future__ import annotations


class TemplateError(Exception):
    """A template that cannot be parsed (message carries line and column), or one that failed to render."""


class TemplateRenderError(TemplateError):
    """A render-time failure (a Java-style exception in a method call, a body that is not JSON, ...).

    AWS answers these with a 500; the pipeline translates this one exception.
    """
