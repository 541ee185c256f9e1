"""Form fields every app's pages share.

Dates are ISO (YYYY-MM-DD) everywhere ICTMS shows one, so they are typed that way too: a
browser's date picker would follow the browser's locale (02/12/2026, 12/02/2026, 2.12.2026)
next to ISO dates on the same page. `IsoDateField` is a text input with the ISO pattern and
placeholder, and the server accepts that one format only (02/01/2026 is not read as either
1 February or 2 January).
"""
from __future__ import annotations

from typing import Any

from django import forms

ISO_DATE_FORMAT = "%Y-%m-%d"
ISO_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
ISO_DATE_PLACEHOLDER = "YYYY-MM-DD"


def iso_date_attrs() -> dict[str, str]:
    """The attributes of an ISO date text input (also for the few raw inputs a template writes)."""
    return {"pattern": ISO_DATE_PATTERN, "placeholder": ISO_DATE_PLACEHOLDER, "inputmode": "numeric",
            "autocomplete": "off", "title": "A date as YYYY-MM-DD, e.g. 2026-03-31", "size": "10", "maxlength": "10"}


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={**iso_date_attrs(), **(attrs or {})}, format=ISO_DATE_FORMAT)


class IsoDateField(forms.DateField):
    """A date typed as YYYY-MM-DD (the only format read back)."""

    widget = IsoDateInput
    input_formats = [ISO_DATE_FORMAT]
    default_error_messages = {"invalid": "Enter the date as YYYY-MM-DD, e.g. 2026-03-31."}
