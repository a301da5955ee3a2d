"""Trace sampling as X-Ray's default rule: the first request of each second, then a share of the others."""

from __future__ import annotations

import time

from apigate.observe.tracing import Tracing


def test_first_of_each_second_then_the_ratio() -> None:
    never = Tracing("http://127.0.0.1:9", ratio=0.0)
    always = Tracing("http://127.0.0.1:9", ratio=1.0)
    try:
        started = time.monotonic()
        draws = [never.sampled() for _ in range(2000)]
        seconds = int(time.monotonic()) - int(started) + 1
        assert draws[0] is True
        assert 1 <= sum(draws) <= seconds  # one per second at most, nothing else
        assert all(always.sampled() for _ in range(100))
        # A later second's first request is traced again (the export thread refills the reservoir).
        deadline = time.monotonic() + 5
        while not never.sampled():
            assert time.monotonic() < deadline, "no reservoir request in a later second"
    finally:
        never.close()
        always.close()
