"""The ARNs apigate writes: ``execute-api`` (what policies and authorizers are evaluated against) and Lambda's."""

from __future__ import annotations


def execute_api_prefix(region: str, account_id: str, api_id: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}``: what ``execute-api:/…`` shorthand resources expand to."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}"


def execute_api_arn(region: str, account_id: str, api_id: str, stage: str, rest: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{rest}``; ``rest`` is ``{VERB}/{path}``, a WebSocket
    route key (``$connect``) or ``{VERB}/@connections/{id}``."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{rest}"


def method_arn(region: str, account_id: str, api_id: str, stage: str, verb: str, segments: list[str]) -> str:
    """``…/{stage}/{VERB}/{path}`` for a canonical path (request_path.py): the one a request is authorized as."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{verb}/{'/'.join(segments)}"


def lambda_function_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"
