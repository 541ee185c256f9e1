"""reads/results.csv and reads/lesions.csv of the read package (pure, no Django).

Input: the package `Trial` (see `model.py`). Values use the engine's spelling as the API does
(`CR`, `PR`, `SD`, `NON_CR_NON_PD`, `PD`, `NE`; new lesions `NO` / `YES` / `EQUIVOCAL`),
percentages with one decimal; readers appear as RADIOLOGIST 1 / RADIOLOGIST 2 and the
adjudicator as ADJUDICATOR.

- results.csv: one row per subject x timepoint x {FINAL, each reader's read}. FINAL copies the
  accepted read of that timepoint and says where it comes from (`source`: ADJUDICATOR when the
  governing decision covers the timepoint, AGREEMENT when two readers agree, SINGLE READ);
  its best response and progression are those of the read accepted at the subject's last
  timepoint. Progression is given as the timepoint (VISIT, VISITNUM) and its scan date as the
  site recorded it.
- audit/audit.csv (`audit_csv`): the audit events of the package's objects, one row per
  `AuditRow`, actors only as role pseudonyms (`ACTOR_PSEUDONYMS`: RADIOLOGIST 1/2 as the
  case's slot, ADJUDICATOR, TRIAL ADMIN, ...); any other actor is refused, so a name cannot
  slip into the package. The Django layer maps each event's actor to its pseudonym and
  leaves out of `detail` anything that names a person.
- lesions.csv: one row per read x lesion x timepoint observed: the lesion (link ID as in TU/TR,
  label, kind, organ, location, node), the status, the axes and the value RECIST counts (0 when
  disappeared, the charter's 5 mm when too small), the reason when not evaluable, the image
  (study / series / SOP UIDs, frame, both polylines as [[column, row], [column, row]]) and the
  SR tracking UID of the lesion.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .model import (
    ADJUDICATOR,
    LesionKind,
    Observation,
    ObservationStatus,
    PackageInputError,
    Read,
    Subject,
    TimepointResult,
    Trial,
    all_reads,
    lesion_link_id,
    lesion_tracking_uid,
    validate_trial,
)
from .sdtm import study_day

__all__ = [
    "ACTOR_PSEUDONYMS",
    "AUDIT_COLUMNS",
    "LESION_COLUMNS",
    "RESULT_COLUMNS",
    "AuditRow",
    "audit_csv",
    "lesions_csv",
    "results_csv",
]

ACTOR_PSEUDONYMS = frozenset({
    "RADIOLOGIST 1", "RADIOLOGIST 2", ADJUDICATOR, "TRIAL ADMIN", "QC ANALYST", "SITE COORDINATOR", "SPONSOR",
    "AUDITOR", "SYSTEM",
})
AUDIT_COLUMNS = ("at", "actor", "action", "object_type", "object_id", "subject", "visit", "detail")

RESULT_COLUMNS = (
    "subject", "visitnum", "visit", "scan_date", "study_day", "read", "evaluator", "accepted", "source",
    "sum_mm", "change_from_baseline_pct", "change_from_nadir_pct", "target_response", "non_target_response",
    "new_lesions", "overall_response", "best_response", "progression_visit", "progression_visitnum",
    "progression_date",
)
LESION_COLUMNS = (
    "subject", "evaluator", "accepted", "link_id", "label", "kind", "organ", "location", "lymph_node",
    "visitnum", "visit", "scan_date", "status", "long_axis_mm", "short_axis_mm", "counted_mm",
    "not_evaluable_reason", "study_uid", "series_uid", "sop_class_uid", "sop_instance_uid", "frame",
    "long_axis_points", "short_axis_points", "tracking_uid",
)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        normalized = value.normalize()
        return str(int(normalized)) if normalized == normalized.to_integral_value() else format(normalized, "f")
    return str(value)


_PERCENT_COLUMNS = ("change_from_baseline_pct", "change_from_nadir_pct")


def _write(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.1f}" if k in _PERCENT_COLUMNS and v is not None else _text(v)) for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def _final_read(subject: Subject) -> Read | None:
    for tp in reversed(subject.timepoints):
        read = subject.accepted_read(tp.visitnum)
        if read is not None:
            return read
    return None


def _result_row(subject: Subject, read: Read, result: TimepointResult, label: str, source: str) -> dict[str, object]:
    tp = subject.timepoint(result.visitnum)
    progression = subject.timepoint(read.progression_visitnum) if read.progression_visitnum is not None else None
    return {
        "subject": subject.code, "visitnum": tp.visitnum, "visit": tp.visit,
        "scan_date": tp.scan_date.isoformat() if tp.scan_date else "",
        "study_day": study_day(tp.scan_date, subject.treatment_start),
        "read": label, "evaluator": read.evaluator,
        "accepted": "Y" if result.visitnum in read.accepted_visitnums else "", "source": source,
        "sum_mm": result.sum_mm, "change_from_baseline_pct": result.change_from_baseline_pct,
        "change_from_nadir_pct": result.change_from_nadir_pct,
        "target_response": result.target, "non_target_response": result.non_target,
        "new_lesions": result.new_lesions, "overall_response": result.overall,
        "best_response": read.best_response,
        "progression_visit": progression.visit if progression else "",
        "progression_visitnum": progression.visitnum if progression else None,
        "progression_date": progression.scan_date.isoformat() if progression and progression.scan_date else "",
    }


def results_csv(trial: Trial) -> bytes:
    validate_trial(trial)
    rows = []
    for subject in trial.subjects:
        final = _final_read(subject)
        for tp in subject.timepoints:
            accepted = subject.accepted_read(tp.visitnum)
            if accepted is not None and final is not None:
                result = accepted.result(tp.visitnum)
                assert result is not None
                row = _result_row(subject, accepted, result, "FINAL", subject.final_source(tp.visitnum))
                # The case's best response and progression come from one read: the final one.
                row.update({k: v for k, v in _result_row(subject, final, result, "FINAL", "").items()
                            if k.startswith(("best_", "progression_"))})
                rows.append(row)
            for read in sorted(subject.reads, key=lambda r: r.slot):
                own = read.result(tp.visitnum)
                if own is not None:
                    rows.append(_result_row(subject, read, own, read.evaluator, ""))
    return _write(RESULT_COLUMNS, rows)


def counted_mm(trial: Trial, lymph_node: bool, obs: Observation) -> Decimal | None:
    """The millimetres RECIST counts for a target observation (None when nothing is counted)."""
    status = ObservationStatus(obs.status)
    if status is ObservationStatus.DISAPPEARED:
        return Decimal(0)
    if status is ObservationStatus.TOO_SMALL:
        return trial.too_small_mm
    if status is ObservationStatus.MEASURED:
        return obs.short_axis_mm if lymph_node else obs.long_axis_mm
    return None


def _points(points: tuple[tuple[float, float], tuple[float, float]] | None) -> str:
    return "" if points is None else json.dumps([list(p) for p in points])


def lesions_csv(trial: Trial) -> bytes:
    validate_trial(trial)
    rows = []
    for subject, read in all_reads(trial):
        lesions = {lesion.identity: lesion for lesion in read.lesions}
        ordered = sorted(read.observations, key=lambda o: (subject.position(o.visitnum), lesion_link_id(read.slot, lesions[o.lesion].label)))
        for obs in ordered:
            lesion = lesions[obs.lesion]
            tp = subject.timepoint(obs.visitnum)
            link_id = lesion_link_id(read.slot, lesion.label)
            image = obs.image
            rows.append({
                "subject": subject.code, "evaluator": read.evaluator,
                "accepted": "Y" if obs.visitnum in read.accepted_visitnums else "",
                "link_id": link_id, "label": lesion.label, "kind": lesion.kind.value, "organ": lesion.organ,
                "location": lesion.location, "lymph_node": "Y" if lesion.lymph_node else "N",
                "visitnum": tp.visitnum, "visit": tp.visit, "scan_date": tp.scan_date.isoformat() if tp.scan_date else "",
                "status": ObservationStatus(obs.status).value, "long_axis_mm": obs.long_axis_mm,
                "short_axis_mm": obs.short_axis_mm,
                "counted_mm": counted_mm(trial, lesion.lymph_node, obs) if lesion.kind is LesionKind.TARGET else None,
                "not_evaluable_reason": obs.reason if obs.status is ObservationStatus.NOT_EVALUABLE else "",
                "study_uid": image.study_uid if image else "", "series_uid": image.series_uid if image else "",
                "sop_class_uid": image.sop_class_uid if image else "",
                "sop_instance_uid": image.sop_instance_uid if image else "",
                "frame": image.frame if image else None,
                "long_axis_points": _points(obs.long_axis), "short_axis_points": _points(obs.short_axis),
                "tracking_uid": lesion_tracking_uid(trial, subject, lesion, link_id),
            })
    return _write(LESION_COLUMNS, rows)



@dataclass(frozen=True)
class AuditRow:
    """One audit event of an object in the package, its actor already replaced by a role pseudonym."""

    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    subject: str = ""
    visit: str = ""
    detail: str = ""


def audit_csv(rows: Iterable[AuditRow]) -> bytes:
    """audit/audit.csv in time order; refuses an actor that is not a role pseudonym."""
    ordered = sorted(rows, key=lambda r: (r.at.astimezone(UTC) if r.at.tzinfo else r.at, r.object_type, r.object_id))
    out = []
    for row in ordered:
        if row.actor not in ACTOR_PSEUDONYMS:
            raise PackageInputError(f"audit actor {row.actor!r} is not a role pseudonym ({', '.join(sorted(ACTOR_PSEUDONYMS))})")
        moment = row.at.astimezone(UTC) if row.at.tzinfo else row.at
        out.append({"at": moment.isoformat(), "actor": row.actor, "action": row.action, "object_type": row.object_type,
                    "object_id": row.object_id, "subject": row.subject, "visit": row.visit, "detail": row.detail})
    return _write(AUDIT_COLUMNS, out)
