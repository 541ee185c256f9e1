"""Scrub kept text of the participant's identity in every usual spelling, and of generic identifiers.

PS3.15 asks that a cleaned value "mean the same but carry no identifying
information". We cannot understand free text, so we keep it and remove,
case-insensitively:

- the participant's identity values found in the same file before
  de-identification, in the spellings people and scanners use: a name in
  any order of its parts ("DOE^JOHN", "John Doe", "DOE, JOHN"), with
  initials ("J. DOE", "DOE J", "J.Q. DOE"), each part on its own, and a
  truncated or partial surname (any run of four or more of its letters
  that is a whole word: "JOHNST" for JOHNSTONE); the birth date in numeric
  and month-name layouts ("1980-01-15", "15/1/80", "15 JAN 1980"); IDs with
  or without their separators and leading zeros ("MRN-0012345",
  "MRN0012345", "12345"); addresses and phone numbers;
- the names of staff (physicians, operators) everywhere, and in
  descriptors also the institution, department, station and device serial;
- in free text (not in coded strings): anything shaped like a date, runs of
  six or more digits, e-mail addresses and phone numbers.

Short values (under five characters) only match as whole words so that a
surname like "LI" does not eat "CLINICAL"; longer ones match anywhere
("CT_DOE_JOHN"). A value in which nothing matched is returned unchanged;
otherwise what remains is re-joined with single spaces.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "IDENTIFYING_KEYWORDS",
    "ID_KEYWORDS",
    "PERSON_NAME_KEYWORDS",
    "SITE_KEYWORDS",
    "STAFF_NAME_KEYWORDS",
    "Identity",
    "build_identity",
    "scrubber_for",
    "split_identifying_value",
]

# Top-level attributes whose values are looked for in kept text.
PERSON_NAME_KEYWORDS = (
    "PatientName",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "ResponsiblePerson",
)
STAFF_NAME_KEYWORDS = (
    "ReferringPhysicianName",
    "ConsultingPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
)
ID_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "MedicalRecordLocator",
    "AccessionNumber",
    "StudyID",
    "AdmissionID",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "IssuerOfPatientID",
)
OTHER_KEYWORDS = ("PatientAddress", "PatientTelephoneNumbers", "ResponsibleOrganization")
BIRTH_DATE_KEYWORDS = ("PatientBirthDate",)
# Scrubbed from descriptors only: "SIEMENS HOSPITAL" must not take "SIEMENS" out of Manufacturer.
SITE_KEYWORDS = ("InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
                 "DeviceSerialNumber")
IDENTIFYING_KEYWORDS = (PERSON_NAME_KEYWORDS + STAFF_NAME_KEYWORDS + ID_KEYWORDS + OTHER_KEYWORDS
                        + BIRTH_DATE_KEYWORDS + SITE_KEYWORDS)

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
_LETTERS = re.compile(r"[^\W\d_]+")
_RESULT_CACHE_SIZE = 2048
_SEP = r"[\s_^,.\-]+"  # between the parts of a name: space, caret, comma, dot, underscore, dash
_OPT_SEP = r"[\s_^,.\-]*"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER",
                "OCTOBER", "NOVEMBER", "DECEMBER")
_MIN_FRAGMENT = 4


def split_identifying_value(value: str) -> list[str]:
    """Return the value and its name-like parts (components of a PN, words of an address)."""
    text = value.strip(" \x00")
    if not text:
        return []
    parts = [text]
    parts.extend(part for part in _WORD_SPLIT.split(text) if part)
    return [part for part in parts if len(part) >= 2]


def _flexible(value: str) -> str:
    """A literal whose inner separators match any separator ("SAINT ELSEWHERE" = "saint_elsewhere")."""
    words = [re.escape(word) for word in re.split(r"[\s_^,]+", value) if word]
    return _OPT_SEP.join(words)


def _bounded(pattern: str) -> str:
    return rf"(?<![^\W_]){pattern}(?![^\W_])"


def _name_parts(value: str) -> tuple[str, str, str]:
    """Family, given and middle names of a PN value (its first component group) or of "Given Family" text."""
    group = value.split("=", maxsplit=1)[0]
    if "^" in group:
        components = [part.strip() for part in group.split("^")] + ["", ""]
        return components[0], components[1], components[2]
    if "," in group:
        family, _, rest = group.partition(",")
        words = rest.split()
        return family.strip(), words[0] if words else "", " ".join(words[1:])
    words = group.split()
    if len(words) >= 2:
        return words[-1], words[0], " ".join(words[1:-1])
    return group.strip(), "", ""


def _name_spellings(value: str) -> tuple[list[str], list[str], list[str]]:
    """(literals, patterns, surnames) for one person name."""
    literals: list[str] = []
    patterns: list[str] = []
    for group in value.split("="):
        literals.extend(split_identifying_value(group))
    family, given, middle = _name_parts(value)
    surnames = [word.upper() for word in re.split(r"[\s\-']+", family) if len(word) >= _MIN_FRAGMENT]
    if family and given:
        f, g = _flexible(family), _flexible(given)
        m = _flexible(middle) if middle else ""
        initial, middle_initial = re.escape(given[0]), re.escape(middle[0]) if middle else ""
        optional_middle = rf"(?:{_SEP}(?:{m}|{middle_initial}\.?))?" if middle else ""
        patterns.append(_bounded(rf"{g}{optional_middle}{_SEP}{f}"))  # John Q Doe
        patterns.append(_bounded(rf"{f}{_SEP}{g}{optional_middle}"))  # DOE^JOHN^Q, Doe, John
        # Initials with the surname: J DOE, J. DOE, J.Q. DOE, DOE J, DOE, J.
        initials = rf"{initial}\.?(?:{_OPT_SEP}{middle_initial}\.?)?" if middle else rf"{initial}\.?"
        patterns.append(_bounded(rf"{initials}{_OPT_SEP}{f}"))
        patterns.append(_bounded(rf"{f}{_SEP}{initials}"))
    return literals, patterns, surnames


def _date_spellings(value: str) -> list[str]:
    text = value.strip(" \x00").replace(".", "").replace("-", "").replace("/", "")
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if match is None:
        return []
    year, month, day = match[1], int(match[2]), int(match[3])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return []
    short_year = year[2:]
    mm, dd = f"{month:02d}", f"{day:02d}"
    any_month, any_day = rf"0?{month}", rf"0?{day}"
    names = rf"(?:{_MONTH_NAMES[month - 1]}|{_MONTHS[month - 1]}\.?)"
    sep, years = r"[-./ ]", rf"(?:{year}|{short_year})"
    return [
        rf"(?<!\d){year}{sep}?{mm}{sep}?{dd}(?!\d)",
        rf"(?<!\d){year}{sep}{any_month}{sep}{any_day}(?!\d)",
        rf"(?<!\d){any_day}{sep}{any_month}{sep}{years}(?!\d)",
        rf"(?<!\d){any_month}{sep}{any_day}{sep}{years}(?!\d)",
        rf"(?<!\d)(?:{dd}{mm}|{mm}{dd}){years}(?!\d)",
        rf"(?<!\d){short_year}{mm}{dd}(?!\d)",
        rf"(?<![\w]){any_day}(?:st|nd|rd|th)?{sep}?{names}{sep}?,?{sep}?{years}(?!\d)",
        rf"(?<![\w]){names}{sep}?{any_day}(?:st|nd|rd|th)?,?{sep}?{years}(?!\d)",
    ]


def _id_spellings(value: str) -> tuple[list[str], list[str]]:
    """(literals, patterns) for an identifier: as written, without separators, its digits without leading zeros."""
    text = value.strip(" \x00")
    if len(text) < 3 or (text.isdigit() and len(text.lstrip("0")) < 4):
        return [], []  # "1" or "12" (a study ID) would eat the numbers of every descriptor
    literals = [text]
    chunks = re.findall(r"[A-Za-z0-9]+", text)
    patterns = []
    if len(chunks) > 1:
        patterns.append(_bounded(r"[\s._/\-]*".join(re.escape(chunk) for chunk in chunks)))
    for chunk in chunks:
        digits = chunk.lstrip("0") if chunk.isdigit() else ""
        if len(digits) >= 4:
            patterns.append(rf"(?<!\d)0*{digits}(?!\d)")
        elif not chunk.isdigit() and len(chunk) >= 5 and any(char.isdigit() for char in chunk):
            literals.append(chunk)
    return literals, patterns


@dataclass(frozen=True)
class Identity:
    """What to scrub, as data (hashable, so scrubbers are cached per identity).

    `literals` match case-insensitively (whole words when under five
    characters), `patterns` are regular expressions (spellings of names,
    dates and IDs), `surnames` are upper-case family names whose runs of
    four or more letters are removed when they form a whole word, and
    `site_literals` are scrubbed from descriptors only. `whole_values` are
    the identity values as written (upper case), the only thing removed
    from code values (a CodeValue or CodingSchemeDesignator is a term of a
    coding scheme: only a value that *is* an identity value goes).
    """

    literals: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    surnames: tuple[str, ...] = ()
    site_literals: tuple[str, ...] = ()
    whole_values: frozenset[str] = frozenset()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values), key=lambda value: (-len(value), value)))


def build_identity(values: dict[str, list[str]]) -> Identity:
    """The Identity for the values found in a header, by keyword (each a list of the element's values)."""
    literals: list[str] = []
    patterns: list[str] = []
    surnames: list[str] = []
    site: list[str] = []
    whole: set[str] = set()
    for keyword, entries in values.items():
        for entry in entries:
            if keyword not in SITE_KEYWORDS and len(entry.strip()) >= 2:
                whole.add(entry.strip().upper())
            if keyword in PERSON_NAME_KEYWORDS or keyword in STAFF_NAME_KEYWORDS:
                found, spelled, family = _name_spellings(entry)
                literals += found
                patterns += spelled
                if keyword in PERSON_NAME_KEYWORDS:
                    surnames += family
            elif keyword in ID_KEYWORDS:
                found, spelled = _id_spellings(entry)
                literals += found
                patterns += spelled
            elif keyword in BIRTH_DATE_KEYWORDS:
                patterns += _date_spellings(entry)
            elif keyword in SITE_KEYWORDS:
                site += split_identifying_value(entry)
            else:
                literals += split_identifying_value(entry)
    return Identity(
        literals=_unique(literals), patterns=_unique(patterns), surnames=_unique(surnames),
        site_literals=_unique(value for value in site if value not in literals), whole_values=frozenset(whole),
    )


_REMOVED = "\x00"  # marks a removal until the separators around it are collapsed
_AROUND_REMOVED = re.compile(r"[\s_^=,;:/-]*\x00[\s_^=,;:/\x00-]*")


def _replace(match: re.Match[str]) -> str:
    if match.lastgroup == "phone" and sum(char.isdigit() for char in match[0]) < 7:
        return match[0]  # "120 120 kV" is not a phone number
    return _REMOVED


def _literal_pattern(value: str) -> str:
    flexible = _flexible(value) or re.escape(value)
    return _bounded(flexible) if len(value) < 5 else flexible


class _CodeScrubber:
    """Code values: emptied only when the whole value is an identity value."""

    def __init__(self, identity: Identity) -> None:
        self._whole = identity.whole_values

    def __call__(self, text: str) -> str:
        return "" if text.strip(" \x00").upper() in self._whole else text


class _Scrubber:
    def __init__(self, identity: Identity, mode: str) -> None:
        literals = identity.literals + (identity.site_literals if mode == "descriptor" else ())
        alternatives = list(identity.patterns) + [_literal_pattern(value) for value in _unique(literals)]
        # One pass: the spellings and values first (longest first), then, in
        # free text, the generic shapes and phone-like runs (checked in _replace).
        if mode != "coded":
            alternatives += [*_GENERIC_PATTERNS, rf"(?P<phone>{_PHONE_PATTERN})"]
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None
        self._fragments = frozenset(
            surname[start:end]
            for surname in identity.surnames
            for start in range(len(surname))
            for end in range(start + _MIN_FRAGMENT, len(surname) + 1)
        ) if mode != "coded" else frozenset()
        # Values repeat in every file of a series: remember the answers.
        self._results: dict[str, str] = {}

    def _fragment(self, match: re.Match[str]) -> str:
        word = match[0]
        return _REMOVED if len(word) >= _MIN_FRAGMENT and word.upper() in self._fragments else word

    def __call__(self, text: str) -> str:
        cached = self._results.get(text)
        if cached is not None:
            return cached
        marked = text.replace(_REMOVED, "")
        if self._pattern is not None:
            marked = self._pattern.sub(_replace, marked)
        if self._fragments:
            marked = _LETTERS.sub(self._fragment, marked)
        if _REMOVED in marked:
            removed = _AROUND_REMOVED.sub(" ", marked)
            cleaned = " ".join(removed.split()).strip(_EDGE_PUNCTUATION)
        else:
            cleaned = marked  # nothing identifying: the value stays exactly as it was
        if len(self._results) >= _RESULT_CACHE_SIZE:
            self._results.clear()
        self._results[text] = cleaned
        return cleaned


@functools.lru_cache(maxsize=64)
def _compiled(identity: Identity, mode: str) -> Callable[[str], str]:
    return _CodeScrubber(identity) if mode == "code" else _Scrubber(identity, mode)


def scrubber_for(identity: Identity | Iterable[str], mode: str = "free") -> Callable[[str], str]:
    """Return a function that scrubs text of `identity`.

    `mode` is "free" (free text: identity values, partial surnames and
    generic identifiers), "descriptor" (free, plus the site's values) or
    "coded" (coded strings and code values: identity values only, so that a
    SNOMED code or a date-like version string stays intact) or "code"
    (code values of a code sequence item: emptied only when the whole value
    is an identity value). A plain list
    of values is taken as literals. Cached per identity and mode: the files
    of one series share a patient, so the expression is compiled once per
    series, not per file.
    """
    if mode not in ("free", "descriptor", "coded", "code"):
        raise ValueError(f"unknown scrub mode {mode!r}")
    if not isinstance(identity, Identity):
        identity = Identity(literals=_unique(identity))
    return _compiled(identity, mode)
