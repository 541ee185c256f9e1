"""What a de-identification run needs to know: the profile options and the trial/participant context."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .regions import PixelRule, RedactionRegion

__all__ = [
    "DESCRIPTOR_POLICIES",
    "ContextFactory",
    "DeidContext",
    "DeidOptions",
    "LocalContextFactory",
    "PrivateTagRule",
    "load_local_secret",
    "participant_date_offset",
    "participant_time_offset",
    "patient_key",
]

DESCRIPTOR_POLICIES = ("clean", "vocabulary")
# Modalities whose images always go through the burned-in text search when
# Clean Pixel Data is on, whatever `ocr_modalities` says (design.md).
ALWAYS_SEARCHED_MODALITIES = ("US", "SC", "XA")

# Values written into LO / SH / PN elements must not hold a backslash (the
# DICOM value separator) and must fit the shortest VR they go into.
_FORBIDDEN_IN_VALUES = ("\\", "\r", "\n")


@dataclass(frozen=True)
class PrivateTagRule:
    """One private element that is safe to keep: its creator, group and element offset.

    A private element (gggg,bbxx) belongs to the creator written at (gggg,00bb);
    the rule keeps it when that creator equals `creator` (case and trailing
    spaces ignored), gggg equals `group` and xx equals `element_offset`.
    Example: PrivateTagRule("SIEMENS MR HEADER", 0x0019, 0x0C) keeps the
    Siemens diffusion b-value wherever Siemens reserved its block.
    """

    creator: str
    group: int
    element_offset: int

    def __post_init__(self) -> None:
        if not self.group & 1 or not 0x0009 <= self.group <= 0xFFFF:
            raise ValueError("a private group is an odd number from 0x0009 to 0xFFFF")
        if not 0x00 <= self.element_offset <= 0xFF:
            raise ValueError("a private element offset is a number from 0x00 to 0xFF")
        if not self.creator.strip():
            raise ValueError("a private tag rule needs its private creator")


@dataclass(frozen=True)
class DeidOptions:
    """The PS3.15 Annex E options applied on top of the Basic Profile, and how the engine carries them out.

    Defaults follow design.md: retain longitudinal temporal information with
    modified dates, retain patient characteristics, clean descriptors, clean
    pixel data, and remove every private element except those in
    `safe_private_tags` (empty by default). `blind_site` withholds every
    site-identifying value (institution, department, station, AE titles,
    device serial numbers, the clinical trial site) even when an option would
    retain it.

    - `descriptor_policy`: "vocabulary" (the default: a descriptor keeps only
      tokens of data/vocabulary.txt, numbers and units, every other token
      becomes "*") or "clean" (identifying values and generic identifiers
      removed, the rest kept).
    - `keep_times`: with modified dates, times of day are kept as received
      and only dates move by whole days. Off by default: dates, times and
      date-times move together by the participant's whole offset (days and
      seconds). Recorded in the DeidentificationMethodCodeSequence.
    - `clean_pixel_data`: images that may carry burned-in text are searched
      (region rules, then OCR on `ocr_frames` sampled frames) and what is
      found is blanked in every frame. Images are candidates when
      BurnedInAnnotation is YES, their modality is US, SC or XA or in
      `ocr_modalities`, or they are screen captures / secondary captures.
    - `ocr`: run tesseract (off: only rules and QC's regions are applied).
    - `pixel_rules`: the trial's own region rules, added to data/pixel_rules.json.
    """

    retain_uids: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = True
    retain_full_dates: bool = False
    retain_modified_dates: bool = True
    clean_descriptors: bool = True
    safe_private_tags: tuple[PrivateTagRule, ...] = ()
    blind_site: bool = False
    descriptor_policy: str = "vocabulary"
    keep_times: bool = False
    clean_pixel_data: bool = True
    ocr: bool = True
    ocr_modalities: tuple[str, ...] = ("OT", "RF", "ES", "XC", "GM", "DOC")
    ocr_frames: int = 3
    pixel_rules: tuple[PixelRule, ...] = ()

    def __post_init__(self) -> None:
        if self.retain_full_dates and self.retain_modified_dates:
            raise ValueError("choose full dates or modified dates, not both")
        if self.descriptor_policy not in DESCRIPTOR_POLICIES:
            raise ValueError(f"the descriptor policy is one of {', '.join(DESCRIPTOR_POLICIES)}")
        if self.ocr_frames < 1:
            raise ValueError("OCR needs at least one sampled frame")
        # A list would make the options unhashable and break the profile cache.
        object.__setattr__(self, "safe_private_tags", tuple(self.safe_private_tags))
        object.__setattr__(self, "pixel_rules", tuple(self.pixel_rules))
        object.__setattr__(self, "ocr_modalities", tuple(sorted({m.strip().upper() for m in self.ocr_modalities})))

    @property
    def shifts_times(self) -> bool:
        """Whether times of day move (modified dates without keep_times)."""
        return self.retain_modified_dates and not self.keep_times

    def searched_modalities(self) -> frozenset[str]:
        return frozenset(ALWAYS_SEARCHED_MODALITIES) | frozenset(self.ocr_modalities)


@dataclass(frozen=True)
class DeidContext:
    """Everything that is specific to one participant of one trial.

    `secret` is the per-trial key for UID remapping and patient keys; it is
    left out of repr() so it never ends up in a log line.
    `date_offset_days` is added to every date (negative moves dates back);
    use participant_date_offset() to derive it. `time_offset_seconds`
    (0..86399) is the seconds part of the same offset: date+time pairs and
    date-times move by days*86400 + seconds. Left as None it is derived
    from the secret and the subject code (participant_time_offset()), so
    every study of a participant gets the same one.
    `series_regions` are regions QC drew for a series, keyed by the
    de-identified SeriesInstanceUID: blanked in every frame of that series.
    """

    secret: bytes = field(repr=False)
    subject_code: str
    date_offset_days: int
    sponsor_name: str
    protocol_id: str
    protocol_name: str = ""
    site_id: str = ""
    site_name: str = ""
    timepoint_id: str = ""
    timepoint_description: str = ""
    coordinating_center_name: str = ""
    options: DeidOptions = field(default_factory=DeidOptions)
    time_offset_seconds: int | None = None
    series_regions: tuple[tuple[str, tuple[RedactionRegion, ...]], ...] = ()

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the trial secret must be at least 16 bytes")
        if self.time_offset_seconds is None:
            object.__setattr__(self, "time_offset_seconds", participant_time_offset(self.secret, self.subject_code))
        elif not 0 <= self.time_offset_seconds < 86400:
            raise ValueError("the seconds part of the offset is between 0 and 86399")
        object.__setattr__(
            self, "series_regions", tuple((uid, tuple(regions)) for uid, regions in self.series_regions)
        )
        _check_value("subject code", self.subject_code, 64, required=True)
        _check_value("sponsor name", self.sponsor_name, 64, required=True)
        _check_value("protocol id", self.protocol_id, 64, required=True)
        _check_value("protocol name", self.protocol_name, 64)
        _check_value("site id", self.site_id, 64)
        _check_value("site name", self.site_name, 64)
        _check_value("time point id", self.timepoint_id, 64)
        _check_value("time point description", self.timepoint_description, 10240)
        _check_value("coordinating center name", self.coordinating_center_name, 64)
        if self.options.retain_modified_dates and self.date_offset_days == 0:
            # A zero shift would label real dates as modified.
            raise ValueError("the date offset must not be zero when dates are modified")
        if abs(self.date_offset_days) > 36500:
            raise ValueError("the date offset must stay within 100 years")

    @property
    def key_secret(self) -> bytes:
        return self.secret

    @property
    def offset_seconds(self) -> int:
        """The whole offset in seconds that date+time pairs and date-times move by."""
        return self.date_offset_days * 86400 + int(self.time_offset_seconds or 0)

    def regions_for_series(self, series_uid: str) -> tuple[RedactionRegion, ...]:
        for uid, regions in self.series_regions:
            if uid == series_uid:
                return regions
        return ()


def _check_value(label: str, value: str, max_length: int, *, required: bool = False) -> None:
    if required and not value.strip():
        raise ValueError(f"the {label} is required")
    if len(value) > max_length:
        raise ValueError(f"the {label} is longer than {max_length} characters")
    if any(char in value for char in _FORBIDDEN_IN_VALUES):
        raise ValueError(f"the {label} must not contain a backslash or a line break")


class ContextFactory(Protocol):
    """Builds the context for a file once its patient key is known (see patient_key())."""

    @property
    def key_secret(self) -> bytes: ...

    def __call__(self, patient_key: str) -> DeidContext: ...


def participant_date_offset(
    secret: bytes, subject_code: str, *, max_days: int = 3650, min_days: int = 365
) -> int:
    """Return the participant's date shift in days: negative, between -max_days and -min_days.

    Derived from the trial secret and the subject code, so every study of a
    participant gets the same shift, and nobody without the secret can
    recompute it. The minimum keeps shifted dates clearly apart from the
    real ones.
    """
    if not 0 < min_days <= max_days:
        raise ValueError("need 0 < min_days <= max_days")
    digest = hmac.new(secret, b"date-offset\x00" + subject_code.encode("utf-8"), hashlib.sha256).digest()
    span = max_days - min_days + 1
    return -(min_days + int.from_bytes(digest[:8], "big") % span)


def participant_time_offset(secret: bytes, subject_code: str) -> int:
    """Return the seconds part of the participant's offset (1..86399), derived like participant_date_offset()."""
    digest = hmac.new(secret, b"time-offset\x00" + subject_code.encode("utf-8"), hashlib.sha256).digest()
    return 1 + int.from_bytes(digest[:8], "big") % 86399


def _normalized_identity(value: str) -> str:
    # "DOE^JOHN^^^" and "doe^john" are the same person written by two scanners.
    return value.strip().rstrip("^= ").upper()


def patient_key(secret: bytes, patient_id: str, patient_name: str, birth_date: str) -> str:
    """Return a keyed hash of a patient's identity (hex): comparable, not reversible, no PHI."""
    message = "\x00".join(
        (_normalized_identity(patient_id), _normalized_identity(patient_name), birth_date.strip())
    )
    return hmac.new(secret, b"patient-key\x00" + message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LocalContextFactory:
    """Context for de-identifying outside any trial (`deidentify` without --trial).

    The subject code is derived from the patient key, so each distinct
    patient in the input gets its own stable code and date shift, and a
    second run with the same secret gives the same result.
    """

    secret: bytes = field(repr=False)
    sponsor_name: str = "UNSPECIFIED"
    protocol_id: str = "UNSPECIFIED"
    subject_prefix: str = "SUBJ-"
    options: DeidOptions = field(default_factory=DeidOptions)

    @property
    def key_secret(self) -> bytes:
        return self.secret

    def __call__(self, patient_key: str) -> DeidContext:
        subject_code = f"{self.subject_prefix}{patient_key[:10].upper()}"
        return DeidContext(
            secret=self.secret,
            subject_code=subject_code,
            date_offset_days=participant_date_offset(self.secret, subject_code),
            sponsor_name=self.sponsor_name,
            protocol_id=self.protocol_id,
            options=self.options,
        )


def load_local_secret(path: str | os.PathLike[str] | None = None) -> bytes:
    """Return the local de-identification secret, creating it on first use.

    Order: the ICTMS_DEID_SECRET environment variable (hex), then the file at
    `path`, ICTMS_DEID_SECRET_FILE, or ~/.config/ictms/deid-secret. A missing
    file is created with 32 random bytes, readable by its owner only.
    """
    from_env = os.environ.get("ICTMS_DEID_SECRET")
    if from_env:
        try:
            secret = bytes.fromhex(from_env.strip())
        except ValueError:
            raise ValueError("ICTMS_DEID_SECRET must be hexadecimal") from None
        if len(secret) < 16:
            raise ValueError("ICTMS_DEID_SECRET must hold at least 16 bytes")
        return secret
    location = Path(
        path or os.environ.get("ICTMS_DEID_SECRET_FILE") or Path.home() / ".config" / "ictms" / "deid-secret"
    )
    if not location.exists():
        location.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(location, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    try:
        secret = bytes.fromhex(location.read_text().strip())
    except ValueError:
        raise ValueError(f"the secret file {location} must hold hexadecimal text") from None
    if len(secret) < 16:
        raise ValueError(f"the secret file {location} must hold at least 16 bytes")
    return secret
