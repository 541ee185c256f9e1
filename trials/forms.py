"""Forms of the trials pages. They parse and validate input; services do the writes."""
from __future__ import annotations

from django import forms

from trials.choices import ParticipantStatus, Role
from trials.models import (
    ImagingRequirement,
    Participant,
    Site,
    TimepointDefinition,
    Trial,
)

DATE_WIDGET = forms.DateInput(attrs={"type": "date"})


class TrialForm(forms.ModelForm):
    class Meta:
        model = Trial
        fields = [
            "code", "title", "sponsor_name", "indication", "subject_code_pattern", "blind_readers",
            "deid_date_shift_max_days", "deid_retain_patient_characteristics", "deid_retain_modified_dates",
            "deid_clean_descriptors", "deid_retain_device_identity", "scan_date_tolerance_days", "query_due_days",
            "qc_severity_overrides",
        ]
        widgets = {"qc_severity_overrides": forms.Textarea(attrs={"rows": 2})}

    def validate_unique(self) -> None:
        # The service checks uniqueness inside its transaction.
        pass


class TrialStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[])
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, allowed: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = allowed


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["number", "name", "country", "ae_title", "is_active"]
        widgets = {"country": forms.TextInput(attrs={"size": 3, "placeholder": "DE"})}

    def validate_unique(self) -> None:
        pass


class TimepointForm(forms.ModelForm):
    class Meta:
        model = TimepointDefinition
        fields = ["code", "label", "order", "nominal_day", "window_before", "window_after", "is_baseline", "required"]

    def validate_unique(self) -> None:
        pass


class ImagingRequirementForm(forms.ModelForm):
    class Meta:
        model = ImagingRequirement
        fields = [
            "modality", "body_region", "contrast", "max_slice_thickness_mm", "min_pixel_spacing_mm",
            "max_pixel_spacing_mm", "min_slices", "body_part_keywords", "slice_gap_tolerance", "require_contiguous_slices",
            "min_matrix", "min_coverage_mm", "allow_multiple_studies", "required", "other_rules",
        ]
        widgets = {"other_rules": forms.Textarea(attrs={"rows": 2})}


class InviteForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(required=False)
    last_name = forms.CharField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, help_text="Site roles only")

    def __init__(self, *args, trial: Trial, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(trial=trial, is_active=True)


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, trial: Trial, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(trial=trial, is_active=True)


class RemoveMemberForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class EnrolForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    subject_code = forms.CharField(max_length=32)
    status = forms.ChoiceField(
        choices=[(ParticipantStatus.ENROLLED, "Enrolled"), (ParticipantStatus.SCREENING, "Screening")],
        initial=ParticipantStatus.ENROLLED,
    )
    consent_date = forms.DateField(required=False, widget=DATE_WIDGET)
    treatment_start_date = forms.DateField(required=False, widget=DATE_WIDGET)
    arm = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, sites, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites


class ParticipantDatesForm(forms.ModelForm):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Required when you correct a value that was already recorded.")

    class Meta:
        model = Participant
        fields = ["consent_date", "treatment_start_date", "arm"]
        widgets = {"consent_date": DATE_WIDGET, "treatment_start_date": DATE_WIDGET}


class ParticipantStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[])
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, allowed: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = allowed
