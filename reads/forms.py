"""Forms of the reads pages. They parse and validate input; reads.services does the writes."""
from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from reads.choices import Paradigm, ReportedRead, Trigger
from reads.models import ReadDesign

# What each adjudication trigger means (reads.md "Read design"; recist-1.1.md §10.4).
TRIGGER_HELP = {
    Trigger.BEST_RESPONSE: "The two readers' best overall response over the whole case is not the same "
                           "(e.g. PR for one, SD for the other).",
    Trigger.PROGRESSION: "One reader finds progression and the other does not, or they find it at different "
                         "timepoints (compared by timepoint, never by date).",
    Trigger.FIRST_RESPONSE: "The readers' first complete or partial response falls at different timepoints.",
    Trigger.OVERALL_RESPONSE: "The readers' overall response differs at any single timepoint, even when their "
                              "best responses agree.",
}
TRIGGERS_NOTE = ("Each extra trigger raises the adjudication rate (more cases go to an adjudicator): with all "
                 "four on, 30–45 % of cases are typically adjudicated.")

OPTION_FIELDS = (
    "confirmation_required", "confirmation_min_weeks", "sd_min_weeks", "visit_window_weeks",
    "stop_after_progression", "reported_read", "reopen_needs_approval",
)
# Labels and one sentence per charter option; the model's own where they say it already.
OPTION_LABELS = {
    "confirmation_required": "Confirmation of response required",
    "confirmation_min_weeks": "Minimum weeks to confirmation",
    "visit_window_weeks": "Visit window (weeks)",
}
OPTION_HELP = {
    "reported_read": "When both readers agree and nobody adjudicates, this reader's read is the case's final result.",
    "reopen_needs_approval": "A re-open asked by one trial admin waits until another trial admin approves it.",
}


def _member_label(user: Any) -> str:
    name = user.get_full_name()
    return f"{user.username} ({name})" if name else user.username


class ReadDesignForm(forms.Form):
    """The trial's read design; the fields carry the names read_design_save takes."""

    paradigm = forms.ChoiceField(choices=Paradigm.choices, widget=forms.RadioSelect)
    triggers = forms.MultipleChoiceField(
        label="Adjudication triggers", choices=Trigger.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=TRIGGERS_NOTE)
    readers = forms.MultipleChoiceField(
        label="Reader pool", choices=(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Active members with the reader role. A double read needs at least two.")
    adjudicators = forms.MultipleChoiceField(
        label="Adjudicator pool", choices=(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Active members with the adjudicator role. An adjudicator never adjudicates a case they read.")
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required once any read of this trial has been signed; signed reads never change.")

    def __init__(self, *args: Any, readers: list[Any], adjudicators: list[Any], signed: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["readers"]).choices = [(u.username, _member_label(u)) for u in readers]
        cast(forms.ChoiceField, self.fields["adjudicators"]).choices = [
            (u.username, _member_label(u)) for u in adjudicators]
        options = forms.fields_for_model(ReadDesign, fields=OPTION_FIELDS)
        for name in OPTION_FIELDS:
            field = options[name]
            field.label = OPTION_LABELS.get(name, field.label)
            field.help_text = OPTION_HELP.get(name, field.help_text)
            model_field = cast(models.Field, ReadDesign._meta.get_field(name))
            for validator in model_field.validators:  # range hints for assistive tech
                if isinstance(validator, (MinValueValidator, MaxValueValidator)):
                    key = "min" if isinstance(validator, MinValueValidator) else "max"
                    field.widget.attrs[key] = validator.limit_value
            if name == "reported_read":
                field.widget = forms.RadioSelect(choices=ReportedRead.choices)
            self.fields[name] = field
        self.order_fields(["paradigm", "triggers", "readers", "adjudicators", *OPTION_FIELDS, "reason"])
        self.signed = signed
        if signed:
            self.fields["reason"].help_text = ("Required: reads of this trial have been signed. Say why the design "
                                               "changes; signed reads stay as they are.")

    @staticmethod
    def initial_from(design: ReadDesign | None) -> dict[str, Any]:
        if design is None:
            return {"paradigm": Paradigm.DOUBLE, "triggers": [Trigger.BEST_RESPONSE, Trigger.PROGRESSION]}
        return {
            "paradigm": design.paradigm, "triggers": list(design.triggers),
            "readers": [u.username for u in design.readers.all()],
            "adjudicators": [u.username for u in design.adjudicators.all()],
            **{name: getattr(design, name) for name in OPTION_FIELDS},
        }

    def trigger_rows(self) -> list[tuple[Any, str]]:
        """(checkbox, what the trigger means) for the template."""
        return [(box, TRIGGER_HELP.get(box.data["value"], "")) for box in self["triggers"]]

    def option_fields(self) -> list[Any]:
        return [self[name] for name in OPTION_FIELDS]


class ReassignForm(forms.Form):
    """Move one reader slot of a case to another reader (fields named as read_case_reassign's errors)."""

    def __init__(self, *args: Any, case_readers: list[tuple[int, str]], pool: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = forms.ChoiceField(
            label="From reader", choices=[(name, f"Reader {slot}: {name}") for slot, name in case_readers])
        self.fields["to"] = forms.ChoiceField(label="To reader", choices=[("", "—"), *[(n, n) for n in pool]])
        self.fields["reason"] = forms.CharField(label="Reason", max_length=500)
