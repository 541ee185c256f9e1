"""Forms of the imaging pages."""
from __future__ import annotations

from django import forms


class SubmissionOpenForm(forms.Form):
    scan_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                help_text="The date the scans were acquired.")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Transmittal notes for the core lab (no patient names).")
