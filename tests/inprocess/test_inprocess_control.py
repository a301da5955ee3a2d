"""Management operations are module-level functions named after the AWS operation: called here directly with a
ControlContext over a SQLite store in a temporary folder (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from apigate.aws.errors import AwsError
from apigate.config import Settings
from apigate.control import rest_apis, validators
from apigate.control.context import ControlContext
from apigate.registry import Registry
from apigate.store.sqlite import SqliteStore


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ControlContext]:
    store = SqliteStore(tmp_path / "apigate.db")
    yield ControlContext(Settings(data_dir=tmp_path), store, Registry(), None)  # type: ignore[arg-type]
    store.close()


def test_request_validator_operations(ctx: ControlContext) -> None:
    api = asyncio.run(rest_apis.create_rest_api(ctx, {"name": "pets"}))
    created = asyncio.run(
        validators.create_request_validator(
            ctx, {"restApiId": api["id"], "name": "body", "validateRequestBody": True}
        )
    )
    key = {"restApiId": api["id"], "requestValidatorId": created["id"]}
    assert asyncio.run(validators.get_request_validator(ctx, key)) == created
    asyncio.run(validators.delete_request_validator(ctx, key))
    with pytest.raises(AwsError):
        asyncio.run(validators.get_request_validator(ctx, key))


def test_the_wire_table_binds_the_same_functions(ctx: ControlContext) -> None:
    table = validators.handlers(ctx)
    assert table["CreateRequestValidator"].func is validators.create_request_validator  # type: ignore[attr-defined]
