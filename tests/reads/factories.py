"""A trial with a double read: two readers, an adjudicator, and visits QC can accept."""
from __future__ import annotations

import datetime as dt
from typing import Any

from reads.models import ReadDesign
from reads.services import read_design_save
from tests.trials import factories as f
from trials.choices import Role, VisitState
from trials.models import Visit
from trials.services import visit_transition


def read_pool(world: Any) -> Any:
    """The second reader of trial A (`reader_b`), added once."""
    from django.contrib.auth.models import User

    existing = User.objects.filter(username="reader_b").first()
    return existing or f.member(world.trial, Role.READER, username="reader_b")


def double_read(world: Any, **options: Any) -> ReadDesign:
    """Trial A reads double: reader_a and reader_b, adjudicated by adjudicator_a."""
    world.reader2 = read_pool(world)
    return read_design_save(actor=world.admin, trial=world.trial, paradigm=options.pop("paradigm", "double"),
                            readers=options.pop("readers", ["reader_a", "reader_b"]),
                            adjudicators=options.pop("adjudicators", ["adjudicator_a"]), **options)


def accept(visit: Visit, *, actor: Any = None, scan_date: dt.date | None = None) -> Visit:
    """QC accepts the visit (received first if it was expected), as the QC services would."""
    visit.refresh_from_db()
    if visit.state == VisitState.EXPECTED:
        visit = visit_transition(actor=actor, visit=visit, state=VisitState.RECEIVED,
                                 scan_date=scan_date or dt.date.today())
    return visit_transition(actor=actor, visit=visit, state=VisitState.ACCEPTED, reason="QC accepted the visit")


def unaccept(visit: Visit, *, actor: Any = None) -> Visit:
    """New images arrive for an accepted visit (a re-upload QC asked for)."""
    visit.refresh_from_db()
    return visit_transition(actor=actor, visit=visit, state=VisitState.RECEIVED, reason="re-upload")
