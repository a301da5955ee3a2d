"""The change feed every store keeps: which documents each committed transaction wrote, by version.

A host serving the configuration remembers the version it last applied and asks for the changes after it,
so the work of following a change is the size of the change, not of everything stored. The history is
pruned to the last ``KEEP`` versions; a host further behind (down for a long while) reloads everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apigate.store.base import Change

KEEP = 10_000  # versions of history kept
PRUNE_EVERY = 500  # a committing transaction whose version is a multiple of this prunes older history


def collect(version: int, rows: Iterable[tuple[Any, ...]]) -> tuple[int, list[Change]]:
    """(seq, kind, key, parent) rows, in order, as the version they reach and their distinct changes."""
    reached = version
    seen: dict[Change, None] = {}
    for seq, kind, key, parent in rows:
        reached = max(reached, int(seq))
        seen[Change(kind, key, parent)] = None
    return reached, list(seen)
