"""The package input from the database: final cases only, both reads, the accepted flag, adjudications, dates."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reads.package.build import document_paths, write_read_documents
from reads.package.model import validate_trial
from reads.package.zipwriter import PackageZipWriter
from reads.package_source import package_input
from tests.reads.package_world import package_world
from tests.reads.test_adjudication import case, pd_slot  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_final_cases_map_onto_a_valid_package_input(world, case):  # noqa: F811
    cases = package_world(world, case)
    source = package_input(world.trial)
    trial = source.trial
    validate_trial(trial)
    assert trial.studyid == "TRIAL-A"
    assert [s.code for s in trial.subjects] == ["101-001", "101-003"]  # 101-004 is pending
    agreed, adjudicated = trial.subjects
    assert [r.slot for r in agreed.reads] == [1, 2]
    assert agreed.accepted_read(Decimal(2)).slot == 1 and agreed.accepted_read(Decimal(1)).slot == 1
    assert agreed.adjudication is None
    chosen = pd_slot(world, cases["101-003"])
    assert adjudicated.adjudication.selected_slot == chosen
    assert adjudicated.accepted_read(Decimal(2)).slot == chosen
    assert adjudicated.accepted_read(Decimal(2)).result(Decimal(2)).overall == "PD"
    w8 = agreed.timepoint(Decimal(2))
    assert (w8.visit, w8.scan_date, w8.modality) == ("Week 8", world.participant.visits.get(timepoint__code="W8").scan_date, "CT")
    assert agreed.treatment_start == world.participant.treatment_start_date
    measured = [o for o in agreed.reads[0].observations if o.image is not None]
    assert measured and all(o.long_axis_mm is not None and o.long_axis is not None for o in measured)
    new = [les for les in adjudicated.reads[chosen - 1].lesions if les.kind == "new"]
    assert len(new) == 1


def test_the_documents_of_the_mapped_trial_are_written(world, case):  # noqa: F811
    from reads.package_source import evidence_header, evidence_instances

    package_world(world, case, pending=False)
    source = package_input(world.trial)
    headers = {key: [evidence_header(i) for i in found]
               for key, found in evidence_instances(source).items()}
    with PackageZipWriter(io.BytesIO()) as writer:
        write_read_documents(writer, source.trial, evidence=lambda s, v: headers[(s.code, v)],
                             created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        assert [e.path for e in writer.entries] == document_paths(source.trial)


def test_cutoff_and_subjects_narrow_the_package(world, case):  # noqa: F811
    package_world(world, case, pending=False)
    assert [s.code for s in package_input(world.trial, subjects=["101-003"]).trial.subjects] == ["101-003"]
    today = dt.date.today()
    # 101-001: BL today-168, W8 today-112; 101-003: BL today-112, W8 today-56.
    assert package_input(world.trial, cutoff=today - dt.timedelta(days=150)).trial.subjects == ()
    assert [s.code for s in package_input(world.trial, cutoff=today - dt.timedelta(days=100)).trial.subjects] == ["101-001"]
    assert len(package_input(world.trial, cutoff=dt.date.today()).trial.subjects) == 2


def test_a_constant_number_of_queries(world, case):  # noqa: F811
    package_world(world, case, pending=False)
    with CaptureQueriesContext(connection) as two:
        package_input(world.trial)
    assert len(two) <= 12
    with CaptureQueriesContext(connection) as one:
        package_input(world.trial, subjects=["101-001"])
    assert len(one) == len(two)


def test_a_single_read_is_accepted_at_every_timepoint(world):
    from tests.reads.factories import double_read
    from tests.reads.package_world import imaged_subject
    from tests.reads.test_adjudication import _read

    double_read(world, paradigm="single", readers=["reader_a"])
    single = imaged_subject(world, "101-005")
    _read(world, single, world.reader, 20)
    trial = package_input(world.trial).trial
    validate_trial(trial)
    [subject] = trial.subjects
    [read] = subject.reads
    assert (subject.code, read.slot, read.accepted_visitnums) == ("101-005", 1, frozenset({Decimal(1), Decimal(2)}))
    assert subject.final_source(Decimal(2)) == "SINGLE READ"
