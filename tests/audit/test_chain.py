"""The audit trail is a keyed hash chain with checkpoints outside the database: verify_audit, with no
argument, finds any row altered, deleted or re-hashed, and the newest rows removed or the table truncated."""
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
def events(world, django_capture_on_commit_callbacks):
    for i in range(5):
        # One transaction per event, as in the app: each commit checkpoints the new head.
        with django_capture_on_commit_callbacks(execute=True):
            audit_record(actor=world.admin, action=AuditAction.TRIAL_UPDATE, target=world.trial, trial=world.trial,
                         data={"i": i})
    return list(AuditEvent.objects.order_by("seq"))


def test_an_intact_trail_verifies(events, capsys, settings):
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert f"intact: {len(events)} events verified" in out
    assert f"Checkpoints: 5 matched in {settings.AUDIT_CHECKPOINT_FILE} (newest #{events[-1].seq})" in out


def test_every_commit_checkpoints_the_head_outside_the_database(events, settings):
    lines = settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()
    assert [line.split()[:2] for line in lines] == [[str(e.seq), e.hash] for e in events[-5:]]


def test_a_rolled_back_event_leaves_no_checkpoint(events, world, settings, django_capture_on_commit_callbacks):
    from django.db import transaction

    before = settings.AUDIT_CHECKPOINT_FILE.read_text()

    def failing_action() -> None:
        with transaction.atomic():
            audit_record(actor=world.admin, action=AuditAction.TRIAL_UPDATE, target=world.trial, trial=world.trial)
            raise RuntimeError("the action failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_action()
    assert settings.AUDIT_CHECKPOINT_FILE.read_text() == before
    call_command("verify_audit")


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
    with pytest.raises(CommandError, match=rf"event #{victim.seq + 1} .*#{victim.seq} is missing"):
        call_command("verify_audit")


def test_a_rehashed_forgery_still_breaks_the_link(events):
    # An attacker who recomputes the victim's own hash still breaks the next event's link.
    victim = AuditEvent.objects.get(pk=events[1].pk)
    victim.reason = "forged"
    new_hash = victim.compute_hash()
    _sql("UPDATE {table} SET reason = %s, hash = %s WHERE id = %s", ["forged", new_hash, victim.pk])
    with pytest.raises(CommandError, match=f"event #{events[2].seq} "):
        call_command("verify_audit")


def test_removing_the_newest_event_is_caught_without_an_anchor(events):
    head = events[-1].seq
    _sql("DELETE FROM {table} WHERE id = %s", [events[-1].pk])
    with pytest.raises(CommandError, match=rf"events after #{head - 1} are missing \(a checkpoint .* says #{head} existed\)"):
        call_command("verify_audit")


def test_truncating_the_whole_trail_is_caught(events):
    _sql("DELETE FROM {table}", [])
    with pytest.raises(CommandError, match="events after #0 are missing"):
        call_command("verify_audit")


def test_an_anchor_kept_elsewhere_is_checked_too(events, capsys, settings):
    call_command("verify_audit")
    anchor = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    assert anchor == f"{events[-1].seq}:{events[-1].hash}"
    settings.AUDIT_CHECKPOINT_FILE.unlink()  # the checkpoint file lost as well: the anchor still tells
    _sql("DELETE FROM {table} WHERE id = %s", [events[-1].pk])
    call_command("verify_audit")
    assert "WARNING: no checkpoint file" in capsys.readouterr().out
    with pytest.raises(CommandError, match=f"the anchor recorded outside the database says #{events[-1].seq} existed"):
        call_command("verify_audit", expect_head=anchor)


def _rehash_from(first_seq: int, hasher) -> None:
    """What an attacker with database access does after an edit: recompute every hash and link from there on."""
    from audit.models import GENESIS_HASH

    prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq"):
        if event.seq < first_seq:
            prev = event.hash
            continue
        event.prev_hash = prev
        new_hash = hasher(event)
        _sql("UPDATE {table} SET prev_hash = %s, hash = %s WHERE id = %s", [prev, new_hash, event.pk])
        prev = new_hash


def test_a_full_rehash_without_the_key_is_caught(events):
    _sql("UPDATE {table} SET reason = %s WHERE id = %s", ["forged", events[1].pk])
    _rehash_from(1, AuditEvent.unkeyed_hash)
    with pytest.raises(CommandError, match=r"event #1 .*unkeyed hash"):
        call_command("verify_audit")


def test_a_full_rehash_with_the_key_is_caught_by_the_checkpoints(events):
    # Even someone who has the audit key cannot make the chain pass through the heads recorded outside.
    victim = events[-4]
    _sql("UPDATE {table} SET reason = %s WHERE id = %s", ["forged", victim.pk])
    _rehash_from(victim.seq, AuditEvent.compute_hash)
    with pytest.raises(CommandError, match=rf"event #{victim.seq} .*differs from the checkpoint"):
        call_command("verify_audit")


def test_hashes_are_keyed(events, settings):
    assert events[0].hash != events[0].unkeyed_hash()
    settings.AUDIT_HMAC_KEY = "another key"
    with pytest.raises(CommandError, match=r"event #1 .*another audit key"):
        call_command("verify_audit")


def test_events_from_before_keyed_hashing_verify_only_up_to_the_configured_seq(events, settings, capsys):
    settings.AUDIT_CHECKPOINT_FILE.unlink()  # an installation upgraded from before checkpoints and keys
    _rehash_from(1, AuditEvent.unkeyed_hash)
    with pytest.raises(CommandError, match=r"event #1 .*AUDIT_UNKEYED_UNTIL"):
        call_command("verify_audit")
    head = events[-1].seq
    settings.AUDIT_UNKEYED_UNTIL = head
    call_command("verify_audit")
    assert f"{head} events written before keyed hashing" in capsys.readouterr().out
    settings.AUDIT_UNKEYED_UNTIL = head - 1
    with pytest.raises(CommandError, match=rf"event #{head} .*unkeyed hash"):
        call_command("verify_audit")


def test_a_damaged_checkpoint_file_is_named(events, settings):
    with settings.AUDIT_CHECKPOINT_FILE.open("a") as f:
        f.write("not a checkpoint\n")
    with pytest.raises(CommandError, match=r"checkpoint file is damaged: .*line 6"):
        call_command("verify_audit")


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
