"""The audit trail is a hash chain: verify_audit finds any row altered or deleted in the database."""
from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.actions import AuditAction
from audit.models import AuditEvent, AuditTamperError
from audit.services import audit_record


@pytest.fixture
def events(world):
    for i in range(5):
        audit_record(actor=world.admin, action=AuditAction.TRIAL_UPDATE, target=world.trial, trial=world.trial, data={"i": i})
    return list(AuditEvent.objects.order_by("seq"))


def test_an_intact_trail_verifies(events, capsys):
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out


def test_each_event_links_to_its_predecessor(events):
    for prev, event in itertools.pairwise(events):
        assert event.prev_hash == prev.hash and event.seq == prev.seq + 1
        assert event.hash == event.compute_hash()


def _sql(statement: str, params: list) -> None:
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(statement.format(table=table), params)


@pytest.mark.parametrize("column,value", [
    ("reason", "forged reason"), ("action", "participant.enrol"), ("actor_username", "someone_else"),
    ("target_repr", "999-999"), ("ip", "10.9.9.9"),
])
def test_an_altered_row_is_named(events, column, value):
    victim = events[len(events) // 2]
    _sql(f"UPDATE {{table}} SET {column} = %s WHERE id = %s", [value, victim.pk])
    with pytest.raises(CommandError, match=f"event #{victim.seq} "):
        call_command("verify_audit")


def test_altered_json_is_detected(events):
    victim = events[2]
    _sql("UPDATE {table} SET data = %s WHERE id = %s", ['{"i": 99}', victim.pk])
    with pytest.raises(CommandError, match=f"event #{victim.seq} "):
        call_command("verify_audit")


def test_a_deleted_row_is_named(events):
    victim = events[2]
    _sql("DELETE FROM {table} WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match=f"event #{victim.seq + 1} .*#{victim.seq} is missing"):
        call_command("verify_audit")


def test_a_rehashed_forgery_still_breaks_the_link(events):
    # An attacker who recomputes the victim's own hash still breaks the next event's link.
    victim = AuditEvent.objects.get(pk=events[1].pk)
    victim.reason = "forged"
    new_hash = victim.compute_hash()
    _sql("UPDATE {table} SET reason = %s, hash = %s WHERE id = %s", ["forged", new_hash, victim.pk])
    with pytest.raises(CommandError, match=f"event #{events[2].seq} "):
        call_command("verify_audit")


def test_removing_the_newest_events_is_caught_with_an_anchor(events, capsys):
    call_command("verify_audit")
    anchor = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    _sql("DELETE FROM {table} WHERE id = %s", [events[-1].pk])
    call_command("verify_audit")  # without the anchor a truncated chain is self-consistent
    with pytest.raises(CommandError, match="missing"):
        call_command("verify_audit", expect_head=anchor)


def test_the_app_cannot_change_or_delete_events(events):
    event = events[0]
    event.reason = "edited"
    with pytest.raises(AuditTamperError):
        event.save()
    with pytest.raises(AuditTamperError):
        event.delete()
    with pytest.raises(AuditTamperError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(AuditTamperError):
        AuditEvent.objects.all().delete()


def test_the_admin_is_read_only(events, rf, django_user_model):
    from django.contrib.admin.sites import site as admin_site

    model_admin = admin_site._registry[AuditEvent]
    request = rf.get("/")
    request.user = django_user_model.objects.create_superuser("root", "root@example.org", "x-very-long-pw-1")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, events[0])
    assert not model_admin.has_delete_permission(request, events[0])


def test_the_client_ip_is_recorded(world, api):
    from trials.models import Membership

    m = Membership.objects.get(user=world.qc, trial=world.trial)
    api(world.admin).post(f"/api/memberships/{m.pk}/remove/", {"reason": "left"}, format="json", REMOTE_ADDR="10.1.2.3")
    assert AuditEvent.objects.filter(action="membership.remove").last().ip == "10.1.2.3"
