"""Builders for the QC page and API tests: visits in QC with series, findings and queries, without files.

The upload pipeline is exercised elsewhere (test_qc_pipeline, the browser and worker tests);
list pages only need the rows, and building them directly keeps the suite fast.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from pydicom.uid import generate_uid

from imaging.models import QcFinding, Query, Series, Study, Submission
from imaging.queries.services import query_answer, query_raise
from tests.trials import factories as f
from trials.models import Participant, Visit


def received(visit: Visit, *, days_ago: int = 3, state: str = "received") -> Visit:
    visit.state = state
    visit.received_at = timezone.now() - dt.timedelta(days=days_ago)
    visit.save()
    return visit


def quick_series(visit: Visit, number: int = 1, *, modality: str = "CT", description: str = "CAP 2.5MM",
                 uploader: Any = None) -> Series:
    """A Series row (no instances) in the visit's study."""
    study = Study.objects.filter(visit=visit).first() or Study.objects.create(
        participant=visit.participant, visit=visit, study_uid=str(generate_uid(prefix=None)),
        study_date=dt.date(2020, 1, 1))
    submission = Submission.objects.create(visit=visit, opened_by=uploader or f.UserFactory(username="uploader"),
                                           state="done")
    return Series.objects.create(study=study, series_uid=str(generate_uid(prefix=None)), modality=modality,
                                 series_number=number, description=description, first_submission=submission)


def finding(visit: Visit, series: Series | None, *, code: str = "slice_thickness_exceeded", severity: str = "blocking",
            current: bool = True, details: dict | None = None) -> QcFinding:
    return QcFinding.objects.create(
        visit=visit, series=series, code=code, key=f"{code}::{series.series_uid if series else ''}:", severity=severity,
        message=f"Series {series.series_number if series else ''}: {code.replace('_', ' ')}.", is_current=current,
        details=details if details is not None else {"measured_mm": 7.0, "expected_max_mm": 5.0},
    )


def auto_query(visit: Visit, found: QcFinding) -> Query:
    return query_raise(actor=None, visit=visit, subject=found.message, message=found.message, category="acquisition",
                       series=found.series, is_automatic=True, cause_key=found.key)


def qc_visit(participant: Participant, code: str = "BL", *, n_series: int = 2, days_ago: int = 3, qc: Any = None,
             coordinator: Any = None, modality: str = "CT") -> Visit:
    """A received visit with series, a blocking finding with its automatic query, and (given the
    people) a manual query the site has answered."""
    visit = received(f.visit(participant, code), days_ago=days_ago)
    series = [quick_series(visit, i + 1, modality=modality) for i in range(n_series)]
    auto_query(visit, finding(visit, series[0]))
    finding(visit, series[-1], code="contrast_uncertain", severity="warning")
    if qc is not None:
        manual = query_raise(actor=qc, visit=visit, subject="Missing slices?", message="Please check slices 40-45.",
                             series=series[-1])
        if coordinator is not None:
            query_answer(actor=coordinator, query=manual, message="Re-sent.")
    return visit


def grow_trial(world: Any, n: int, *, start: int = 100) -> None:
    """n more participants at each site of trial A, each with visits in QC, queries and an accepted visit."""
    today = dt.date.today()
    for i in range(n):
        for coordinator, site in ((world.coordinator, world.site), (world.other_coordinator, world.other_site)):
            p = f.participant(coordinator, site, f"{site.number}-{start + i:03d}",
                              treatment_start=today - dt.timedelta(days=100))
            qc_visit(p, "BL", qc=world.qc, coordinator=coordinator, days_ago=10 + i)
            accepted = received(f.visit(p, "W8"), state="accepted")
            quick_series(accepted, 1)
