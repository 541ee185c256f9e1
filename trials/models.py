"""Trials, sites, memberships, participants, the visit schedule, imaging requirements, visits."""
from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from trials.choices import (
    INVITATION_MACHINE,
    PARTICIPANT_MACHINE,
    TRIAL_MACHINE,
    VISIT_MACHINE,
    ContrastRule,
    InvitationState,
    Modality,
    ParticipantStatus,
    Role,
    TrialStatus,
    VisitState,
    VisitStatus,
)

trial_code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,31}$", "Use 2-32 upper-case letters, digits and hyphens (e.g. DEMO-ONC-301)."
)
site_number_validator = RegexValidator(r"^[0-9]{1,10}$", "A site number is digits only (e.g. 101).")
country_validator = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter ISO 3166 country code (e.g. DE).")
# DICOM AE titles: up to 16 characters of the default repertoire, no backslash, not all spaces.
ae_title_validator = RegexValidator(r"^[A-Za-z0-9_\-.]{1,16}$", "An AE title is 1-16 letters, digits, '_', '-' or '.'.")
timepoint_code_validator = RegexValidator(r"^[A-Za-z0-9_\-]{1,16}$", "Use 1-16 letters, digits, '_' or '-'.")


def _new_secret() -> str:
    return secrets.token_hex(32)


# Trial settings that another app interprets are validated by that app, which registers a check
# here when it is ready (imaging: the QC severity overrides), so trials imports no app above it.
SETTING_VALIDATORS: dict[str, Callable[[Any], object]] = {}
# The QC finding codes a trial may give another severity: (code, title, default severity), in
# imaging QC's order. Filled by imaging's AppConfig.ready from imaging.qc.rules.finding_registry.
QC_FINDINGS: list[tuple[str, str, str]] = []

class Trial(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[trial_code_validator])
    title = models.CharField(max_length=255)
    sponsor_name = models.CharField("sponsor", max_length=255)
    indication = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=TrialStatus.choices, default=TrialStatus.SETUP)
    subject_code_pattern = models.CharField(
        max_length=100,
        default=r"{site}-\d{3}",
        help_text=r"A regular expression every subject code must match in full; {site} stands for the site number. "
        r"Default: {site}-\d{3} (e.g. 101-001).",
    )
    blind_readers = models.BooleanField(
        default=True, help_text="Readers never see site, subject code, arm or real dates; images carry no site identity."
    )
    # De-identification settings (design.md: PS3.15 Basic Profile with per-trial options).
    deid_secret = models.CharField(max_length=64, default=_new_secret, editable=False)
    deid_date_shift_max_days = models.PositiveIntegerField(
        "maximum date shift (days)", default=3650,
        help_text="Each participant's dates move back by a secret random number of days (at least a year, at most this).",
    )
    deid_retain_patient_characteristics = models.BooleanField("retain patient characteristics", default=True)
    deid_retain_modified_dates = models.BooleanField("retain longitudinal dates (shifted)", default=True)
    deid_clean_descriptors = models.BooleanField("clean descriptors", default=True)
    deid_retain_device_identity = models.BooleanField("retain device identity", default=False)
    deid_private_tag_safe_list = models.JSONField(
        "private tags kept", default=list, blank=True,
        help_text='Private tags allowed through, as ["(0019,\\"GEMS_ACQU_01\\",xx0C)", ...] (group, creator, element).',
    )
    # Quality control and queries.
    qc_severity_overrides = models.JSONField(
        "QC severity overrides", default=dict, blank=True,
        help_text='Change how a QC finding is handled, e.g. {"burned_in_annotation": "blocking"} '
        "(blocking opens a query to the site; warning needs an analyst's look; info is shown only).",
    )
    scan_date_tolerance_days = models.PositiveSmallIntegerField(
        default=0, help_text="How many days the scan date on the transmittal may differ from the image headers."
    )
    query_due_days = models.PositiveSmallIntegerField(default=7, help_text="Days a site has to answer a query.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["deid_secret"])

    class Meta:
        ordering = ["code"]
        permissions = [
            ("manage_trial", "Set up the trial: sites, schedule, imaging protocol, members"),
            ("view_all_sites", "See every site's participants and visits"),
            ("view_participant_arm", "See the treatment arm (unblinded)"),
            ("view_audit_trail", "See and export the audit trail"),
            ("perform_qc", "Review images, run QC and manage queries"),
            ("read_images", "Read assigned cases, blinded"),
            ("adjudicate", "Adjudicate reader disagreements, blinded"),
            ("view_progress", "See trial progress and download read packages"),
        ]
        constraints = [TRIAL_MACHINE.check_constraint()]

    def __str__(self) -> str:
        return self.code

    @property
    def accepts_data(self) -> bool:
        """Sites enrol and send images while the trial is in set-up or active; locking freezes its data."""
        return self.status not in (TrialStatus.LOCKED, TrialStatus.CLOSED)

    def status_notice(self) -> str:
        """What the trial pages' banner says about the status ("" while active): TRIAL_STATUS_CONSEQUENCES."""
        from trials.choices import TRIAL_STATUS_CONSEQUENCES

        return "" if self.status == TrialStatus.ACTIVE else TRIAL_STATUS_CONSEQUENCES.get(self.status, "")

    def data_refusal(self, what: str) -> str:
        """Why `what` (e.g. "no images can be submitted") is refused, or "" while the trial accepts data."""
        return "" if self.accepts_data else f"{self.code} is {self.get_status_display().lower()}: {what}."

    def query_due_date(self, raised_on: dt.date) -> dt.date:
        """When a query raised on `raised_on` is due, unless QC sets another date."""
        return raised_on + dt.timedelta(days=self.query_due_days)

    def subject_code_regex(self, site_number: str) -> str:
        return self.subject_code_pattern.replace("{site}", re.escape(site_number))

    def subject_code_example(self, site_number: str) -> str | None:
        """A subject code of that site in this trial's format (e.g. 101-001); None for an own regular expression."""
        from trials.subject_codes import example

        return example(self.subject_code_pattern, site_number)

    def clean(self) -> None:
        try:
            re.compile(self.subject_code_regex("101"))
        except re.error as exc:
            raise ValidationError({"subject_code_pattern": f"Not a valid regular expression: {exc}"}) from exc
        for name, validate in SETTING_VALIDATORS.items():
            try:
                validate(getattr(self, name))
            except (ValueError, AttributeError) as exc:
                raise ValidationError({name: str(exc)}) from exc


class Site(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="sites")
    number = models.CharField(max_length=10, validators=[site_number_validator])
    name = models.CharField(max_length=255)
    country = models.CharField(max_length=2, validators=[country_validator])
    ae_title = models.CharField("DICOM AE title", max_length=16, blank=True, validators=[ae_title_validator])
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "number"]
        permissions = [
            ("view_site_data", "See this site's participants and visits"),
            ("enrol_participant", "Enrol participants at this site"),
            ("upload_images", "Upload images for this site's visits"),
            ("answer_queries", "Answer queries sent to this site"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "number"], name="site_number_unique_in_trial",
                violation_error_message="Another site of this trial already has this number. Choose another site number.",
            ),
            models.UniqueConstraint(
                fields=["trial", "ae_title"], condition=~Q(ae_title=""), name="site_ae_title_unique_in_trial",
                violation_error_message="Another site of this trial already uses this AE title: each site's DICOM "
                "node needs its own. Leave it blank or choose another.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "role", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "trial"], condition=Q(is_active=True), name="one_active_membership_per_trial",
                violation_error_message="This person is already a member of this trial. Change their role instead.",
            ),
            models.CheckConstraint(
                condition=(Q(role=Role.SITE_COORDINATOR, site__isnull=False) | (~Q(role=Role.SITE_COORDINATOR) & Q(site__isnull=True))),
                name="membership_site_iff_site_role",
                violation_error_message="A site coordinator works at one site (choose it); the other roles work "
                "for the whole trial (leave the site empty).",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid",
                                   violation_error_message="Choose one of the roles offered."),
        ]

    def __str__(self) -> str:
        where = f" @ {self.site.number}" if self.site_id and self.site else ""
        return f"{self.user} — {self.get_role_display()} in {self.trial}{where}"

    def clean(self) -> None:
        if self.role == Role.SITE_COORDINATOR and not self.site_id:
            raise ValidationError({"site": "A site coordinator belongs to one site: choose it."})
        if self.role != Role.SITE_COORDINATOR and self.site_id:
            raise ValidationError({"site": "Only site roles are tied to a site."})
        if self.site_id and self.trial_id and self.site.trial_id != self.trial_id:
            raise ValidationError({"site": "That site belongs to another trial."})


class Invitation(models.Model):
    """An existing account invited to a trial with a role; the membership exists once its owner accepts.

    The trial admin knows the invitation by its e-mail address and state only: `__str__` (the audit
    trail's object column) names neither the account's username nor its owner's name. The e-mailed
    link carries a signed token of the invitation's id (`trials.invitations`), so nothing secret is
    stored; the page it opens still refuses everyone but the invited account.
    """

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="invitations")
    role = models.CharField(max_length=32, choices=Role.choices)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trial_invitations")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=InvitationState.choices, default=InvitationState.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            INVITATION_MACHINE.check_constraint(),
            models.UniqueConstraint(
                fields=["user", "trial"], condition=Q(state=InvitationState.PENDING), name="one_pending_invitation_per_trial",
                violation_error_message="This address already has a pending invitation to this trial.",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid",
                                   violation_error_message="Choose one of the roles offered."),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.trial}"

    def is_expired(self, now: dt.datetime) -> bool:
        return self.state == InvitationState.EXPIRED or (self.state == InvitationState.PENDING and self.expires_at <= now)

    def shown_state(self, now: dt.datetime) -> str:
        """The state as pages and the API show it: a pending invitation past its time reads as expired."""
        return InvitationState.EXPIRED if self.is_expired(now) else self.state

    def shown_state_label(self, now: dt.datetime) -> str:
        return INVITATION_MACHINE.label(self.shown_state(now))


class Participant(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="participants")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    subject_code = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=ParticipantStatus.choices, default=ParticipantStatus.ENROLLED)
    consent_date = models.DateField(null=True, blank=True)
    treatment_start_date = models.DateField(null=True, blank=True)
    arm = models.CharField("treatment arm", max_length=64, blank=True)
    # The secret per-participant date offset used by de-identification (design.md).
    deid_date_offset_days = models.IntegerField(editable=False, default=0)
    # Keyed hash of the identifying header values of this participant's first images, so a scan
    # of another patient is refused later without the identity ever being stored.
    patient_key = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["deid_date_offset_days", "patient_key"])

    class Meta:
        ordering = ["trial", "subject_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "subject_code"], name="subject_code_unique_in_trial",
                violation_error_message="Another participant of this trial already has this subject code.",
            ),
            PARTICIPANT_MACHINE.check_constraint(),
        ]

    def __str__(self) -> str:
        return self.subject_code


class TimepointDefinition(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="timepoints")
    code = models.CharField(max_length=16, validators=[timepoint_code_validator])
    label = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField()
    nominal_day = models.IntegerField(
        null=True, blank=True, help_text="Day relative to treatment start (blank: event-driven, e.g. end of treatment)."
    )
    window_before = models.PositiveSmallIntegerField("window − (days)", default=0)
    window_after = models.PositiveSmallIntegerField("window + (days)", default=0)
    is_baseline = models.BooleanField(default=False)
    required = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "code"], name="timepoint_code_unique_in_trial",
                violation_error_message="Another timepoint of this trial already has this code. Choose another code.",
            ),
            models.UniqueConstraint(
                fields=["trial", "order"], name="timepoint_order_unique_in_trial",
                violation_error_message="Another timepoint of this trial is already at this position in the schedule. "
                "Choose another order number.",
            ),
            models.UniqueConstraint(
                fields=["trial"], condition=Q(is_baseline=True), name="one_baseline_per_trial",
                violation_error_message="This trial already has a baseline timepoint; a trial has only one. Untick "
                "“Is baseline” here, or on the current baseline first.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    def window(self, anchor: dt.date | None) -> tuple[dt.date, dt.date] | None:
        """First and last day of the visit window, or None without an anchor date or nominal day."""
        if anchor is None or self.nominal_day is None:
            return None
        nominal = anchor + dt.timedelta(days=self.nominal_day)
        return nominal - dt.timedelta(days=self.window_before), nominal + dt.timedelta(days=self.window_after)


class ImagingRequirement(models.Model):
    timepoint = models.ForeignKey(TimepointDefinition, on_delete=models.PROTECT, related_name="imaging_requirements")
    modality = models.CharField(max_length=4, choices=Modality.choices, default=Modality.CT)
    body_region = models.CharField(max_length=100, help_text="e.g. Chest/abdomen/pelvis")
    contrast = models.CharField(max_length=16, choices=ContrastRule.choices, default=ContrastRule.EITHER)
    max_slice_thickness_mm = models.DecimalField(
        "max slice thickness (mm)", max_digits=5, decimal_places=2, null=True, blank=True
    )
    min_pixel_spacing_mm = models.DecimalField("min pixel spacing (mm)", max_digits=5, decimal_places=3, null=True, blank=True)
    max_pixel_spacing_mm = models.DecimalField("max pixel spacing (mm)", max_digits=5, decimal_places=3, null=True, blank=True)
    min_slices = models.PositiveIntegerField(null=True, blank=True)
    required = models.BooleanField(default=True, help_text="A series meeting this requirement must be present.")
    body_part_keywords = models.CharField(
        max_length=255, blank=True,
        help_text="Comma-separated BodyPartExamined / series description words accepted (blank: derived from the body region).",
    )
    slice_gap_tolerance = models.DecimalField(
        "slice spacing tolerance", max_digits=4, decimal_places=3, default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("0.5"))],
        help_text="Relative tolerance on the distance between neighbouring slices (0.1 = 10 %).",
    )
    require_contiguous_slices = models.BooleanField(default=False, help_text="No gaps: spacing may not exceed thickness.")
    min_matrix = models.PositiveIntegerField("minimum matrix", null=True, blank=True, help_text="e.g. 512 (rows and columns)")
    min_coverage_mm = models.DecimalField("minimum coverage (mm)", max_digits=6, decimal_places=1, null=True, blank=True)
    allow_multiple_studies = models.BooleanField(default=False, help_text="More than one scan session per visit is expected.")
    other_rules = models.TextField("other acquisition rules", blank=True, help_text="Checked by the QC analyst by eye.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["timepoint", "id"]

    def __str__(self) -> str:
        return f"{self.get_modality_display()} {self.body_region}"

    def clean(self) -> None:
        if (
            self.min_pixel_spacing_mm is not None
            and self.max_pixel_spacing_mm is not None
            and self.min_pixel_spacing_mm > self.max_pixel_spacing_mm
        ):
            raise ValidationError({"max_pixel_spacing_mm": "The maximum is below the minimum."})


class Visit(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="visits")
    timepoint = models.ForeignKey(TimepointDefinition, on_delete=models.PROTECT, related_name="visits")
    state = models.CharField(max_length=16, choices=VisitState.choices, default=VisitState.EXPECTED)
    scan_date = models.DateField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    reupload_requested = models.BooleanField(
        default=False, help_text="QC asked the site to send images again, so uploads are accepted even after acceptance."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["participant", "timepoint__order"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "timepoint"], name="one_visit_per_timepoint"),
            VISIT_MACHINE.check_constraint(),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.timepoint.code}"

    def window(self) -> tuple[dt.date, dt.date] | None:
        return self.timepoint.window(self.participant.treatment_start_date)

    @property
    def takes_images(self) -> bool:
        """May new images be submitted for this visit (the trial's own lock is checked apart)?

        Until QC accepts it, yes; once accepted, only while a query asks for a re-upload; once
        read, never: the reads were made on the images as they were (bug B2 of issue #9).
        """
        if self.state == VisitState.READ:
            return False
        return self.state != VisitState.ACCEPTED or self.reupload_requested

    def image_refusal(self) -> str:
        """Why this visit takes no new images, in words for the site, or "" when it takes them.

        The trial's lock first, then `takes_images`. Needs the participant's trial (loaded or
        loadable). The uploader's permission is checked apart.
        """
        refusal = self.participant.trial.data_refusal("no images can be submitted")
        if refusal:
            return refusal
        if self.state == VisitState.READ:
            return "This visit has been read: it takes no new images."
        if not self.takes_images:
            return ("The images of this visit were already accepted by QC. Send new images only when QC asks for a "
                    "re-upload through a query.")
        return ""

    def status(self, today: dt.date) -> VisitStatus:
        """The status the visit grid shows on `today` (needs participant and timepoint loaded)."""
        if self.state != VisitState.EXPECTED:
            return VisitStatus(self.state)
        window = self.window()
        if window is None:
            return VisitStatus.NOT_SCHEDULED
        start, end = window
        if today < start:
            return VisitStatus.UPCOMING
        if today <= end:
            return VisitStatus.DUE
        return VisitStatus.OVERDUE
