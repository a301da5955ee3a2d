"""PostgreSQL for the cluster tests: the machine's server (.ci/run starts it), a fresh database per use."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


class Cuttable:
    """A TCP forwarder to PostgreSQL that a test can cut (every connection dropped, new ones refused at once)
    and mend: a network partition of whoever connects through it."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        import socket
        import threading

        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._open: set[Any] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database_url: str) -> str:
        return database_url.replace("127.0.0.1:5432", f"127.0.0.1:{self.port}")

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            server = socket.create_connection(self._target)
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()

    def cut(self) -> None:
        import socket

        self._cut.set()
        with self._lock:
            for end in self._open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def mend(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self.cut()
        self._listener.close()
