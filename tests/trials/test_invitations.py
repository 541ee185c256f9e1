"""Adding an existing account to a trial is an invitation its owner accepts (issue #19).

The inviting admin knows the invitation by its e-mail address and state only: no page, API
response, message or audit event shown to them carries the account's username or full name.
Only the invited account, logged in, can accept or decline; expired, revoked, declined and
accepted invitations cannot be accepted (again); the admin of another trial sees nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, InvalidTransition, NotFoundError, PermissionDeniedError
from tests.trials import factories as f
from trials import services
from trials.choices import InvitationState, Role
from trials.models import Invitation, Membership
from trials.selectors import invitation_token

# The invited account: its username and names appear nowhere in its e-mail address.
USERNAME, FIRST, LAST, EMAIL = "jdoe_private", "Janet", "Secretname", "j.d@elsewhere.example.org"
SECRETS = (USERNAME, FIRST, LAST)


@pytest.fixture
def invitee(world):
    return f.UserFactory(username=USERNAME, first_name=FIRST, last_name=LAST, email=EMAIL)


def invite(world, role=Role.SITE_COORDINATOR, site="default", email=EMAIL):
    site = world.site if site == "default" else site
    outcome = services.membership_invite(actor=world.admin, trial=world.trial, email=email, role=role,
                                         site=site if role == Role.SITE_COORDINATOR else None)
    assert outcome.membership is None
    return outcome.invitation


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def assert_no_account_details(text):
    for secret in SECRETS:
        assert secret not in text, secret


def test_inviting_an_existing_account_creates_a_pending_invitation_and_emails_its_owner(
        world, invitee, mailoutbox, django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "https://ictms.example.org"
    settings.INVITATION_EXPIRY_DAYS = 3
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(world)
    assert (invitation.state, invitation.user, invitation.invited_by, invitation.role, invitation.site) == (
        InvitationState.PENDING, invitee, world.admin, Role.SITE_COORDINATOR, world.site)
    assert invitation.expires_at - invitation.created_at == pytest.approx(dt.timedelta(days=3), abs=dt.timedelta(seconds=5))
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()
    assert not invitee.has_perm("trials.upload_images", world.site)
    [mail] = mailoutbox
    assert mail.to == [EMAIL] and "TRIAL-A" in mail.subject
    link = re.search(r"https://ictms\.example\.org/invitations/([^/\s]+)/", mail.body)
    assert link and link.group(1) == invitation_token(invitation)
    [event] = events("invitation.create")
    assert event.actor == world.admin and event.target_id == str(invitation.pk)
    assert event.changes["email"] == [None, EMAIL] and event.changes["state"] == [None, "pending"]
    assert_no_account_details(json.dumps([event.target_repr, event.changes, event.data]))
    assert invitation.history.count() == 1


def test_the_invitee_accepts_and_becomes_a_member_with_the_invited_role(world, invitee):
    invitation = invite(world)
    membership = services.invitation_accept(actor=invitee, invitation=invitation)
    assert (membership.user, membership.role, membership.site, membership.is_active) == (
        invitee, Role.SITE_COORDINATOR, world.site, True)
    invitee = type(invitee).objects.get(pk=invitee.pk)
    assert invitee.has_perm("trials.upload_images", world.site)
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.ACCEPTED and invitation.membership == membership
    assert invitation.decided_at is not None
    [accepted] = events("invitation.accept")
    assert accepted.actor == invitee and accepted.changes["state"] == ["pending", "accepted"]
    assert events("membership.create")[-1].actor == invitee
    assert invitation.history.latest("history_id").history_user == invitee


@pytest.mark.parametrize("persona", ["admin", "qc", "outsider", "admin_b"])
def test_nobody_else_can_accept_or_decline_it(world, invitee, persona):
    invitation = invite(world)
    before = AuditEvent.objects.count()
    with pytest.raises(NotFoundError):
        services.invitation_accept(actor=world.user(persona), invitation=invitation)
    with pytest.raises(NotFoundError):
        services.invitation_decline(actor=world.user(persona), invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.PENDING and AuditEvent.objects.count() == before
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()
    assert not Membership.objects.filter(user=world.user(persona), trial=world.trial, role=Role.SITE_COORDINATOR,
                                         site=world.site).exclude(user=world.coordinator).exists()


def test_a_double_accept_changes_nothing(world, invitee):
    invitation = invite(world)
    services.invitation_accept(actor=invitee, invitation=invitation)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition, match="already been accepted"):
        services.invitation_accept(actor=invitee, invitation=invitation)
    assert AuditEvent.objects.count() == before
    assert Membership.objects.filter(user=invitee, trial=world.trial).count() == 1


def test_an_expired_invitation_cannot_be_accepted_and_is_marked_expired(world, invitee):
    invitation = invite(world)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    before = AuditEvent.objects.count()
    with pytest.raises(DomainError, match="expired"):
        services.invitation_accept(actor=invitee, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.PENDING and AuditEvent.objects.count() == before
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()
    assert invitation.shown_state(timezone.now()) == InvitationState.EXPIRED

    assert services.invitations_expire() == 1
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.EXPIRED
    [expired] = events("invitation.expire")
    assert expired.actor is None and expired.changes == {"state": ["pending", "expired"]}
    assert services.invitations_expire() == 0
    with pytest.raises(InvalidTransition):
        services.invitation_accept(actor=invitee, invitation=invitation)


def test_a_pending_invitation_not_yet_due_is_left_alone_by_the_expiry(world, invitee):
    invitation = invite(world)
    assert services.invitations_expire() == 0
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.PENDING


def test_a_revoked_invitation_cannot_be_accepted(world, invitee):
    invitation = invite(world)
    services.invitation_revoke(actor=world.admin, invitation=invitation, reason="wrong person")
    [revoked] = events("invitation.revoke")
    assert revoked.actor == world.admin and revoked.reason == "wrong person"
    with pytest.raises(InvalidTransition, match="revoked"):
        services.invitation_accept(actor=invitee, invitation=invitation)
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()
    with pytest.raises(InvalidTransition):
        services.invitation_revoke(actor=world.admin, invitation=invitation)


def test_a_declined_invitation_gives_no_membership_and_cannot_be_accepted_later(world, invitee):
    invitation = invite(world, role=Role.READER)
    services.invitation_decline(actor=invitee, invitation=invitation, reason="not my trial")
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.DECLINED
    assert events("invitation.decline")[-1].reason == "not my trial"
    with pytest.raises(InvalidTransition):
        services.invitation_accept(actor=invitee, invitation=invitation)
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()


@pytest.mark.parametrize("persona,error", [
    ("admin_b", NotFoundError), ("outsider", NotFoundError), ("qc", PermissionDeniedError),
    ("coordinator", PermissionDeniedError),
])
def test_only_the_trials_admin_may_revoke(world, invitee, persona, error):
    invitation = invite(world)
    with pytest.raises(error):
        services.invitation_revoke(actor=world.user(persona), invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.PENDING
    assert not events("invitation.revoke")


def test_one_pending_invitation_per_address_and_trial(world, invitee):
    first = invite(world)
    with pytest.raises(DomainError, match="already has a pending invitation") as exc:
        invite(world, role=Role.READER)
    assert_no_account_details(str(exc.value))
    services.invitation_revoke(actor=world.admin, invitation=first)
    second = invite(world, role=Role.READER)
    assert second.pk != first.pk and second.state == InvitationState.PENDING


def test_a_pending_invitation_past_its_time_is_replaced_by_a_new_one(world, invitee):
    first = invite(world)
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    second = invite(world)
    first.refresh_from_db()
    assert first.state == InvitationState.EXPIRED and second.state == InvitationState.PENDING


def test_inviting_a_member_names_the_address_not_the_account(world):
    with pytest.raises(DomainError) as exc:
        services.membership_invite(actor=world.admin, trial=world.trial, email=world.qc.email, role=Role.SPONSOR)
    assert world.qc.email in str(exc.value)
    assert not Invitation.objects.exists()


def test_a_non_admin_cannot_invite(world, invitee):
    with pytest.raises(PermissionDeniedError):
        services.membership_invite(actor=world.qc, trial=world.trial, email=EMAIL, role=Role.READER)
    with pytest.raises(NotFoundError):
        services.membership_invite(actor=world.admin_b, trial=world.trial, email=EMAIL, role=Role.READER)
    assert not Invitation.objects.exists()


# --- pages ------------------------------------------------------------------------------------------

def test_the_admin_sees_the_address_and_state_only(world, invitee, page_client):
    client = page_client(world.admin)
    r = client.post("/t/TRIAL-A/members/", {"email": EMAIL, "role": Role.READER}, follow=True)
    text = r.content.decode()
    assert r.status_code == 200 and f"An invitation was e-mailed to {EMAIL}" in text
    assert 'id="invitations"' in text and "Pending" in text
    assert_no_account_details(text)
    for url in ("/t/TRIAL-A/audit/", "/t/TRIAL-A/audit/export.csv"):
        r = client.get(url)
        body = b"".join(r.streaming_content) if getattr(r, "streaming", False) else r.content
        assert r.status_code == 200, url
        assert_no_account_details(body.decode())


def test_the_invitee_sees_it_at_home_and_accepts_on_its_page(world, invitee, page_client):
    invitation = invite(world, role=Role.READER)
    services.membership_invite(actor=world.admin_b, trial=world.other_trial, email=EMAIL, role=Role.AUDITOR)
    client = page_client(invitee)
    home = client.get("/").content.decode()
    token = invitation_token(invitation)
    assert 'id="pending-invitations"' in home and f"/invitations/{token}/" in home and "TRIAL-B" in home
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and 'value="accept"' in page.content.decode()
    r = client.post(f"/invitations/{token}/", {"decision": "accept"})
    assert r.status_code == 302 and r.url == "/t/TRIAL-A/"
    assert Membership.objects.get(user=invitee, trial=world.trial).role == Role.READER
    r = client.post(f"/invitations/{token}/", {"decision": "accept"}, follow=True)
    assert "already been accepted" in r.content.decode()
    assert Membership.objects.filter(user=invitee, trial=world.trial).count() == 1


def test_a_member_of_one_trial_with_an_invitation_is_not_sent_past_it(world, page_client):
    invitation = services.membership_invite(actor=world.admin_b, trial=world.other_trial, email=world.qc.email,
                                            role=Role.AUDITOR).invitation
    r = page_client(world.qc).get("/")
    assert r.status_code == 200 and f"/invitations/{invitation_token(invitation)}/" in r.content.decode()


def test_the_invitee_declines_on_its_page(world, invitee, page_client):
    invitation = invite(world, role=Role.READER)
    r = page_client(invitee).post(f"/invitations/{invitation_token(invitation)}/", {"decision": "decline"})
    assert r.status_code == 302
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.DECLINED
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()


@pytest.mark.parametrize("persona", ["admin", "outsider", "admin_b"])
def test_someone_else_with_the_link_gets_404_and_changes_nothing(world, invitee, page_client, persona):
    invitation = invite(world)
    url = f"/invitations/{invitation_token(invitation)}/"
    client = page_client(world.user(persona))
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "accept"}).status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.PENDING
    assert not events("invitation.accept")
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()


def test_the_link_needs_a_login_and_a_genuine_token(world, invitee, page_client):
    invitation = invite(world)
    token = invitation_token(invitation)
    r = page_client().get(f"/invitations/{token}/")
    assert r.status_code == 302 and "/accounts/login/" in r.url
    client = page_client(invitee)
    assert client.get(f"/invitations/{token[:-2]}xx/").status_code == 404
    other = Invitation.objects.create(trial=world.other_trial, role=Role.READER, email="x@example.org", user=world.outsider,
                                      invited_by=world.admin_b, expires_at=invitation.expires_at)
    assert client.get(f"/invitations/{invitation_token(other)}/").status_code == 404


def test_an_expired_invitation_page_refuses_accepting(world, invitee, page_client):
    invitation = invite(world)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    client = page_client(invitee)
    url = f"/invitations/{invitation_token(invitation)}/"
    page = client.get(url).content.decode()
    assert "expired" in page and 'value="accept"' not in page
    r = client.post(url, {"decision": "accept"}, follow=True)
    assert "expired" in r.content.decode()
    assert not Membership.objects.filter(user=invitee, trial=world.trial).exists()


@pytest.mark.parametrize("persona,status", [("admin", 302), ("qc", 403), ("admin_b", 404), (None, 302)])
def test_revoke_from_the_members_page(world, invitee, page_client, persona, status):
    invitation = invite(world)
    client = page_client(world.user(persona) if persona else None)
    r = client.post(f"/t/TRIAL-A/members/invitations/{invitation.pk}/revoke/")
    assert r.status_code == status
    invitation.refresh_from_db()
    assert invitation.state == (InvitationState.REVOKED if persona == "admin" else InvitationState.PENDING)
    if persona is None:
        assert "/accounts/login/" in r.url


def test_revoke_of_another_trials_invitation_through_this_trial_is_404(world, invitee, page_client):
    other = services.membership_invite(actor=world.admin_b, trial=world.other_trial, email=EMAIL,
                                       role=Role.READER).invitation
    assert page_client(world.admin).post(f"/t/TRIAL-A/members/invitations/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.state == InvitationState.PENDING


# --- API --------------------------------------------------------------------------------------------

def test_the_api_answers_an_invitation_with_the_address_only(world, invitee, api):
    r = api(world.admin).post("/api/memberships/", {"trial": "TRIAL-A", "email": EMAIL, "role": "reader"}, format="json")
    assert r.status_code == 202, r.content
    body = r.json()
    assert body["email"] == EMAIL and body["state"] == "pending" and body["role"] == "reader"
    assert not {"username", "full_name", "user"} & set(body)
    assert_no_account_details(r.content.decode())
    listed = api(world.admin).get("/api/invitations/?trial=TRIAL-A")
    assert [row["email"] for row in listed.json()["results"]] == [EMAIL]
    assert_no_account_details(listed.content.decode())
    audit = api(world.admin).get("/api/audit-events/?trial=TRIAL-A&action=invitation.create")
    assert audit.status_code == 200 and EMAIL in audit.content.decode()
    assert_no_account_details(audit.content.decode())


def test_a_new_address_still_creates_the_account_at_once(world, api):
    r = api(world.admin).post("/api/memberships/", {"trial": "TRIAL-A", "email": "brand.new@example.org",
                                                    "role": "reader"}, format="json")
    assert r.status_code == 201 and r.json()["username"] == "brand.new"
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("persona,visible", [
    ("admin", True), ("invitee", True), ("qc", False), ("admin_b", False), ("outsider", False),
])
def test_invitations_are_listed_to_the_trials_admin_and_the_invitee(world, invitee, api, persona, visible):
    invitation = invite(world)
    user = invitee if persona == "invitee" else world.user(persona)
    rows = api(user).get("/api/invitations/").json()["results"]
    assert [row["id"] for row in rows] == ([invitation.pk] if visible else [])
    assert api(user).get(f"/api/invitations/{invitation.pk}/").status_code == (200 if visible else 404)


def test_invitations_need_authentication(world, invitee, api):
    invitation = invite(world)
    assert api().get("/api/invitations/").status_code == 401
    assert api().post(f"/api/invitations/{invitation.pk}/accept/").status_code == 401


@pytest.mark.parametrize("persona,status", [("admin", 404), ("outsider", 404), ("admin_b", 404), ("invitee", 200)])
def test_accept_through_the_api(world, invitee, api, persona, status):
    invitation = invite(world, role=Role.READER)
    user = invitee if persona == "invitee" else world.user(persona)
    r = api(user).post(f"/api/invitations/{invitation.pk}/accept/")
    assert r.status_code == status, r.content
    assert Membership.objects.filter(user=invitee, trial=world.trial).exists() == (status == 200)
    if status == 200:
        assert api(invitee).post(f"/api/invitations/{invitation.pk}/accept/").status_code == 409


@pytest.mark.parametrize("persona,status", [("admin", 200), ("qc", 404), ("admin_b", 404), ("invitee", 404)])
def test_revoke_through_the_api(world, invitee, api, persona, status):
    invitation = invite(world)
    user = invitee if persona == "invitee" else world.user(persona)
    r = api(user).post(f"/api/invitations/{invitation.pk}/revoke/", {"reason": "typo"}, format="json")
    assert r.status_code == status, r.content
    invitation.refresh_from_db()
    assert invitation.state == (InvitationState.REVOKED if status == 200 else InvitationState.PENDING)


def test_decline_through_the_api(world, invitee, api):
    invitation = invite(world)
    assert api(world.admin).post(f"/api/invitations/{invitation.pk}/decline/").status_code == 404
    r = api(invitee).post(f"/api/invitations/{invitation.pk}/decline/", {}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "declined"
