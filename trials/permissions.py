"""Object permissions derived from memberships (django-guardian) and DRF permission helpers.

A membership is the only source of rights: `membership_permissions_sync` recomputes a user's
guardian permissions on a trial and its sites from their active membership. Nobody assigns
guardian permissions by hand.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from trials.choices import Role
from trials.models import Membership, Site, Trial

# Trial-level permission codenames per role ("trials." prefix omitted).
TRIAL_PERMS: dict[str, set[str]] = {
    Role.TRIAL_ADMIN: {
        "view_trial", "manage_trial", "view_all_sites", "view_participant_arm", "view_audit_trail", "view_progress",
    },
    Role.SITE_COORDINATOR: {"view_trial"},
    Role.QC_ANALYST: {"view_trial", "view_all_sites", "perform_qc"},
    Role.READER: {"view_trial", "read_images"},
    Role.ADJUDICATOR: {"view_trial", "adjudicate"},
    Role.SPONSOR: {"view_trial", "view_all_sites", "view_progress"},
    Role.AUDITOR: {"view_trial", "view_all_sites", "view_audit_trail"},
}
# Site-level permission codenames for roles tied to a site.
SITE_PERMS: dict[str, set[str]] = {
    Role.SITE_COORDINATOR: {"view_site_data", "enrol_participant", "upload_images", "answer_queries"},
}
ALL_TRIAL_PERMS = set().union(*TRIAL_PERMS.values())
ALL_SITE_PERMS = set().union(*SITE_PERMS.values())


def membership_permissions_sync(*, user: AbstractBaseUser, trial: Trial) -> None:
    """Make `user`'s object permissions on `trial` and its sites match their active membership."""
    membership = Membership.objects.filter(user=user, trial=trial, is_active=True).first()
    wanted_trial = TRIAL_PERMS.get(membership.role, set()) if membership else set()
    for codename in set(get_perms(user, trial)) & (ALL_TRIAL_PERMS - wanted_trial):
        remove_perm(f"trials.{codename}", user, trial)
    for codename in wanted_trial:
        assign_perm(f"trials.{codename}", user, trial)
    wanted_site = SITE_PERMS.get(membership.role, set()) if membership else set()
    for site in Site.objects.filter(trial=trial):
        keep = wanted_site if membership and membership.site_id == site.pk else set()
        for codename in set(get_perms(user, site)) & (ALL_SITE_PERMS - keep):
            remove_perm(f"trials.{codename}", user, site)
        for codename in keep:
            assign_perm(f"trials.{codename}", user, site)
