"""What automated QC reads and returns: typed inputs, findings, requirement matches, the severity policy.

Pure Python (no Django). The caller (a thin adapter over the ORM) builds the inputs from the
de-identified Series / Instance rows and the visit's ImagingRequirements, and stores the outputs.
Every date here is in the participant's *shifted* frame: the instance dates come out of
de-identification already shifted, so the caller shifts the visit window and the site-reported
scan date by the same secret offset before calling. Messages therefore never print an absolute
date (a site coordinator knows the real dates; printing shifted ones would confuse them and
reveal the offset): they speak in days before/after the window instead.

Severity policy (`DEFAULT_SEVERITY`, overridable per trial through `severity_policy`):

- blocking: the protocol is not met and only the site can fix it (re-send, send what is missing,
  confirm a date). The caller opens a query to the site automatically and the visit cannot be
  accepted while the finding stands.
- warning: a QC analyst must look before the visit is accepted (pass or fail the series, or raise a
  manual query), but no query is opened automatically, because either the header is ambiguous
  (contrast not recorded, positions missing) or the site cannot fix it (text burned into
  ultrasound pixels) and an automatic query would only be noise for the site.
- info: shown on the review page, no action needed (an extra series, a window that is not known).

Burned-in annotation is a *warning* on purpose: design.md asks to flag it for QC rather than pass
it silently, and the risk is PHI reaching readers, which the core lab controls (review, mask or
exclude the series), not the site. Ultrasound always carries burned-in text, so an automatic query
for every ultrasound series would be unanswerable. A trial that wants the site to re-export
without annotations overrides it to blocking.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

RequirementId: TypeAlias = int | str
Vector3: TypeAlias = tuple[float, float, float]
Orientation: TypeAlias = tuple[float, float, float, float, float, float]


class Severity(StrEnum):
    """How a finding is acted on (see the module docstring)."""

    BLOCKING = "blocking"
    WARNING = "warning"
    INFO = "info"


class FindingCode(StrEnum):
    """Stable identifiers of what failed; stored in the database, so never rename a value.

    The declaration order is the order findings are listed in within one series (or the visit).
    """

    # visit level
    UNREADABLE_FILES = "unreadable_files"
    MULTIPLE_STUDIES = "multiple_studies"
    SCAN_DATE_OUTSIDE_WINDOW = "scan_date_outside_window"
    SCAN_DATE_MISMATCH = "scan_date_mismatch"
    SCAN_DATE_MISSING = "scan_date_missing"
    VISIT_WINDOW_UNKNOWN = "visit_window_unknown"
    REQUIRED_SERIES_MISSING = "required_series_missing"
    # series level: what the series is
    WRONG_MODALITY = "wrong_modality"
    UNREADABLE_INSTANCES = "unreadable_instances"
    MIXED_MODALITY = "mixed_modality"
    BURNED_IN_ANNOTATION = "burned_in_annotation"
    BURNED_IN_ANNOTATION_POSSIBLE = "burned_in_annotation_possible"
    # series level: checked against the requirement the series is used for
    SLICE_THICKNESS_EXCEEDED = "slice_thickness_exceeded"
    SLICE_THICKNESS_MISSING = "slice_thickness_missing"
    PIXEL_SPACING_OUT_OF_RANGE = "pixel_spacing_out_of_range"
    PIXEL_SPACING_MISSING = "pixel_spacing_missing"
    MATRIX_TOO_SMALL = "matrix_too_small"
    CONTRAST_MISSING = "contrast_missing"
    CONTRAST_NOT_ALLOWED = "contrast_not_allowed"
    CONTRAST_UNCERTAIN = "contrast_uncertain"
    MIXED_IMAGE_SIZE = "mixed_image_size"
    MIXED_ORIENTATION = "mixed_orientation"
    MISSING_SLICES = "missing_slices"
    IRREGULAR_SLICE_SPACING = "irregular_slice_spacing"
    INSTANCE_NUMBER_GAP = "instance_number_gap"
    SLICE_POSITION_MISSING = "slice_position_missing"
    DUPLICATE_SLICES = "duplicate_slices"
    SLICES_NOT_CONTIGUOUS = "slices_not_contiguous"
    TOO_FEW_SLICES = "too_few_slices"
    COVERAGE_TOO_SHORT = "coverage_too_short"
    # series level: not used for any requirement
    SERIES_NOT_IN_PROTOCOL = "series_not_in_protocol"


B, W, I = Severity.BLOCKING, Severity.WARNING, Severity.INFO  # noqa: E741  (the policy table reads as B/W/I)
C = FindingCode

#: The default severity of every finding code. One table so a trial admin can override it
#: (`severity_policy`) without touching the rules; the comments say why each default was chosen.
DEFAULT_SEVERITY: Mapping[FindingCode, Severity] = {
    C.UNREADABLE_FILES: W,  # may be a stray non-image file in the archive; the analyst judges
    C.MULTIPLE_STUDIES: B,  # only the site knows which session belongs to the visit
    C.SCAN_DATE_OUTSIDE_WINDOW: B,  # a protocol deviation the site must confirm or explain
    C.SCAN_DATE_MISMATCH: W,  # usually a typo in the transmittal form; the images are right
    C.SCAN_DATE_MISSING: W,
    C.VISIT_WINDOW_UNKNOWN: I,  # e.g. baseline before treatment start is known
    C.REQUIRED_SERIES_MISSING: B,
    C.WRONG_MODALITY: B,
    C.UNREADABLE_INSTANCES: B,  # damaged in transfer: re-sending fixes it
    C.MIXED_MODALITY: W,
    C.BURNED_IN_ANNOTATION: W,  # see module docstring: QC reviews, the site usually cannot fix it
    C.BURNED_IN_ANNOTATION_POSSIBLE: W,
    C.SLICE_THICKNESS_EXCEEDED: B,
    C.SLICE_THICKNESS_MISSING: W,  # cannot verify; the analyst looks at the images
    C.PIXEL_SPACING_OUT_OF_RANGE: B,
    C.PIXEL_SPACING_MISSING: W,  # calipers would measure pixels, not mm: analyst decides
    C.MATRIX_TOO_SMALL: B,
    C.CONTRAST_MISSING: B,
    C.CONTRAST_NOT_ALLOWED: B,
    C.CONTRAST_UNCERTAIN: W,  # header and description disagree; sites often leave the agent empty
    C.MIXED_IMAGE_SIZE: W,
    C.MIXED_ORIENTATION: W,
    C.MISSING_SLICES: B,
    C.IRREGULAR_SLICE_SPACING: B,
    C.INSTANCE_NUMBER_GAP: W,  # numbering skips but positions are continuous: likely complete
    C.SLICE_POSITION_MISSING: W,  # spacing cannot be verified; often a PACS export quirk
    C.DUPLICATE_SLICES: W,  # two reconstructions merged, or images sent twice under new UIDs
    C.SLICES_NOT_CONTIGUOUS: B,
    C.TOO_FEW_SLICES: B,
    C.COVERAGE_TOO_SHORT: B,
    C.SERIES_NOT_IN_PROTOCOL: I,  # scouts, dose reports, extra reconstructions
}

#: The query category (imaging.choices.QueryCategory value) a query raised from a finding gets.
QUERY_CATEGORY: Mapping[FindingCode, str] = {
    **dict.fromkeys(
        (C.REQUIRED_SERIES_MISSING, C.WRONG_MODALITY, C.MISSING_SLICES, C.TOO_FEW_SLICES, C.COVERAGE_TOO_SHORT,
         C.UNREADABLE_INSTANCES, C.UNREADABLE_FILES, C.SERIES_NOT_IN_PROTOCOL),
        "missing_images",
    ),
    **dict.fromkeys(
        (C.SLICE_THICKNESS_EXCEEDED, C.SLICE_THICKNESS_MISSING, C.PIXEL_SPACING_OUT_OF_RANGE, C.PIXEL_SPACING_MISSING,
         C.MATRIX_TOO_SMALL, C.CONTRAST_MISSING, C.CONTRAST_NOT_ALLOWED, C.CONTRAST_UNCERTAIN, C.IRREGULAR_SLICE_SPACING,
         C.INSTANCE_NUMBER_GAP, C.SLICE_POSITION_MISSING, C.DUPLICATE_SLICES, C.SLICES_NOT_CONTIGUOUS,
         C.MIXED_IMAGE_SIZE, C.MIXED_ORIENTATION, C.MIXED_MODALITY),
        "acquisition",
    ),
    **dict.fromkeys(
        (C.SCAN_DATE_OUTSIDE_WINDOW, C.SCAN_DATE_MISMATCH, C.SCAN_DATE_MISSING, C.VISIT_WINDOW_UNKNOWN), "scan_date"
    ),
    C.MULTIPLE_STUDIES: "identity",
    C.BURNED_IN_ANNOTATION: "burned_in",
    C.BURNED_IN_ANNOTATION_POSSIBLE: "burned_in",
}
#: What each finding code means, in a trial admin's words (the severity table of the trial settings).
FINDING_TITLES: Mapping[FindingCode, str] = {
    C.UNREADABLE_FILES: "Files that are not readable DICOM images",
    C.MULTIPLE_STUDIES: "More than one scan session in the visit",
    C.SCAN_DATE_OUTSIDE_WINDOW: "Scan date outside the visit window",
    C.SCAN_DATE_MISMATCH: "Scan date on the transmittal differs from the images",
    C.SCAN_DATE_MISSING: "No scan date",
    C.VISIT_WINDOW_UNKNOWN: "Visit window not known yet",
    C.REQUIRED_SERIES_MISSING: "A required series is missing",
    C.WRONG_MODALITY: "Wrong modality",
    C.UNREADABLE_INSTANCES: "Images that cannot be read",
    C.MIXED_MODALITY: "Mixed modalities in one series",
    C.BURNED_IN_ANNOTATION: "Burned-in annotation (text in the pixels)",
    C.BURNED_IN_ANNOTATION_POSSIBLE: "Possible burned-in annotation",
    C.SLICE_THICKNESS_EXCEEDED: "Slices thicker than required",
    C.SLICE_THICKNESS_MISSING: "Slice thickness not recorded",
    C.PIXEL_SPACING_OUT_OF_RANGE: "Pixel spacing outside the required range",
    C.PIXEL_SPACING_MISSING: "Pixel spacing not recorded",
    C.MATRIX_TOO_SMALL: "Image matrix smaller than required",
    C.CONTRAST_MISSING: "Contrast required but not given",
    C.CONTRAST_NOT_ALLOWED: "Contrast given but not allowed",
    C.CONTRAST_UNCERTAIN: "Contrast cannot be confirmed",
    C.MIXED_IMAGE_SIZE: "Images of different sizes in one series",
    C.MIXED_ORIENTATION: "Images of different orientations in one series",
    C.MISSING_SLICES: "Slices missing",
    C.IRREGULAR_SLICE_SPACING: "Irregular slice spacing",
    C.INSTANCE_NUMBER_GAP: "Gap in the image numbering",
    C.SLICE_POSITION_MISSING: "Slice positions not recorded",
    C.DUPLICATE_SLICES: "Duplicate slices",
    C.SLICES_NOT_CONTIGUOUS: "Gaps between slices",
    C.TOO_FEW_SLICES: "Fewer slices than required",
    C.COVERAGE_TOO_SHORT: "Scan does not cover the required length",
    C.SERIES_NOT_IN_PROTOCOL: "Series not asked for by the protocol",
}
del B, W, I, C


@dataclass(frozen=True)
class FindingKind:
    """One entry of the finding registry: a code, what it means, how it is handled unless a trial says otherwise."""

    code: FindingCode
    title: str
    default_severity: Severity


def finding_registry() -> list[FindingKind]:
    """Every finding code automated QC can raise, in declaration order: the one list settings and pages read."""
    return [FindingKind(code, FINDING_TITLES[code], DEFAULT_SEVERITY[code]) for code in FindingCode]


def severity_policy(overrides: Mapping[str, str] | None = None) -> dict[FindingCode, Severity]:
    """The default policy with a trial's overrides applied (code -> "blocking" | "warning" | "info").

    Raises ValueError naming an unknown code or severity, so a bad setting fails when it is saved.
    """
    policy = dict(DEFAULT_SEVERITY)
    for code, severity in (overrides or {}).items():
        try:
            policy[FindingCode(code)] = Severity(severity)
        except ValueError as error:
            raise ValueError(f"Invalid QC severity override {code!r}: {severity!r} ({error}).") from None
    return policy


# --------------------------------------------------------------------------- inputs


def _floats(value: Iterable[float] | None, length: int) -> tuple[float, ...] | None:
    """A header vector as floats, or None when it is absent or malformed (wrong count, not a
    number, infinite): QC then reports the value as missing instead of failing the whole visit."""
    if value is None:
        return None
    try:
        floats = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(floats) != length or not all(math.isfinite(f) for f in floats):
        return None
    return floats


@dataclass(frozen=True)
class InstanceInfo:
    """The header values of one de-identified instance that QC needs.

    Sequences may be given as lists (as stored in JSON); they are kept as tuples so instances are
    hashable and comparable, and a malformed one becomes None. `frame_positions` holds one
    ImagePositionPatient per frame for an enhanced multi-frame object
    (PerFrameFunctionalGroupsSequence); without it only the first frame's position
    (`image_position`) is known.
    """

    sop_uid: str
    instance_number: int | None = None
    image_position: Vector3 | None = None
    image_orientation: Orientation | None = None
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    pixel_spacing: tuple[float, float] | None = None
    rows: int | None = None
    columns: int | None = None
    number_of_frames: int = 1
    modality: str = ""
    sop_class_uid: str = ""
    acquisition_date: dt.date | None = None  # shifted
    contrast_agent: str = ""  # ContrastBolusAgent; empty when absent
    burned_in_annotation: str | None = None  # BurnedInAnnotation as written ("YES", "NO") or None
    study_uid: str = ""
    readable: bool = True  # False when the pixel data could not be decoded
    frame_positions: tuple[Vector3 | None, ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "image_position", _floats(self.image_position, 3))
        set_(self, "image_orientation", _floats(self.image_orientation, 6))
        set_(self, "pixel_spacing", _floats(self.pixel_spacing, 2))
        if self.frame_positions is not None:
            set_(self, "frame_positions", tuple(_floats(p, 3) for p in self.frame_positions))
        set_(self, "number_of_frames", max(1, int(self.number_of_frames or 1)))


@dataclass(frozen=True)
class SeriesInfo:
    """One de-identified series of the visit with its instances.

    `burned_in` / `burned_in_reason` mirror the flag de-identification set on the Series row, and
    `flags` the union of its per-file QC flags ("burned_in_annotation", "ultrasound",
    "secondary_capture", "recognizable_visual_features"). `study_uid` and `study_date` come from
    the parent Study and are used when the instances do not carry them.
    """

    series_uid: str
    series_number: int | None = None
    description: str = ""
    modality: str = ""
    body_part: str = ""
    instances: tuple[InstanceInfo, ...] = ()
    burned_in: bool = False
    burned_in_reason: str = ""
    flags: frozenset[str] = frozenset()
    study_uid: str = ""
    study_date: dt.date | None = None  # shifted

    def __post_init__(self) -> None:
        object.__setattr__(self, "instances", tuple(self.instances))
        object.__setattr__(self, "flags", frozenset(self.flags))


class ContrastRule(StrEnum):
    """Same values as trials.choices.ContrastRule."""

    REQUIRED = "required"
    NOT_ALLOWED = "not_allowed"
    EITHER = "either"


@dataclass(frozen=True)
class RequirementRules:
    """One ImagingRequirement of the visit's timepoint, as QC applies it.

    The first block mirrors the existing model fields; the second holds the knobs a core lab
    sets per requirement on the set-up pages (defaults are what QC does when nobody set them):

    - slice_gap_tolerance: relative tolerance on the distance between neighbouring slices
      (0.1 = a spacing within 10 % of the series' usual spacing is regular).
    - allow_multiple_studies: more than one study (scan session) for the visit is expected; if
      any requirement of the visit allows it, the visit is not flagged.
    - body_part_keywords: the BodyPartExamined / SeriesDescription words accepted for this
      requirement (e.g. CHEST, THORAX, CAP). Empty: derived from `body_region` with the built-in
      vocabulary (imaging.qc.rules.vocabulary), which knows the usual synonyms and combined terms.
    - min_matrix: smallest accepted Rows and Columns (e.g. 512).
    - min_coverage_mm: shortest accepted extent along the slice direction (e.g. 300 mm for CAP).
    - require_contiguous_slices: slice spacing may not exceed the slice thickness (no gaps
      between slices), within `slice_gap_tolerance`.
    """

    id: RequirementId
    modality: str
    body_region: str = ""
    contrast: ContrastRule | str = ContrastRule.EITHER
    max_slice_thickness_mm: float | None = None
    min_pixel_spacing_mm: float | None = None
    max_pixel_spacing_mm: float | None = None
    min_slices: int | None = None
    required: bool = True
    other_rules: str = ""
    slice_gap_tolerance: float = 0.1
    allow_multiple_studies: bool = False
    body_part_keywords: tuple[str, ...] = ()
    min_matrix: int | None = None
    min_coverage_mm: float | None = None
    require_contiguous_slices: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "contrast", ContrastRule(self.contrast))
        set_(self, "body_part_keywords", tuple(self.body_part_keywords))
        # DecimalFields arrive as Decimal; QC compares floats.
        for name in ("max_slice_thickness_mm", "min_pixel_spacing_mm", "max_pixel_spacing_mm", "min_coverage_mm"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, float(value))
        if not 0 <= float(self.slice_gap_tolerance) < 1:
            raise ValueError("slice_gap_tolerance must be a fraction between 0 and 1.")
        set_(self, "slice_gap_tolerance", float(self.slice_gap_tolerance))


@dataclass(frozen=True)
class UnreadableFile:
    """A file of the visit's submissions that could not be read as DICOM (no series to attach it to)."""

    name: str  # the scrubbed display name
    reason: str = ""


@dataclass(frozen=True)
class VisitContext:
    """The visit being checked. Dates are shifted by the participant's offset by the caller.

    `window_start` / `window_end` may each be None (open-ended, or unknown before the anchor date
    is known). `reported_scan_date` is the scan date the site typed on the transmittal form.
    `scan_date_tolerance_days` is how far the reported date may differ from the header date.
    """

    timepoint_code: str = ""
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    reported_scan_date: dt.date | None = None
    scan_date_tolerance_days: int = 0
    unreadable_files: tuple[UnreadableFile, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "unreadable_files", tuple(self.unreadable_files))


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Finding:
    """One failed check, in words a site coordinator understands, with the numbers behind it.

    `series_uid` is None for a visit-level finding; `study_uid` is set for study-level ones (scan
    date). `details` holds JSON-ready measured-versus-expected values for the review page
    ("header value next to the requirement"). `key` identifies the finding across recomputations,
    so the caller can tell which findings a re-upload fixed.
    """

    code: FindingCode
    severity: Severity
    message: str
    series_uid: str | None = None
    requirement_id: RequirementId | None = None
    study_uid: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        requirement = "" if self.requirement_id is None else str(self.requirement_id)
        return (str(self.code), requirement, self.series_uid or "", self.study_uid or "")

    @property
    def is_blocking(self) -> bool:
        return self.severity == Severity.BLOCKING

    def as_dict(self) -> dict[str, object]:
        return {
            "code": str(self.code),
            "severity": str(self.severity),
            "message": self.message,
            "series_uid": self.series_uid,
            "requirement_id": self.requirement_id,
            "study_uid": self.study_uid,
            "details": dict(self.details),
        }


class MatchReason(StrEnum):
    """Why a series was considered for a requirement (strongest first)."""

    BODY_PART = "body_part"  # BodyPartExamined names the region
    DESCRIPTION = "description"  # only the series description names it
    MODALITY_ONLY = "modality_only"  # the header names no region at all; right modality


@dataclass(frozen=True)
class CandidateSeries:
    """A series of the right modality and region for a requirement, and how it fared."""

    series_uid: str
    series_number: int | None
    description: str
    reason: MatchReason
    regions: tuple[str, ...]  # the requirement's regions this series covers
    chosen: bool  # used to satisfy the requirement
    failed: tuple[FindingCode, ...]  # blocking and warning checks it fails against the requirement


@dataclass(frozen=True)
class RequirementMatch:
    """Which series satisfy one requirement, and why (or why nothing does)."""

    requirement_id: RequirementId
    satisfied: bool  # every region covered by chosen series with no blocking finding
    series_uids: tuple[str, ...]  # the chosen series
    regions: tuple[str, ...]  # the regions the requirement asks for (canonical names)
    missing_regions: tuple[str, ...]
    candidates: tuple[CandidateSeries, ...]
    explanation: str
    manual_checks: str = ""  # the requirement's free-text rules, for the analyst to verify by eye


@dataclass(frozen=True)
class SeriesMeasurements:
    """The header values QC derived for one series, to show next to the requirement."""

    series_uid: str
    series_number: int | None
    description: str
    modality: str
    study_uid: str
    images: int  # instances after removing duplicates
    frames: int
    slices: int  # distinct slice positions when known, else frames
    slice_thickness_mm: tuple[float, float] | None  # (min, max)
    pixel_spacing_mm: tuple[float, float] | None  # (min, max) over rows and columns
    matrix: tuple[int, int] | None  # smallest (rows, columns)
    slice_spacing_mm: float | None  # the usual distance between neighbouring slices
    coverage_mm: float | None
    contrast_agent: str
    scan_date: dt.date | None  # shifted
    unreadable: int


@dataclass(frozen=True)
class QcResult:
    """Everything automated QC concluded about a visit; equal inputs give an equal result."""

    findings: tuple[Finding, ...]
    matches: tuple[RequirementMatch, ...]
    measurements: tuple[SeriesMeasurements, ...] = ()

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_blocking)

    def for_series(self, series_uid: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.series_uid == series_uid)

    def codes(self) -> list[str]:
        return [str(f.code) for f in self.findings]


def requirement_sort_key(requirement_id: RequirementId) -> tuple[int, int, str]:
    """Integers in numeric order, then strings; never compares an int with a str."""
    if isinstance(requirement_id, int):
        return (0, requirement_id, "")
    return (1, 0, str(requirement_id))


def series_sort_key(number: int | None, uid: str) -> tuple[bool, int, str]:
    return (number is None, number if number is not None else 0, uid)


def unique_in_order(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))
