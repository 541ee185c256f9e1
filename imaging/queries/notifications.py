"""E-mails of the imaging app: queries go to the people who must act next."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from imaging.choices import QueryAction
from imaging.models import Query
from trials.choices import Role
from trials.models import Membership

_TO_SITE = {QueryAction.RAISE, QueryAction.REOPEN, QueryAction.RESOLVE, QueryAction.CANCEL}
_VERB = {
    QueryAction.RAISE: "New query", QueryAction.REOPEN: "Query reopened", QueryAction.RESOLVE: "Query resolved",
    QueryAction.CANCEL: "Query withdrawn", QueryAction.ANSWER: "Query answered", QueryAction.AUTO_ANSWER: "Query answered by a re-upload",
}


def query_recipients(query: Query, action: str) -> list[str]:
    visit = query.visit
    if action in _TO_SITE:
        members = Membership.objects.filter(trial=visit.participant.trial_id, site=visit.participant.site_id,
                                            role=Role.SITE_COORDINATOR, is_active=True)
    else:
        members = Membership.objects.filter(trial=visit.participant.trial_id, role=Role.QC_ANALYST, is_active=True)
    return sorted({m.user.email for m in members.select_related("user") if m.user.email and m.user.is_active})


def query_notify(*, query_id: int, action: str) -> int:
    """Send the notification for one transition; returns how many e-mails went out."""
    query = Query.objects.select_related("visit__participant__trial", "visit__timepoint").get(pk=query_id)
    recipients = query_recipients(query, action)
    if not recipients:
        return 0
    visit = query.visit
    trial = visit.participant.trial
    last = query.messages.order_by("-created_at", "-id").first()
    link = settings.SITE_URL.rstrip("/") + reverse("imaging:query", kwargs={"code": trial.code, "query_id": query.pk})
    subject = f"[ICTMS {trial.code}] {_VERB.get(action, 'Query')}: {visit.participant.subject_code} {visit.timepoint.label}"
    body = (
        f"{_VERB.get(action, 'Query')} — {query.subject}\n\n"
        f"Participant {visit.participant.subject_code}, visit {visit.timepoint.label}. Due {query.due_date:%Y-%m-%d}.\n\n"
        f"{last.text if last else ''}\n\nOpen it: {link}\n"
    )
    return send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients])
