"""Input of the read package writers: the final reads of a trial as plain frozen dataclasses (no Django).

The Django layer builds one `Trial` for a package and passes it to every writer
(`sdtm.build_datasets`, `csvs.results_csv`, `sr.build_measurement_report`, ...). What it must
provide, model by model:

- `Trial`: STUDYID (the trial's code as the sponsor's EDC knows it) and the included subjects
  (only cases whose reads are final up to the cut-off), plus the millimetres a "too small to
  measure" target counts (the read design's `RecistConfig.too_small_mm`).
- `Subject`: the subject code (USUBJID becomes STUDYID-code), the treatment start date (for
  --DY; None leaves --DY empty), the timepoints in reading order (baseline first) with
  VISITNUM, the VISIT label, the scan date as the site recorded it (--DTC; never a shifted or
  a read date) and the DICOM modality read (for --METHOD), the reads (one for a single read,
  two for a double read), and the governing adjudication decision if any.
- `Read`: the evaluator slot (1 = RADIOLOGIST 1, 2 = RADIOLOGIST 2), the timepoints at which
  this read is the accepted (final) one, its lesions, observations and the engine's results
  per timepoint (`results_from_assessment` maps a `reads.recist.ParticipantAssessment`), its
  best overall response and the VISITNUM its progression is dated to.
- `Lesion`: a stable identity (e.g. the lesion row's UUID; observations point to it), the
  label (T1, NT1, N1), kind, organ (lower-case name from the API's organ list), location
  text and whether it is a lymph node.
- `Observation`: lesion x timepoint: a status, the axes in mm with their 2-point polylines in
  image pixel coordinates (column, row) and the image they were drawn on (`ImageRef`: study,
  series, SOP class and instance UIDs, 1-based frame for multi-frame instances), or the reason
  a lesion was not evaluable.

`validate_trial` checks everything the writers rely on (one accepted read per subject and
timepoint, statuses that fit the lesion kind, measurements with their image, ...) and raises
`PackageInputError` naming the first problem; every writer calls it first.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from reads.recist.model import NewLesions, NonTargetResponse, OverallResponse, ParticipantAssessment, TargetResponse
from reads.recist.numbers import round_half_away_from_zero

__all__ = [
    "ADJUDICATOR",
    "Adjudication",
    "ImageRef",
    "Lesion",
    "LesionKind",
    "Observation",
    "ObservationStatus",
    "PackageInputError",
    "Point",
    "Read",
    "Subject",
    "Timepoint",
    "TimepointResult",
    "Trial",
    "all_reads",
    "deterministic_uid",
    "evaluator_name",
    "lesion_link_id",
    "lesion_tracking_uid",
    "results_from_assessment",
    "tracking_uid",
    "validate_trial",
]

ADJUDICATOR = "ADJUDICATOR"
Point = tuple[float, float]


class PackageInputError(ValueError):
    """The package input contradicts itself; the message names the subject, read and item."""


def evaluator_name(slot: int) -> str:
    """How a reader appears in every file of the package: never a name."""
    return f"RADIOLOGIST {slot}"


class LesionKind(StrEnum):
    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class ObservationStatus(StrEnum):
    MEASURED = "measured"  # a target (or a new lesion) measured on an image
    DISAPPEARED = "disappeared"  # a non-nodal target gone: 0 mm
    TOO_SMALL = "too_small"  # a target present but too small to measure: counts as Trial.too_small_mm
    NOT_EVALUABLE = "not_evaluable"  # any kind; `reason` says why
    PRESENT = "present"  # non-target
    ABSENT = "absent"  # non-target
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"  # non-target
    EQUIVOCAL = "equivocal"  # new lesion
    UNEQUIVOCAL = "unequivocal"  # new lesion (optionally measured as well)


ALLOWED_STATUSES: dict[LesionKind, frozenset[ObservationStatus]] = {
    LesionKind.TARGET: frozenset({
        ObservationStatus.MEASURED, ObservationStatus.DISAPPEARED, ObservationStatus.TOO_SMALL,
        ObservationStatus.NOT_EVALUABLE,
    }),
    LesionKind.NON_TARGET: frozenset({
        ObservationStatus.PRESENT, ObservationStatus.ABSENT, ObservationStatus.UNEQUIVOCAL_PROGRESSION,
        ObservationStatus.NOT_EVALUABLE,
    }),
    LesionKind.NEW: frozenset({ObservationStatus.EQUIVOCAL, ObservationStatus.UNEQUIVOCAL}),
}


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PackageInputError(f"not a number: {value!r}")
    return Decimal(str(value))


def _optional_decimal(value: object) -> Decimal | None:
    return None if value is None else _decimal(value)


@dataclass(frozen=True)
class ImageRef:
    """The image a measurement was drawn on (as stored, de-identified)."""

    study_uid: str
    series_uid: str
    sop_class_uid: str
    sop_instance_uid: str
    frame: int | None = None  # 1-based, for multi-frame instances only


@dataclass(frozen=True)
class Timepoint:
    visitnum: Decimal
    visit: str
    scan_date: date | None
    modality: str = "CT"

    def __post_init__(self) -> None:
        object.__setattr__(self, "visitnum", _decimal(self.visitnum))


@dataclass(frozen=True)
class Lesion:
    identity: str
    label: str
    kind: LesionKind
    organ: str
    location: str = ""
    lymph_node: bool = False
    # The UID the reading recorded for the lesion (the one the reading API shows); empty: derived from its TULNKID.
    uid: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LesionKind(self.kind))


@dataclass(frozen=True)
class Observation:
    """One lesion at one timepoint of one read."""

    lesion: str  # Lesion.identity
    visitnum: Decimal
    status: ObservationStatus
    long_axis_mm: Decimal | None = None
    short_axis_mm: Decimal | None = None
    long_axis: tuple[Point, Point] | None = None
    short_axis: tuple[Point, Point] | None = None
    image: ImageRef | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "visitnum", _decimal(self.visitnum))
        object.__setattr__(self, "status", ObservationStatus(self.status))
        object.__setattr__(self, "long_axis_mm", _optional_decimal(self.long_axis_mm))
        object.__setattr__(self, "short_axis_mm", _optional_decimal(self.short_axis_mm))

    @property
    def is_measured(self) -> bool:
        return self.long_axis_mm is not None or self.short_axis_mm is not None


@dataclass(frozen=True)
class TimepointResult:
    """The engine's result of one read at one timepoint; the baseline has only its sum."""

    visitnum: Decimal
    sum_mm: Decimal | None
    change_from_baseline_pct: Decimal | None = None  # rounded to one decimal
    change_from_nadir_pct: Decimal | None = None
    target: TargetResponse | None = None
    non_target: NonTargetResponse | None = None
    new_lesions: NewLesions | None = None
    overall: OverallResponse | None = None
    signed_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "visitnum", _decimal(self.visitnum))
        for name in ("sum_mm", "change_from_baseline_pct", "change_from_nadir_pct"):
            object.__setattr__(self, name, _optional_decimal(getattr(self, name)))
        # Plain strings from the Django layer become the engine's enums.
        for name, kind in (("target", TargetResponse), ("non_target", NonTargetResponse), ("new_lesions", NewLesions),
                           ("overall", OverallResponse)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, kind(value))


@dataclass(frozen=True)
class Read:
    slot: int
    lesions: tuple[Lesion, ...]
    observations: tuple[Observation, ...]
    results: tuple[TimepointResult, ...]
    accepted_visitnums: frozenset[Decimal]
    best_response: OverallResponse | None = None
    progression_visitnum: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted_visitnums", frozenset(_decimal(v) for v in self.accepted_visitnums))
        object.__setattr__(self, "progression_visitnum", _optional_decimal(self.progression_visitnum))
        if self.best_response is not None:
            object.__setattr__(self, "best_response", OverallResponse(self.best_response))

    @property
    def evaluator(self) -> str:
        return evaluator_name(self.slot)

    def lesion(self, identity: str) -> Lesion:
        return next(lesion for lesion in self.lesions if lesion.identity == identity)

    def result(self, visitnum: Decimal) -> TimepointResult | None:
        return next((r for r in self.results if r.visitnum == visitnum), None)

    def observations_at(self, visitnum: Decimal) -> list[Observation]:
        return [o for o in self.observations if o.visitnum == visitnum]


@dataclass(frozen=True)
class Adjudication:
    """The governing (latest non-superseded) decision: it covers every timepoint up to its own."""

    selected_slot: int
    up_to_visitnum: Decimal
    reason_code: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_to_visitnum", _decimal(self.up_to_visitnum))


@dataclass(frozen=True)
class Subject:
    code: str
    treatment_start: date | None
    timepoints: tuple[Timepoint, ...]
    reads: tuple[Read, ...]
    adjudication: Adjudication | None = None

    def timepoint(self, visitnum: Decimal) -> Timepoint:
        return next(tp for tp in self.timepoints if tp.visitnum == visitnum)

    def position(self, visitnum: Decimal) -> int:
        """1-based position of the timepoint in reading order (A1 = baseline in --LNKGRP)."""
        return next(i for i, tp in enumerate(self.timepoints, start=1) if tp.visitnum == visitnum)

    def accepted_read(self, visitnum: Decimal) -> Read | None:
        return next((r for r in self.reads if visitnum in r.accepted_visitnums), None)

    def final_source(self, visitnum: Decimal) -> str:
        """Where the final result of a timepoint comes from: ADJUDICATOR, AGREEMENT or SINGLE READ."""
        if self.adjudication is not None and visitnum <= self.adjudication.up_to_visitnum:
            return ADJUDICATOR
        return "AGREEMENT" if len(self.reads) > 1 else "SINGLE READ"


@dataclass(frozen=True)
class Trial:
    studyid: str
    subjects: tuple[Subject, ...]
    too_small_mm: Decimal = Decimal(5)
    criteria: str = "RECIST 1.1"

    def usubjid(self, subject: Subject) -> str:
        return f"{self.studyid}-{subject.code}"


_LABEL = re.compile(r"^([A-Za-z]+)(\d+)$")


def lesion_link_id(slot: int, label: str) -> str:
    """TULNKID/TRLNKID: the reader slot and the lesion label with a two-digit number (R1-T01, R2-NT03, R1-N01)."""
    match = _LABEL.match(label)
    body = f"{match.group(1).upper()}{int(match.group(2)):02d}" if match else label.upper()
    return f"R{slot}-{body}"


_UID_NAMESPACE = uuid.UUID("5b0f6e1e-3c55-5d6a-9a53-0c2f4f0d8a11")


def deterministic_uid(*parts: str) -> str:
    """A DICOM UID under 2.25 from a name-based (version 5) UUID of `parts`: equal parts, equal UID."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, chr(31).join(parts)).int}"


def tracking_uid(studyid: str, usubjid: str, link_id: str) -> str:
    """The lesion's SR tracking UID from its TULNKID identity: the same at every timepoint and export."""
    return deterministic_uid("ictms-lesion", studyid, usubjid, link_id)


def lesion_tracking_uid(trial: Trial, subject: Subject, lesion: Lesion, link_id: str) -> str:
    """The tracking UID every file of the package gives the lesion: the one recorded when it was read, so the SR
    matches what the reading API showed, or else one derived from its TULNKID (stable just the same)."""
    return lesion.uid or tracking_uid(trial.studyid, trial.usubjid(subject), link_id)


def results_from_assessment(
    assessment: ParticipantAssessment,
    *,
    baseline_visitnum: Decimal | int,
    followup_visitnums: Sequence[Decimal | int],
    signed_at: Mapping[Decimal, datetime] | None = None,
) -> tuple[tuple[TimepointResult, ...], OverallResponse, Decimal | None]:
    """Map the engine's assessment of one read onto (results, best response, progression VISITNUM).

    `followup_visitnums` are the VISITNUMs of the assessment's follow-ups in order; percentages
    are rounded to one decimal as the engine's output rules say.
    """
    followups = [_decimal(v) for v in followup_visitnums]
    if len(followups) != len(assessment.timepoints):
        raise PackageInputError(
            f"{len(assessment.timepoints)} assessed follow-ups but {len(followups)} VISITNUMs"
        )
    signed = {_decimal(k): v for k, v in (signed_at or {}).items()}
    baseline = _decimal(baseline_visitnum)

    def pct(value: Fraction | None) -> Decimal | None:
        return None if value is None else round_half_away_from_zero(value, 1)

    results = [TimepointResult(baseline, assessment.baseline_sum_mm, signed_at=signed.get(baseline))]
    for visitnum, tp in zip(followups, assessment.timepoints, strict=True):
        results.append(TimepointResult(
            visitnum, tp.sum_mm, pct(tp.pct_change_from_baseline), pct(tp.pct_change_from_nadir),
            tp.target_response, tp.non_target_response, tp.new_lesions, tp.overall_response, signed.get(visitnum),
        ))
    progression = None if assessment.progression_index is None else followups[assessment.progression_index]
    return tuple(results), assessment.best_overall_response, progression


def _check_points(where: str, points: tuple[Point, Point] | None, mm: Decimal | None, axis: str) -> None:
    if (points is None) != (mm is None):
        raise PackageInputError(f"{where}: the {axis} axis needs both its length in mm and its two end points")
    if points is not None:
        if len(points) != 2 or any(len(p) != 2 for p in points):
            raise PackageInputError(f"{where}: the {axis} axis must be two (column, row) points")
        if mm is not None and mm < 0:
            raise PackageInputError(f"{where}: the {axis} axis cannot be negative")


def _check_read(subject: Subject, read: Read, visitnums: set[Decimal]) -> None:
    where = f"subject {subject.code}, {read.evaluator}"
    identities = [lesion.identity for lesion in read.lesions]
    if len(set(identities)) != len(identities):
        raise PackageInputError(f"{where}: two lesions share an identity")
    links = [lesion_link_id(read.slot, lesion.label) for lesion in read.lesions]
    if len(set(links)) != len(links):
        raise PackageInputError(f"{where}: two lesions share a label")
    lesions = {lesion.identity: lesion for lesion in read.lesions}
    seen: set[tuple[str, Decimal]] = set()
    for obs in read.observations:
        lesion = lesions.get(obs.lesion)
        if lesion is None:
            raise PackageInputError(f"{where}: an observation names unknown lesion {obs.lesion!r}")
        at = f"{where}, lesion {lesion.label} at VISITNUM {obs.visitnum}"
        if obs.visitnum not in visitnums:
            raise PackageInputError(f"{at}: no such timepoint")
        if (obs.lesion, obs.visitnum) in seen:
            raise PackageInputError(f"{at}: observed twice")
        seen.add((obs.lesion, obs.visitnum))
        status = ObservationStatus(obs.status)
        if status not in ALLOWED_STATUSES[lesion.kind]:
            raise PackageInputError(f"{at}: status {status.value} does not apply to a {lesion.kind.value} lesion")
        _check_points(at, obs.long_axis, obs.long_axis_mm, "long")
        _check_points(at, obs.short_axis, obs.short_axis_mm, "short")
        if obs.is_measured and obs.image is None:
            raise PackageInputError(f"{at}: a measurement needs the image it was drawn on")
        # A new lesion, equivocal or not, may carry a measurement; targets only when MEASURED.
        measurable = status is ObservationStatus.MEASURED or lesion.kind is LesionKind.NEW
        if obs.is_measured and not measurable:
            raise PackageInputError(f"{at}: status {status.value} cannot carry a measurement")
        if status is ObservationStatus.MEASURED or (lesion.kind is LesionKind.NEW and obs.is_measured):
            needed = obs.short_axis_mm if lesion.lymph_node else obs.long_axis_mm
            if needed is None:
                axis = "short" if lesion.lymph_node else "long"
                raise PackageInputError(f"{at}: a measured {'node' if lesion.lymph_node else 'lesion'} needs its {axis} axis")
        if status is ObservationStatus.DISAPPEARED and lesion.lymph_node:
            raise PackageInputError(f"{at}: a lymph node is always measured, it cannot be 'disappeared'")
    result_visits = [r.visitnum for r in read.results]
    if len(set(result_visits)) != len(result_visits):
        raise PackageInputError(f"{where}: two results for one timepoint")
    for result in read.results:
        if result.visitnum not in visitnums:
            raise PackageInputError(f"{where}: a result for unknown VISITNUM {result.visitnum}")
    if not read.accepted_visitnums <= set(result_visits):
        raise PackageInputError(f"{where}: accepted at a timepoint it has no result for")
    if read.progression_visitnum is not None and read.progression_visitnum not in visitnums:
        raise PackageInputError(f"{where}: progression dated to unknown VISITNUM {read.progression_visitnum}")


def _check_subject(subject: Subject) -> None:
    where = f"subject {subject.code}"
    if not subject.code:
        raise PackageInputError("a subject without a code")
    visitnums = [tp.visitnum for tp in subject.timepoints]
    if len(set(visitnums)) != len(visitnums):
        raise PackageInputError(f"{where}: two timepoints share a VISITNUM")
    slots = [read.slot for read in subject.reads]
    if not subject.reads or len(subject.reads) > 2 or len(set(slots)) != len(slots) or not set(slots) <= {1, 2}:
        raise PackageInputError(f"{where}: reads must be one or two, in slots 1 and 2")
    for read in subject.reads:
        _check_read(subject, read, set(visitnums))
    for visitnum in visitnums:
        readers = [r for r in subject.reads if r.result(visitnum) is not None]
        accepted = [r for r in subject.reads if visitnum in r.accepted_visitnums]
        if readers and len(accepted) != 1:
            raise PackageInputError(
                f"{where}, VISITNUM {visitnum}: {len(accepted)} accepted reads (exactly one is required)"
            )
    if subject.adjudication is not None:
        adjudication = subject.adjudication
        if adjudication.selected_slot not in slots or len(slots) != 2:
            raise PackageInputError(f"{where}: the adjudication selects slot {adjudication.selected_slot}, not a read of a double-read case")
        for visitnum in visitnums:
            chosen = subject.accepted_read(visitnum)
            if visitnum <= adjudication.up_to_visitnum and chosen is not None and chosen.slot != adjudication.selected_slot:
                raise PackageInputError(
                    f"{where}, VISITNUM {visitnum}: the adjudicator selected {evaluator_name(adjudication.selected_slot)} "
                    f"but {chosen.evaluator} is accepted"
                )


def validate_trial(trial: Trial) -> None:
    """Raise PackageInputError for the first contradiction in the package input."""
    if not trial.studyid:
        raise PackageInputError("the trial has no STUDYID")
    codes = [s.code for s in trial.subjects]
    if len(set(codes)) != len(codes):
        raise PackageInputError("two subjects share a code")
    for subject in trial.subjects:
        _check_subject(subject)


def all_reads(trial: Trial) -> Iterable[tuple[Subject, Read]]:
    for subject in trial.subjects:
        for read in sorted(subject.reads, key=lambda r: r.slot):
            yield subject, read

