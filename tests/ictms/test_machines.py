"""Every state machine in the REGISTRY, walked pair by pair on a real saved row.

For each (state, target) pair, `audit.transitions.transition()` moves the row when the table
allows it (saved, audited, stamped in history) and otherwise raises InvalidTransition and
changes nothing: no save, no history row, no audit event. The database refuses a state the
machine does not declare (check constraint), and the historical tables do not carry it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, models, transaction

from audit.models import AuditEvent
from audit.transitions import transition
from ictms.lib.errors import InvalidTransition
from ictms.lib.states import REGISTRY, StateMachine
from imaging.models import Query, Series, Study, Submission, SubmissionFile
from tests.trials import factories as f

# Machines declared by tests of the machinery itself (tests/ictms/test_states.py) are not product machines.
TEST_PREFIX = "test_"


def _visit(world: Any) -> models.Model:
    return f.visit(world.participant, "BL")


def _submission(world: Any) -> models.Model:
    return Submission.objects.create(visit=_visit(world), opened_by=world.coordinator)


def _file(world: Any) -> models.Model:
    return SubmissionFile.objects.create(submission=_submission(world), ordinal=1)


def _series(world: Any) -> models.Model:
    submission = _submission(world)
    study = Study.objects.create(participant=world.participant, visit=submission.visit, study_uid="2.25.1")
    return Series.objects.create(study=study, series_uid="2.25.2", first_submission=submission)


def _query(world: Any) -> models.Model:
    return Query.objects.create(visit=_visit(world), subject="Slice thickness", due_date=dt.date(2026, 1, 31))


def _read_task(world: Any) -> models.Model:
    from reads.models import ReadAssignment, ReadCase, ReadTask

    case = ReadCase.objects.create(trial=world.trial, participant=world.participant, code="C-TEST01")
    assignment = ReadAssignment.objects.create(case=case, slot=1, reader=world.reader, order_key=1)
    return ReadTask.objects.create(assignment=assignment, visit=_visit(world))


def _reopen_request(world: Any) -> models.Model:
    from reads.models import ReopenRequest

    return ReopenRequest.objects.create(task=_read_task(world), requested_by=world.admin, reason="re-measure")


def _quality_query(world: Any) -> models.Model:
    from reads.models import QualityQuery

    return QualityQuery.objects.create(task=_read_task(world), raised_by=world.reader, message="blurred")


def _adjudication(world: Any) -> models.Model:
    from reads.models import Adjudication

    task = _read_task(world)
    return Adjudication.objects.create(case=task.assignment.case, round=1, up_to=1, adjudicator=world.adjudicator)


def _invitation(world: Any) -> models.Model:
    from django.utils import timezone

    from trials.models import Invitation

    return Invitation.objects.create(trial=world.trial, role="reader", email=world.outsider.email, user=world.outsider,
                                     invited_by=world.admin, expires_at=timezone.now())


def _read_package(world: Any) -> models.Model:
    from reads.models import ReadPackage

    return ReadPackage.objects.create(trial=world.trial, requested_by=world.sponsor)


# One saved row per machine (the machine's name -> how to make it).
ROWS: dict[str, Callable[[Any], models.Model]] = {
    "trial": lambda world: world.trial,
    "participant": lambda world: world.participant,
    "visit": _visit,
    "submission": _submission,
    "submission_file": _file,
    "series_qc": _series,
    "query": _query,
    "read_task": _read_task,
    "read_reopen": _reopen_request,
    "read_quality_query": _quality_query,
    "adjudication": _adjudication,
    "read_package": _read_package,
    "invitation": _invitation,
}


def _product_machines() -> dict[str, StateMachine]:
    return {name: machine for name, machine in REGISTRY.items() if not name.startswith(TEST_PREFIX)}


def test_every_registered_machine_is_walked_here():
    assert set(_product_machines()) == set(ROWS)


def _stored(obj: models.Model, field: str) -> str:
    return type(obj).objects.filter(pk=obj.pk).values_list(field, flat=True).get()


def _put(obj: models.Model, field: str, state: str) -> models.Model:
    """Set the row's state behind the machine's back (no history, no audit) and reload it."""
    type(obj).objects.filter(pk=obj.pk).update(**{field: state})
    return type(obj).objects.get(pk=obj.pk)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_pair_of_the_machine_moves_or_raises_and_changes_nothing(world, name):
    machine = REGISTRY[name]
    obj = ROWS[name](world)
    history = type(obj).history
    for current, target, allowed in machine.pairs():
        obj = _put(obj, machine.field, current)
        events, rows = AuditEvent.objects.count(), history.filter(id=obj.pk).count()
        if allowed:
            transition(machine, obj, target, actor=world.admin, trial=world.trial, reason=f"{current} to {target}")
            assert _stored(obj, machine.field) == target, (name, current, target)
            event = AuditEvent.objects.order_by("seq").last()
            assert AuditEvent.objects.count() == events + 1
            assert (event.action, event.target_id, event.actor) == (machine.audit_action, str(obj.pk), world.admin)
            assert event.changes == {machine.field: [current, target]}
            latest = history.filter(id=obj.pk).latest("history_id")
            assert history.filter(id=obj.pk).count() == rows + 1
            assert (latest.history_user, latest.history_change_reason) == (world.admin, f"{current} to {target}")
        else:
            with pytest.raises(InvalidTransition, match="Cannot go from"):
                transition(machine, obj, target, actor=world.admin, trial=world.trial, reason="not allowed")
            assert _stored(obj, machine.field) == current, (name, current, target)
            assert AuditEvent.objects.count() == events
            assert history.filter(id=obj.pk).count() == rows


@pytest.mark.parametrize("name", sorted(ROWS))
def test_the_database_refuses_a_state_the_machine_does_not_declare(world, name):
    machine = REGISTRY[name]
    obj = ROWS[name](world)
    model = type(obj)
    before = _stored(obj, machine.field)
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=obj.pk).update(**{machine.field: "bogus"})
    assert _stored(obj, machine.field) == before
    guard = machine.check_constraint().condition
    assert [c for c in model._meta.constraints if isinstance(c, models.CheckConstraint) and c.condition == guard]
    # simple-history copies fields, not constraints: old rows stay readable whatever the table becomes.
    assert not [c for c in model.history.model._meta.constraints if isinstance(c, models.CheckConstraint)]



def test_every_state_of_every_machine_has_its_label():
    for machine in _product_machines().values():
        assert set(machine.labels) == set(machine.states), machine.name
