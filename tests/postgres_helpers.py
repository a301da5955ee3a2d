"""PostgreSQL for the cluster tests: the machine's server (.ci/run starts it), a fresh database per use."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def require_postgres() -> None:
    """Fail loudly, not skip, when PostgreSQL is absent: the cluster mode is tested for real."""
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise AssertionError(f"PostgreSQL is not answering at {SERVER_URL}: start it (see .ci/run)") from exc


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a database created for this use and dropped afterwards (connections and all)."""
    require_postgres()
    name = f"apigate_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
