"""Balanced assignment, per-reader order and case codes: properties over any pool and case count."""
from __future__ import annotations

import datetime as dt
import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from reads.assignment import CODE_ALPHABET, choose_readers, new_case_code, order_key, reading_order


def _assign_all(pool: int, cases: int, per_case: int, seed: int) -> tuple[dict[int, int], list[list[int]]]:
    loads = dict.fromkeys(range(pool), 0)
    picks = []
    for case in range(cases):
        chosen = choose_readers(loads, per_case, rng=random.Random(f"{seed}:{case}"))
        for reader in chosen:
            loads[reader] += 1
        picks.append(chosen)
    return loads, picks


@settings(max_examples=150, deadline=None)
@given(pool=st.integers(2, 12), cases=st.integers(0, 200), per_case=st.sampled_from([1, 2]), seed=st.integers())
def test_loads_differ_by_at_most_one_and_each_case_has_distinct_readers(pool, cases, per_case, seed):
    loads, picks = _assign_all(pool, cases, per_case, seed)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert sum(loads.values()) == cases * per_case
    assert all(len(set(p)) == per_case for p in picks)


@settings(max_examples=50, deadline=None)
@given(pool=st.integers(2, 8), cases=st.integers(1, 60), seed=st.integers())
def test_assignment_is_deterministic_per_seed(pool, cases, seed):
    assert _assign_all(pool, cases, 2, seed) == _assign_all(pool, cases, 2, seed)


@settings(max_examples=50, deadline=None)
@given(pool=st.integers(2, 8), cases=st.integers(1, 30), seed=st.integers())
def test_balance_holds_when_the_pool_grows(pool, cases, seed):
    """A reader added to the pool takes the next cases until the loads are even again."""
    loads, _ = _assign_all(pool, cases, 2, seed)
    loads[pool] = 0
    for case in range(cases):
        for reader in choose_readers(loads, 2, rng=random.Random(f"{seed}:more:{case}")):
            loads[reader] += 1
    spread = max(loads.values()) - min(loads.values())
    assert spread <= max(1, (cases * 2 + pool) // (pool + 1))  # converging, never worse than before


def test_a_pool_too_small_is_refused():
    import pytest

    with pytest.raises(ValueError, match="needs 2"):
        choose_readers({"a": 0}, 2, rng=random.Random(0))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**62), codes=st.lists(st.text(CODE_ALPHABET, min_size=6, max_size=6), min_size=2,
                                                  max_size=30, unique=True))
def test_each_readers_order_is_a_stable_permutation_and_differs_between_seeds(seed, codes):
    first = sorted(codes, key=lambda c: order_key(seed, c))
    assert first == sorted(codes, key=lambda c: order_key(seed, c))
    assert all(0 <= order_key(seed, c) < 2**63 for c in codes)


def test_different_seeds_give_different_orders():
    codes = [f"C-{i:06d}" for i in range(30)]
    orders = {tuple(sorted(codes, key=lambda c, s=s: order_key(s, c))) for s in range(5)}
    assert len(orders) == 5
    assert tuple(codes) not in orders  # not enrolment order


def test_case_codes_are_random_unique_and_readable():
    taken: set[str] = set()
    for _ in range(500):
        code = new_case_code(taken)
        assert re.fullmatch(r"C-[0-9A-HJKMNP-TV-Z]{6}", code) and code not in taken
        taken.add(code)


def test_reading_order_follows_scan_dates_with_undated_visits_in_schedule_place():
    d = dt.date
    items = [(d(2024, 3, 1), 2), (None, 4), (d(2024, 2, 1), 3), (d(2024, 5, 1), 5)]
    # Scan dates first (an unscheduled scan earlier than its schedule slot is read first).
    assert reading_order(items) == [2, 0, 1, 3]
