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


def imaged_case(world: Any, codes: tuple[str, ...] = ("BL", "W8", "W16"), *, slice_thickness: float = 2.5) -> Any:
    """A double read of 101-001 whose visits `codes` have a stored 3-slice CT series and are accepted
    (scan dates 8 weeks apart); returns the ReadCase."""
    from imaging.models import Instance
    from reads.models import ReadCase
    from tests.imaging.factories import make_series

    double_read(world)
    start = dt.date.today() - dt.timedelta(days=56 * len(codes))
    for i, code in enumerate(codes):
        visit = f.visit(world.participant, code)
        visit.scan_date = start + dt.timedelta(days=56 * i)
        visit.save()
        make_series(visit, n=3, rows=128, columns=128)
        Instance.objects.filter(series__study__visit=visit).update(slice_thickness=slice_thickness)
        accept(visit, actor=world.qc)
    return ReadCase.objects.get(participant=world.participant)


def measure(reader: Any, visit: Visit, length_mm: float, short_axis_mm: float | None = None) -> Any:
    """A caliper (or, with a short axis, a bidirectional) the reader draws in the viewer on one of the
    visit's images, through the measurement service (0.7 mm pixels: imaged_case's series)."""
    from imaging.models import Instance
    from imaging.viewer.measurements import measurement_create

    instance = Instance.objects.filter(series__study__visit=visit).order_by("instance_number").first()
    pixels = length_mm / 0.7
    points: list[list[float]] = [[2.0, 60.0], [2.0 + pixels, 60.0]]
    kind = "line"
    if short_axis_mm is not None:
        half = short_axis_mm / 1.4
        middle = 2.0 + pixels / 2
        points += [[middle, 60.0 - half], [middle, 60.0 + half]]
        kind = "bidirectional"
    return measurement_create(actor=reader, instance=instance, kind=kind, points=points)
