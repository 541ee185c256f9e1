"""Balanced reader assignment, per-reader case order and blinded case codes (pure: no Django).

reads.md: in a double read every case goes to two distinct readers of the pool; reader loads
differ by at most one case; each reader's case order is randomized but deterministic, from a
seed stored per reader; case codes are random, never derived from subject code, site or order.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

R = TypeVar("R", bound=Hashable)

# Crockford's base 32 without I, L, O, U: nothing a reader could misread when quoting a case.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 6  # 32**6 ≈ 10^9 codes per trial: unguessable, and short enough to say aloud


def new_case_code(taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A fresh random code such as `C-7K3Q9X`, not in `taken`."""
    while True:
        code = "C-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def new_seed() -> int:
    """A reader's order seed (stored, so their worklist order never changes under them)."""
    return secrets.randbits(62)


def choose_readers(loads: Mapping[R, int], count: int, *, rng: random.Random) -> list[R]:
    """The `count` distinct readers with the smallest loads, ties broken by `rng`.

    Giving every new case to the least-loaded readers keeps max(load) - min(load) <= 1 across
    the pool whenever it held before (it holds for an empty pool). The first reader returned is
    Reader 1 of the case. Raises ValueError when the pool has fewer than `count` readers.
    """
    if count < 1:
        raise ValueError("A case needs at least one reader.")
    if len(loads) < count:
        raise ValueError(f"The reader pool has {len(loads)} reader(s); this read design needs {count}.")
    tiebreak = {reader: rng.random() for reader in sorted(loads, key=repr)}
    ranked = sorted(loads, key=lambda reader: (loads[reader], tiebreak[reader]))
    return ranked[:count]


def order_key(seed: int, case_code: str) -> int:
    """Where `case_code` falls in the worklist of the reader with `seed` (smaller comes first).

    A keyed hash: the same seed and code always give the same place, and different readers'
    seeds give unrelated orders, none of them following enrolment or site.
    """
    digest = hashlib.sha256(f"{seed}:{case_code}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits a signed 64-bit column


def reading_order(items: Sequence[tuple[dt.date | None, int]]) -> list[int]:
    """Indices of `items` in reading order: scan date first, then the schedule's order.

    Each item is (scan date or None, schedule order). Timepoints are read in scan date
    order (recist-1.1.md §10.3: unscheduled scans included); a visit with no scan date yet falls
    where its schedule order puts it among the others.
    """
    dated = sorted((i for i, item in enumerate(items) if item[0] is not None),
                   key=lambda i: (items[i][0] or dt.date.min, items[i][1]))
    undated = sorted((i for i, item in enumerate(items) if item[0] is None), key=lambda i: items[i][1])
    result: list[int] = []
    for i in undated:  # slot each undated visit in after the dated ones of an earlier schedule order
        while dated and items[dated[0]][1] < items[i][1]:
            result.append(dated.pop(0))
        result.append(i)
    return result + dated
