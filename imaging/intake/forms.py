"""Forms of the imaging pages."""
from __future__ import annotations

from django import forms

from ictms.lib.forms import IsoDateField


class SubmissionOpenForm(forms.Form):
    scan_date = IsoDateField(required=False, help_text="The date the scans were acquired.")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Transmittal notes for the core lab (no patient names).")
