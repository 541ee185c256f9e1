"""Serializers of the trials API. Output serializers list their fields; inputs validate shape only."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from trials.choices import ContrastRule, Modality, ParticipantStatus, Role, TrialStatus
from trials.models import (
    ImagingRequirement,
    Invitation,
    Membership,
    Participant,
    Site,
    TimepointDefinition,
    Trial,
    Visit,
)


class TrialOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = [
            "code", "title", "sponsor_name", "indication", "status", "subject_code_pattern", "blind_readers",
            "deid_date_shift_max_days", "deid_retain_patient_characteristics", "deid_retain_modified_dates",
            "deid_clean_descriptors", "deid_retain_device_identity", "deid_private_tag_safe_list", "qc_severity_overrides",
            "scan_date_tolerance_days", "query_due_days", "created_at",
        ]


class TrialInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = [
            "code", "title", "sponsor_name", "indication", "subject_code_pattern", "blind_readers",
            "deid_date_shift_max_days", "deid_retain_patient_characteristics", "deid_retain_modified_dates",
            "deid_clean_descriptors", "deid_retain_device_identity", "deid_private_tag_safe_list", "qc_severity_overrides",
            "scan_date_tolerance_days", "query_due_days",
        ]
        # Uniqueness and format are checked by the service (full_clean), so errors read the same everywhere.
        extra_kwargs = {"code": {"validators": []}}


class TrialStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TrialStatus.choices)
    reason = serializers.CharField(help_text="why; required (a blank reason is refused with 400)")


class SiteOutputSerializer(serializers.ModelSerializer):
    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Site
        fields = ["id", "trial", "number", "name", "country", "ae_title", "is_active"]


class SiteInputSerializer(serializers.Serializer):
    trial = serializers.CharField(help_text="trial code (create only)", required=False)
    number = serializers.CharField(max_length=10, required=False)
    name = serializers.CharField(max_length=255, required=False)
    country = serializers.CharField(max_length=2, required=False)
    ae_title = serializers.CharField(max_length=16, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class ImagingRequirementOutputSerializer(serializers.ModelSerializer):
    timepoint = serializers.IntegerField(source="timepoint_id", read_only=True)

    class Meta:
        model = ImagingRequirement
        fields = [
            "id", "timepoint", "modality", "body_region", "contrast", "max_slice_thickness_mm", "min_pixel_spacing_mm",
            "max_pixel_spacing_mm", "min_slices", "required", "other_rules", "body_part_keywords", "slice_gap_tolerance",
            "require_contiguous_slices", "min_matrix", "min_coverage_mm", "allow_multiple_studies",
        ]


class ImagingRequirementInputSerializer(serializers.Serializer):
    timepoint = serializers.IntegerField(required=False, help_text="timepoint id (create only)")
    modality = serializers.ChoiceField(choices=Modality.choices, required=False)
    body_region = serializers.CharField(max_length=100, required=False)
    contrast = serializers.ChoiceField(choices=ContrastRule.choices, required=False)
    max_slice_thickness_mm = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    min_pixel_spacing_mm = serializers.DecimalField(max_digits=5, decimal_places=3, required=False, allow_null=True)
    max_pixel_spacing_mm = serializers.DecimalField(max_digits=5, decimal_places=3, required=False, allow_null=True)
    min_slices = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    required = serializers.BooleanField(required=False)
    other_rules = serializers.CharField(required=False, allow_blank=True)
    body_part_keywords = serializers.CharField(required=False, allow_blank=True, max_length=255)
    slice_gap_tolerance = serializers.DecimalField(max_digits=4, decimal_places=3, required=False)
    require_contiguous_slices = serializers.BooleanField(required=False)
    min_matrix = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    min_coverage_mm = serializers.DecimalField(max_digits=6, decimal_places=1, required=False, allow_null=True)
    allow_multiple_studies = serializers.BooleanField(required=False)


class TimepointOutputSerializer(serializers.ModelSerializer):
    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)
    imaging_requirements = ImagingRequirementOutputSerializer(many=True, read_only=True)

    class Meta:
        model = TimepointDefinition
        fields = [
            "id", "trial", "code", "label", "order", "nominal_day", "window_before", "window_after", "is_baseline",
            "required", "imaging_requirements",
        ]


class TimepointInputSerializer(serializers.Serializer):
    trial = serializers.CharField(required=False, help_text="trial code (create only)")
    code = serializers.CharField(max_length=16, required=False)
    label = serializers.CharField(max_length=100, required=False)
    order = serializers.IntegerField(min_value=0, required=False)
    nominal_day = serializers.IntegerField(required=False, allow_null=True)
    window_before = serializers.IntegerField(min_value=0, required=False)
    window_after = serializers.IntegerField(min_value=0, required=False)
    is_baseline = serializers.BooleanField(required=False)
    required = serializers.BooleanField(required=False)


class MembershipOutputSerializer(serializers.ModelSerializer):
    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)
    site = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "trial", "username", "email", "full_name", "role", "site", "is_active", "created_at", "ended_at"]


class InvitationOutputSerializer(serializers.ModelSerializer):
    """An invitation as the trial admin (and the invitee) sees it: the address, never the account behind it."""

    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)
    site = serializers.SlugRelatedField(slug_field="number", read_only=True)
    state = serializers.SerializerMethodField(help_text="pending, accepted, declined, revoked or expired")

    class Meta:
        model = Invitation
        fields = ["id", "trial", "email", "role", "site", "state", "created_at", "expires_at", "decided_at"]

    def get_state(self, obj: Invitation) -> str:
        return obj.shown_state(self.context.get("now") or timezone.now())


class ReasonOptionalInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MembershipInviteInputSerializer(serializers.Serializer):
    trial = serializers.CharField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    site = serializers.CharField(required=False, allow_blank=True, allow_null=True, help_text="site number, for site roles")
    first_name = serializers.CharField(required=False, allow_blank=True, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, default="")
    username = serializers.CharField(required=False, allow_blank=True, default="")


class MembershipChangeRoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    site = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    reason = serializers.CharField()


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ParticipantOutputSerializer(serializers.ModelSerializer):
    trial = serializers.SlugRelatedField(slug_field="code", read_only=True)
    site = serializers.SlugRelatedField(slug_field="number", read_only=True)
    arm = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id", "trial", "site", "subject_code", "status", "consent_date", "treatment_start_date", "arm", "created_at",
        ]

    def get_arm(self, obj: Participant) -> str | None:
        # The arm is unblinded information: only roles allowed to see it get it (design.md).
        can_see = self.context.get("arm_visible")
        return obj.arm if can_see and can_see(obj) else None


class ParticipantEnrolInputSerializer(serializers.Serializer):
    trial = serializers.CharField(help_text="trial code")
    site = serializers.CharField(help_text="site number")
    subject_code = serializers.CharField(max_length=32)
    status = serializers.ChoiceField(
        choices=[ParticipantStatus.SCREENING, ParticipantStatus.ENROLLED], default=ParticipantStatus.ENROLLED
    )
    consent_date = serializers.DateField(required=False, allow_null=True)
    treatment_start_date = serializers.DateField(required=False, allow_null=True)
    arm = serializers.CharField(required=False, allow_blank=True, default="")


class ParticipantUpdateInputSerializer(serializers.Serializer):
    consent_date = serializers.DateField(required=False, allow_null=True)
    treatment_start_date = serializers.DateField(required=False, allow_null=True)
    arm = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ParticipantStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ParticipantStatus.choices)
    reason = serializers.CharField(help_text="why; required (a blank reason is refused with 400)")


class VisitOutputSerializer(serializers.ModelSerializer):
    participant = serializers.IntegerField(source="participant_id", read_only=True)
    subject_code = serializers.CharField(source="participant.subject_code", read_only=True)
    site = serializers.CharField(source="participant.site.number", read_only=True)
    timepoint = serializers.CharField(source="timepoint.code", read_only=True)
    timepoint_label = serializers.CharField(source="timepoint.label", read_only=True)
    status = serializers.SerializerMethodField()
    window_start = serializers.SerializerMethodField()
    window_end = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id", "participant", "subject_code", "site", "timepoint", "timepoint_label", "state", "status",
            "window_start", "window_end", "scan_date", "received_at", "accepted_at",
        ]

    def _today(self) -> dt.date:
        return self.context.get("today") or dt.date.today()

    def get_status(self, obj: Visit) -> str:
        return obj.status(self._today()).value

    def get_window_start(self, obj: Visit) -> dt.date | None:
        window = obj.window()
        return window[0] if window else None

    def get_window_end(self, obj: Visit) -> dt.date | None:
        window = obj.window()
        return window[1] if window else None


def input_values(serializer: serializers.Serializer, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The validated fields the client actually sent, minus routing fields."""
    return {k: v for k, v in serializer.validated_data.items() if k not in exclude}
