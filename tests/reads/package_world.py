"""A trial with final double reads for package tests: an agreement, an adjudicated case and a pending one.

- 101-001 (the world's participant): both readers agree (PR at W8); Reader 1's read is reported.
- 101-003: a disagreement (PR vs PD with a new liver lesion) the adjudicator decides for reader_b.
- 101-004: the same disagreement, still open: pending, so never in a package.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from reads.adjudication import adjudication_decide
from reads.models import Adjudication, ReadCase
from tests.reads.factories import accept
from tests.reads.test_adjudication import _read, pd_slot
from tests.trials import factories as f

PASSWORD = f.PASSWORD


def imaged_subject(world: Any, code: str, slices: int = 2, size: int = 128) -> ReadCase:
    """A new participant of site 101 whose BL and W8 (56 days apart) have a stored CT of `slices` slices of
    `size`² pixels and are accepted."""
    from tests.imaging.factories import make_series

    p = f.participant(world.coordinator, world.site, code)
    start = dt.date.today() - dt.timedelta(days=112)
    for i, tp in enumerate(("BL", "W8")):
        visit = f.visit(p, tp)
        visit.scan_date = start + dt.timedelta(days=56 * i)
        visit.save()
        make_series(visit, n=slices, rows=size, columns=size)
        accept(visit, actor=world.qc)
    return ReadCase.objects.get(participant=p)


def package_world(world: Any, agreed: ReadCase, *, pending: bool = True) -> dict[str, ReadCase]:
    """Sign the reads described in the module docstring on top of test_adjudication's `case` fixture
    (101-001, imaged BL/W8/W16, double read); returns the cases by subject code."""
    _read(world, agreed, world.reader, 20)
    _read(world, agreed, world.reader2, 22)
    adjudicated = imaged_subject(world, "101-003")
    _read(world, adjudicated, world.reader, 20)
    _read(world, adjudicated, world.reader2, 41, new="unequivocal")
    round_ = Adjudication.objects.get(case=adjudicated)
    adjudication_decide(actor=round_.adjudicator, adjudication=round_, selected=pd_slot(world, adjudicated),
                        reason_code="new_lesion_call", rationale="The liver lesion is new.", password=PASSWORD)
    cases = {"101-001": agreed, "101-003": adjudicated}
    if pending:
        open_case = imaged_subject(world, "101-004")
        _read(world, open_case, world.reader, 20)
        _read(world, open_case, world.reader2, 41, new="unequivocal")
        cases["101-004"] = open_case
    return cases
