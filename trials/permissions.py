"""Object permissions derived from memberships (django-guardian) and DRF permission helpers.

A membership is the only source of rights: `membership_permissions_sync` recomputes a user's
guardian permissions on a trial and its sites from their active membership. Nobody assigns
guardian permissions by hand.
"""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from guardian.models import UserObjectPermission

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


def _permission_ids() -> dict[str, int]:
    """Codename -> Permission id for the trial and site permissions we manage (two content types)."""
    trial_ct = ContentType.objects.get_for_model(Trial)
    site_ct = ContentType.objects.get_for_model(Site)
    rows = Permission.objects.filter(
        Q(content_type=trial_ct, codename__in=ALL_TRIAL_PERMS) | Q(content_type=site_ct, codename__in=ALL_SITE_PERMS)
    ).values_list("codename", "content_type_id", "id")
    return {f"{'trial' if ct == trial_ct.pk else 'site'}.{codename}": pk for codename, ct, pk in rows}


def membership_permissions_sync(*, user: AbstractBaseUser, trial: Trial) -> None:
    """Make `user`'s object permissions on `trial` and its sites match their active membership.

    Computed as a set difference and written in bulk (a handful of queries whatever the number
    of sites); only the permissions listed above are touched.
    """
    membership = Membership.objects.filter(user=user, trial=trial, is_active=True).only("role", "site_id").first()
    role = membership.role if membership else None
    trial_ct = ContentType.objects.get_for_model(Trial)
    site_ct = ContentType.objects.get_for_model(Site)
    ids = _permission_ids()
    wanted: set[tuple[int, int, str]] = {(ids[f"trial.{c}"], trial_ct.pk, str(trial.pk)) for c in TRIAL_PERMS.get(role, set())}
    if membership and membership.site_id:
        wanted |= {(ids[f"site.{c}"], site_ct.pk, str(membership.site_id)) for c in SITE_PERMS.get(role, set())}
    site_pks = [str(pk) for pk in Site.objects.filter(trial=trial).values_list("pk", flat=True)]
    managed = set(ids.values())
    existing = {
        (row.permission_id, row.content_type_id, row.object_pk): row.pk
        for row in UserObjectPermission.objects.filter(
            Q(content_type=trial_ct, object_pk=str(trial.pk)) | Q(content_type=site_ct, object_pk__in=site_pks),
            user=user, permission_id__in=managed,
        )
    }
    stale = [pk for key, pk in existing.items() if key not in wanted]
    if stale:
        UserObjectPermission.objects.filter(pk__in=stale).delete()
    missing = wanted - set(existing)
    if missing:
        UserObjectPermission.objects.bulk_create(
            UserObjectPermission(user=user, permission_id=perm, content_type_id=ct, object_pk=obj) for perm, ct, obj in missing
        )
