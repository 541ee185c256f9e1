"""The audit action vocabulary: audit_record takes only AuditAction members, stored as plain strings."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit.actions import AuditAction
from audit.models import AuditEvent
from audit.services import audit_record, audit_record_many
from imaging.choices import QueryAction
from imaging.queries.services import _AUDIT_ACTIONS

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_an_unknown_action_is_refused_and_nothing_is_written(world):
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError, match=r"trial\.updated"):
        audit_record(actor=world.admin, action="trial.updated", target=world.trial, trial=world.trial)
    assert AuditEvent.objects.count() == before


def test_one_unknown_action_in_a_batch_writes_none_of_it(world):
    before = AuditEvent.objects.count()
    good = {"actor": world.admin, "action": AuditAction.TRIAL_UPDATE, "target": world.trial, "trial": world.trial}
    with pytest.raises(ValueError):
        audit_record_many([good, {**good, "action": "trial.udpate"}])
    assert AuditEvent.objects.count() == before


def test_the_stored_action_is_the_plain_string_and_the_chain_verifies(world):
    event = audit_record(actor=world.admin, action=AuditAction.TRIAL_UPDATE, target=world.trial, trial=world.trial)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "trial.update" and type(stored.action) is str
    assert stored.hash == stored.compute_hash()


def test_a_known_action_given_as_a_string_is_accepted(world):
    """Strings already in the trail keep working (e.g. read back from a state machine's table)."""
    event = audit_record(actor=world.admin, action="trial.update", target=world.trial, trial=world.trial)
    assert event.action == AuditAction.TRIAL_UPDATE


def test_every_action_is_an_object_and_a_verb_spelled_once():
    pattern = re.compile(r"^[a-z_]+\.[a-z_]+$")
    assert all(pattern.match(value) for value in AuditAction.values), AuditAction.values
    assert len(set(AuditAction.values)) == len(AuditAction.values)
    assert len({label for _value, label in AuditAction.choices}) == len(AuditAction.choices)


def test_every_step_of_a_query_thread_has_its_audit_action():
    assert set(_AUDIT_ACTIONS) == set(QueryAction)
    assert {a.value for a in _AUDIT_ACTIONS.values()} == {f"query.{step}" for step in QueryAction.values}


def test_production_code_passes_audit_actions_not_string_literals():
    literal = re.compile(r"""\baction=f?["'][a-z_]+\.""")
    offenders = []
    for app in ("audit", "trials", "imaging", "reads", "ictms"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if literal.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
