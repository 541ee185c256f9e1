"""E-mails of the trials app."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from trials.models import Invitation, Membership


def _link(url_name: str, **kwargs: str) -> str:
    """An absolute link for an e-mail, on the public address (SITE_URL)."""
    return settings.SITE_URL.rstrip("/") + reverse(url_name, kwargs=kwargs)


def _mail(user: Any, address: str, subject: str, body: str) -> None:
    """One e-mail to `address`, greeting `user` by name."""
    send_mail(subject=subject, message=f"Hello {user.get_full_name() or user.username},\n\n{body}",
              from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[address])


def membership_invitation_send(*, membership_id: int) -> None:
    """Tell a newly invited person their role and give them a link to choose a password."""
    membership = Membership.objects.select_related("user", "trial", "site").get(pk=membership_id)
    user = membership.user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = _link("password_reset_confirm", uidb64=uid, token=token)
    where = f" at site {membership.site.number}" if membership.site else ""
    _mail(user, user.email, f"[ICTMS] You have been added to {membership.trial.code}",
          f"You have been given the role {membership.get_role_display()}{where} in trial {membership.trial.code} "
          f"({membership.trial.title}).\n\nYour user name is {user.username}. Choose your password here:\n{link}\n")


def invitation_send(*, invitation_id: int) -> None:
    """Tell the owner of an existing account that a trial admin invites them, with the link to accept or decline."""
    from trials.choices import InvitationState
    from trials.selectors import invitation_token

    invitation = Invitation.objects.select_related("user", "trial", "site", "invited_by").get(pk=invitation_id)
    if invitation.state != InvitationState.PENDING:
        return  # revoked (or answered) before the e-mail went out
    user = invitation.user
    inviter = invitation.invited_by.get_full_name() or invitation.invited_by.get_username()
    link = _link("trials:invitation", token=invitation_token(invitation))
    where = f" at site {invitation.site.number}" if invitation.site else ""
    _mail(user, invitation.email, f"[ICTMS] Invitation to {invitation.trial.code}",
          f"{inviter} invites you to trial {invitation.trial.code} ({invitation.trial.title}) with the role "
          f"{invitation.get_role_display()}{where}.\n\nYou become a member only if you accept. Log in as "
          f"{user.username} and accept or decline here (the link works until {invitation.expires_at:%Y-%m-%d}):\n"
          f"{link}\n\nIf you did not expect this, decline it or ignore this message.\n")
