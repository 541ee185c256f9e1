"""Forms of the trials pages. They parse and validate input; services do the writes."""
from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from ictms.lib.forms import IsoDateField
from trials.choices import ParticipantStatus, Role
from trials.models import (
    QC_FINDINGS,
    ImagingRequirement,
    Participant,
    Site,
    TimepointDefinition,
    Trial,
)
from trials.subject_codes import MAX_DIGITS, SEPARATOR_CHOICES, build_pattern, parse_pattern

SEVERITIES = [("blocking", "Blocking: a query to the site"), ("warning", "Warning: the analyst looks"),
              ("info", "Information: shown only")]
_SEVERITY_LABELS = {"blocking": "Blocking", "warning": "Warning", "info": "Information"}


class SeverityTableWidget(forms.Widget):
    """The QC findings as a table, each with a severity select ("as usual" = no override).

    The findings are imaging QC's registry (trials.models.QC_FINDINGS, filled by the imaging app).
    """

    template_name = "trials/widgets/severity_table.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        overrides = value if isinstance(value, dict) else {}
        context["widget"]["rows"] = [
            {"code": code, "title": title, "default_label": _SEVERITY_LABELS.get(default, default),
             "value": overrides.get(code, ""), "name": f"{name}__{code}", "id": f"id_{name}__{code}"}
            for code, title, default in QC_FINDINGS
        ]
        context["widget"]["severities"] = SEVERITIES
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[str, str]:
        return {code: data[f"{name}__{code}"] for code, _title, _default in QC_FINDINGS if data.get(f"{name}__{code}")}

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False  # no select chosen means no override, not "leave as it was"

    def id_for_label(self, id_: str) -> str:
        return ""  # each row's select has its own label


class SeverityOverridesField(forms.Field):
    """{finding code: severity} for the findings a trial handles otherwise than usual."""

    widget = SeverityTableWidget

    def to_python(self, value: Any) -> dict[str, str]:
        if not value:
            return {}
        if not isinstance(value, dict):
            raise ValidationError("Choose a severity for each finding in the table.")
        known = {code: default for code, _title, default in QC_FINDINGS}
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValidationError(f"Unknown QC findings: {', '.join(unknown)}.")
        wrong = sorted(code for code, severity in value.items() if severity not in _SEVERITY_LABELS)
        if wrong:
            raise ValidationError(f"Choose blocking, warning or information for: {', '.join(wrong)}.")
        # An override equal to the usual severity is no override: stored settings list only the differences.
        return {code: severity for code, severity in value.items() if severity != known[code]}

    def has_changed(self, initial: Any, data: Any) -> bool:
        return (initial or {}) != self.to_python(data)


class TrialForm(forms.ModelForm):
    """The trial's details. The subject-code format is chosen (site number, separator, digits);
    a regular expression is the advanced option for any other format."""

    code_format = forms.ChoiceField(
        label="Subject codes", widget=forms.RadioSelect, initial="site",
        choices=[("site", "Site number, a separator, then a serial number (e.g. 101-001)"),
                 ("regex", "Another format, as a regular expression (advanced)")])
    code_separator = forms.ChoiceField(label="Separator", choices=SEPARATOR_CHOICES, required=False, initial="-")
    code_digits = forms.IntegerField(label="Digits of the serial number", min_value=1, max_value=MAX_DIGITS, initial=3,
                                     required=False)
    qc_severity_overrides = SeverityOverridesField(
        required=False, label="QC severities",
        help_text="How each automated QC finding is handled in this trial: blocking opens a query to the site, a "
        "warning needs an analyst's look, information is shown only.")
    field_order = ["code", "title", "sponsor_name", "indication", "code_format", "code_separator", "code_digits",
                   "subject_code_pattern"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pattern = self.fields["subject_code_pattern"]
        pattern.required = False
        pattern.label = "Regular expression (advanced)"
        pattern.help_text = (r"Only with “Another format”: every subject code must match it in full; {site} stands for "
                             r"the site number, e.g. {site}-[A-Z]\d{2}.")
        if self.instance.pk:
            parsed = parse_pattern(self.instance.subject_code_pattern)
            if parsed is None:
                self.initial["code_format"] = "regex"
            else:
                self.initial.update(code_format="site", code_separator=parsed[0], code_digits=parsed[1])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = data.pop("code_format", None)
        separator = data.pop("code_separator", "") or ""
        digits = data.pop("code_digits", None)
        if chosen == "site":
            if digits is None:
                self.add_error("code_digits", "How many digits follow the site number?")
            else:
                data["subject_code_pattern"] = build_pattern(separator, digits)
        elif chosen == "regex" and not (data.get("subject_code_pattern") or "").strip():
            self.add_error("subject_code_pattern", "Write the regular expression, or choose the site-number format.")
        return data

    class Meta:
        model = Trial
        fields = [
            "code", "title", "sponsor_name", "indication", "subject_code_pattern", "blind_readers",
            "deid_date_shift_max_days", "deid_retain_patient_characteristics", "deid_retain_modified_dates",
            "deid_clean_descriptors", "deid_retain_device_identity", "scan_date_tolerance_days", "query_due_days",
            "qc_severity_overrides",
        ]

    def validate_unique(self) -> None:
        # The service checks uniqueness inside its transaction.
        pass


class StatusChangeForm(forms.Form):
    """A status change: no target is pre-selected, a reason is required, and it is confirmed on a second page.

    The first submit shows the confirmation page (trials/status_confirm.html), which names what the
    new status does (`consequences`, the dict next to the status choices) and posts the same values
    back with `confirmed`; only that second submit calls the service.
    """

    status = forms.ChoiceField(choices=[], label="New status")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Required: it goes into the audit trail.")
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, allowed: list[tuple[str, str]], consequences: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.consequences = consequences
        self.fields["status"].choices = [("", "Choose the new status…"), *allowed]
        self.options = [(value, label, consequences.get(value, "")) for value, label in allowed]

    def consequence(self) -> str:
        """What the chosen (valid) status does."""
        return self.consequences.get(self.cleaned_data["status"], "")

    def status_label(self) -> str:
        return dict(self.fields["status"].choices)[self.cleaned_data["status"]]


class TrialStatusForm(StatusChangeForm):
    pass


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


class RequirementCopyForm(forms.Form):
    """Copy a timepoint's imaging requirements to other timepoints of its trial."""

    targets = forms.ModelMultipleChoiceField(
        queryset=TimepointDefinition.objects.none(), widget=forms.CheckboxSelectMultiple, label="Copy to",
        help_text="Requirements a timepoint already has with the same values are not added twice.")

    def __init__(self, *args: Any, timepoint: TimepointDefinition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["targets"].queryset = TimepointDefinition.objects.filter(trial_id=timepoint.trial_id).exclude(
            pk=timepoint.pk).order_by("order")
        self.fields["targets"].label_from_instance = lambda tp: f"{tp.code} {tp.label}"


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


class UnlockAccountForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="E.g. how you made sure it is really this person asking.")


class EnrolForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    subject_code = forms.CharField(max_length=32)
    status = forms.ChoiceField(
        choices=[(ParticipantStatus.ENROLLED, "Enrolled"), (ParticipantStatus.SCREENING, "Screening")],
        initial=ParticipantStatus.ENROLLED,
    )
    consent_date = IsoDateField(required=False)
    treatment_start_date = IsoDateField(required=False)
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
        field_classes = {"consent_date": IsoDateField, "treatment_start_date": IsoDateField}


class ParticipantStatusForm(StatusChangeForm):
    pass
