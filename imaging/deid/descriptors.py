"""Clean Descriptors: keep free-text descriptions but scrub what could identify the patient.

PS3.15 asks that a cleaned descriptor "mean the same but carry no
identifying information". We cannot understand free text, so we keep it and
remove, case-insensitively:

- every identifying value found in the same file before de-identification
  (parts of the patient's and staff names, patient and accession numbers,
  institution, station, device serial, addresses and phone numbers);
- anything shaped like a date (19xx/20xx year-month-day in any common
  layout, or d/m/y with separators), runs of six or more digits (record
  numbers, phone numbers) and e-mail addresses.

Short values (under five characters) only match as whole words so that a
surname like "LI" does not eat "CLINICAL"; longer ones match anywhere
("CT_DOE_JOHN"). What remains is re-joined with single spaces.
"""

from __future__ import annotations

import functools
import re
from typing import Iterable

__all__ = ["IDENTIFYING_KEYWORDS", "scrubber_for", "split_identifying_value"]

# Top-level attributes whose values are searched for inside descriptors.
IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "MedicalRecordLocator",
    "IssuerOfPatientID",
    "ResponsiblePerson",
    "ResponsibleOrganization",
    "AccessionNumber",
    "StudyID",
    "AdmissionID",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
    "ReferringPhysicianName",
    "ConsultingPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
)

_GENERIC_PATTERNS = (
    # 2019-03-17, 20190317, 2019.03.17, 2019/03/17
    r"(?<!\d)(?:1[89]|20)\d\d[-./ ]?(?:0[1-9]|1[0-2])[-./ ]?(?:0[1-9]|[12]\d|3[01])(?!\d)",
    # 17/03/2019, 3-17-19, 17.3.2019
    r"(?<!\d)\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2})(?!\d)",
    # record numbers, phone numbers without separators
    r"\d{6,}",
    # e-mail addresses
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
)
_PHONE_PATTERN = r"\+?\d[\d ().-]{7,}\d"
_EDGE_PUNCTUATION = " -_,;:/^=.()"
_WORD_SPLIT = re.compile(r"[\^=,\s]+")
_RESULT_CACHE_SIZE = 1024


def split_identifying_value(value: str) -> list[str]:
    """Return the value and its name-like parts (components of a PN, words of an address)."""
    text = value.strip(" \x00")
    if not text:
        return []
    parts = [text]
    parts.extend(part for part in _WORD_SPLIT.split(text) if part)
    return [part for part in parts if len(part) >= 2]


_REMOVED = "\x00"  # marks a removal until the separators around it are collapsed
_AROUND_REMOVED = re.compile(r"[\s_^=,;:/-]*\x00[\s_^=,;:/\x00-]*")


def _replace(match: re.Match[str]) -> str:
    if match.lastgroup == "phone" and sum(char.isdigit() for char in match[0]) < 7:
        return match[0]  # "120 120 kV" is not a phone number
    return _REMOVED


class _Scrubber:
    def __init__(self, values: tuple[str, ...]) -> None:
        alternatives = []
        for value in values:
            escaped = re.escape(value)
            if len(value) < 5:
                alternatives.append(rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])")
            else:
                alternatives.append(escaped)
        # One pass: the identifying values first (longest first), then the
        # generic shapes, then phone-like runs (checked in _replace).
        patterns = alternatives + list(_GENERIC_PATTERNS) + [rf"(?P<phone>{_PHONE_PATTERN})"]
        self._pattern = re.compile("|".join(patterns), re.IGNORECASE)
        # Descriptors repeat in every file of a series: remember the answers.
        self._results: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        cached = self._results.get(text)
        if cached is not None:
            return cached
        removed = _AROUND_REMOVED.sub(" ", self._pattern.sub(_replace, text.replace(_REMOVED, "")))
        cleaned = " ".join(removed.split()).strip(_EDGE_PUNCTUATION)
        if len(self._results) >= _RESULT_CACHE_SIZE:
            self._results.clear()
        self._results[text] = cleaned
        return cleaned


@functools.lru_cache(maxsize=16)
def _compiled(values: tuple[str, ...]) -> _Scrubber:
    return _Scrubber(values)


def scrubber_for(values: Iterable[str]):  # -> Callable[[str], str]
    """Return a function that scrubs text of `values` and of generic identifiers.

    Cached on the set of values: the files of one series share a patient, so
    the regular expression is compiled once per series, not per file.
    """
    unique = sorted(set(values), key=lambda value: (-len(value), value))
    return _compiled(tuple(unique))
