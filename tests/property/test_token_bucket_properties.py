"""The memory token bucket under random acquisition sequences, time injected through ``now``.

Two properties: a bucket never admits more than ``burst + rate * elapsed`` (elapsed from its first use), and a
request drawing on several buckets takes a token from each or from none. The second is checked against an
exact reference (fractions), fed times and rates that are exact in binary floating point, so the two agree
to the last bit or not at all.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from apigate.state import Limit, MemoryRateLimiter

# Multiples of 1/4 up to a few thousand: sums and products of these are exact in a float.
quarters = st.integers(min_value=0, max_value=4_000).map(lambda n: n / 4)
rates = st.integers(min_value=0, max_value=400).map(lambda n: n / 4)
bursts = st.integers(min_value=0, max_value=40)


@settings(max_examples=300, deadline=None)
@given(
    rate=st.floats(min_value=0.0, max_value=1_000.0, allow_nan=False),
    burst=st.integers(min_value=0, max_value=100),
    steps=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=50.0, allow_nan=False), st.integers(1, 30)),
        min_size=1,
        max_size=40,
    ),
)
def test_never_more_than_burst_plus_refill(rate: float, burst: int, steps: list[tuple[float, int]]) -> None:
    limiter = MemoryRateLimiter()
    limit = Limit("k", rate, burst)
    now, first, admitted = 1_000.0, None, 0
    for gap, count in steps:
        now += gap
        for _ in range(count):
            if limiter.acquire_nowait((limit,), now).allowed:
                admitted += 1
                first = now if first is None else first
        if first is not None:
            bound = burst + rate * (now - first)
            assert admitted <= math.floor(bound * (1 + 1e-12) + 1e-9), (admitted, bound)


class Reference:
    """Token buckets as AWS describes them, in exact arithmetic: refill lazily, charge all or nothing."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[Fraction, Fraction]] = {}  # key -> (tokens, last update)

    def acquire(self, limits: list[Limit], now: float) -> str | None:
        """None when admitted, else the key of the first bucket without a token."""
        at = Fraction(now)
        available: list[Fraction] = []
        for limit in limits:
            burst = Fraction(limit.burst)
            if limit.key not in self.buckets:
                tokens = burst
            else:
                tokens, last = self.buckets[limit.key]
                tokens = min(burst, tokens + max(Fraction(0), at - last) * Fraction(limit.rate))
            if tokens < 1:
                return limit.key
            available.append(tokens)
        for limit, tokens in zip(limits, available, strict=True):
            last = self.buckets[limit.key][1] if limit.key in self.buckets else at
            self.buckets[limit.key] = (tokens - 1, max(last, at))
        return None


@settings(max_examples=150, deadline=None)
@given(
    pool=st.lists(st.tuples(rates, bursts), min_size=1, max_size=4),
    steps=st.lists(
        st.tuples(quarters, st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True)), max_size=60
    ),
)
def test_matches_the_exact_reference(
    pool: list[tuple[float, int]], steps: list[tuple[float, list[int]]]
) -> None:
    """Times need not increase (clocks of several processes): a step back refills nothing."""
    limits = [Limit(f"k{i}", rate, burst) for i, (rate, burst) in enumerate(pool)]
    limiter, reference = MemoryRateLimiter(), Reference()
    for now, picks in steps:
        chosen = [limits[i % len(limits)] for i in picks]
        chosen = list({limit.key: limit for limit in chosen}.values())
        result = limiter.acquire_nowait(chosen, now)
        expected = reference.acquire(chosen, now)
        assert (result.allowed, None if result.allowed else result.limited_by) == (expected is None, expected)
