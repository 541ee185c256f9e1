"""E-mails of the trials app."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from trials.models import Membership


def membership_invitation_send(*, membership_id: int) -> None:
    """Tell a newly invited person their role and give them a link to choose a password."""
    membership = Membership.objects.select_related("user", "trial", "site").get(pk=membership_id)
    user = membership.user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = settings.SITE_URL.rstrip("/") + reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    where = f" at site {membership.site.number}" if membership.site else ""
    send_mail(
        subject=f"[ICTMS] You have been added to {membership.trial.code}",
        message=(
            f"Hello {user.get_full_name() or user.username},\n\n"
            f"You have been given the role {membership.get_role_display()}{where} in trial {membership.trial.code} "
            f"({membership.trial.title}).\n\nYour user name is {user.username}. Choose your password here:\n{link}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
