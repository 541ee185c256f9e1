"""A generated package input: single and double reads, an adjudication, too-small, disappeared and not-evaluable lesions.

Results come from the RECIST engine (through `results_from_assessment`), so the responses fit
the observations. Images are small synthetic CT series (`imaging.synthetic`), one per
subject and timepoint, and every measurement points at a real instance of them.

Subjects (STUDYID "ONC-301", treatment start 2024-03-05 for all):

- 101-001, double read, adjudicated for RADIOLOGIST 2 up to WEEK 16 (reason measurement):
  R1: T1 liver 50 -> 30 -> 22, T2 node (short axis) 20 -> 15 -> 12, NT1 bone present, present,
  absent. R2: T1 liver 52 -> 31 -> too small, T2 lung 25 -> not evaluable (motion) -> 20,
  NT1 bone present -> unequivocal progression at WEEK 16, new lesion N1 liver at WEEK 16
  (unequivocal, 12 mm).
- 101-002, single read by R1: T1 lung 30 -> disappeared, NT1 pleura present -> absent.
- 102-001, double read, readers agree (R1 reported): T1 kidney 40 -> 41 for both; R2 also has an
  equivocal new lesion N1 (adrenal gland) at WEEK 8 that makes no difference to the response.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from pydicom.dataset import Dataset

from reads.package.model import (
    Adjudication,
    ImageRef,
    Lesion,
    LesionKind,
    Observation,
    ObservationStatus,
    Read,
    Subject,
    Timepoint,
    Trial,
    results_from_assessment,
)
from reads.recist import (
    TOO_SMALL,
    Baseline,
    FollowUp,
    NewLesions,
    NonTargetLesion,
    NonTargetStatus,
    TargetLesion,
    assess_participant,
)
from tests.imaging.synthetic import make_ct_series

STUDYID = "ONC-301"
START = date(2024, 3, 5)
VISITS = [(D(1), "SCREENING", date(2024, 3, 1)), (D(2), "WEEK 8", date(2024, 4, 26)), (D(3), "WEEK 16", date(2024, 6, 21))]
PIXEL_MM = 0.7


@dataclass
class Images:
    """Header datasets of the generated series, by (subject, VISITNUM)."""

    series: dict[tuple[str, D], list[Dataset]] = field(default_factory=dict)

    def for_visit(self, subject: str, visitnum: D) -> list[Dataset]:
        key = (subject, visitnum)
        if key not in self.series:
            seed = zlib.crc32(f"{subject}/{visitnum}".encode()) % 10_000
            datasets = make_ct_series(3, rows=32, cols=32, seed=seed, study_date=date(2024, 1, 1)).datasets
            for ds in datasets:
                ds.PatientID = ds.PatientName = subject
            self.series[key] = datasets
        return self.series[key]

    def all(self) -> list[Dataset]:
        return [ds for datasets in self.series.values() for ds in datasets]


def _ref(ds: Dataset) -> ImageRef:
    return ImageRef(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPClassUID, ds.SOPInstanceUID)


def _axis(mm: D, row: float) -> tuple[tuple[float, float], tuple[float, float]]:
    return ((4.0, row), (4.0 + float(mm) / PIXEL_MM, row))


def _perpendicular(mm: D) -> tuple[tuple[float, float], tuple[float, float]]:
    return ((10.0, 2.0), (10.0, 2.0 + float(mm) / PIXEL_MM))


def _read(subject: str, slot: int, spec: dict, accepted: set[D], images: Images, visits=VISITS) -> Read:
    """spec: {"targets": {label: (organ, node, [values])}, "non_targets": {label: (organ, [statuses])},
    "new": {label: (organ, visit_index, status, mm or None)}} with values a number, "gone", "small" or "ne"."""
    lesions, observations = [], []
    engine_targets, engine_non_targets = [], []
    followups: list[dict] = [{"targets": {}, "non_targets": {}, "new": NewLesions.NO} for _ in visits[1:]]
    for label, (organ, node, values) in spec.get("targets", {}).items():
        identity = f"{subject}-{slot}-{label}"
        lesions.append(Lesion(identity, label, LesionKind.TARGET, organ, f"{organ} segment", node))
        for index, value in enumerate(values):
            visitnum = visits[index][0]
            ds = images.for_visit(subject, visitnum)[1]
            if isinstance(value, (int, float, D)):
                mm = D(str(value))
                short = (mm / 2).quantize(D("0.1")) if not node else mm
                long_ = mm if not node else mm + D(6)
                observations.append(Observation(identity, visitnum, ObservationStatus.MEASURED, long_, short,
                                                _axis(long_, 8.0), _perpendicular(short), _ref(ds)))
                engine_value = mm
            elif value == "gone":
                observations.append(Observation(identity, visitnum, ObservationStatus.DISAPPEARED))
                engine_value = D(0)
            elif value == "small":
                observations.append(Observation(identity, visitnum, ObservationStatus.TOO_SMALL))
                engine_value = TOO_SMALL
            else:
                observations.append(Observation(identity, visitnum, ObservationStatus.NOT_EVALUABLE, reason="motion artefact"))
                engine_value = None
            if index == 0:
                engine_targets.append(TargetLesion(identity, organ, node, engine_value))
            else:
                followups[index - 1]["targets"][identity] = engine_value
    status_map = {"present": (ObservationStatus.PRESENT, NonTargetStatus.PRESENT),
                  "absent": (ObservationStatus.ABSENT, NonTargetStatus.ABSENT),
                  "upd": (ObservationStatus.UNEQUIVOCAL_PROGRESSION, NonTargetStatus.UNEQUIVOCAL_PD),
                  "ne": (ObservationStatus.NOT_EVALUABLE, NonTargetStatus.NOT_EVALUATED)}
    for label, (organ, statuses) in spec.get("non_targets", {}).items():
        identity = f"{subject}-{slot}-{label}"
        lesions.append(Lesion(identity, label, LesionKind.NON_TARGET, organ))
        engine_non_targets.append(NonTargetLesion(identity, organ))
        for index, status in enumerate(statuses):
            ours, engine = status_map[status]
            observations.append(Observation(identity, visits[index][0], ours))
            if index > 0:
                followups[index - 1]["non_targets"][identity] = engine
    for label, (organ, index, status, mm) in spec.get("new", {}).items():
        identity = f"{subject}-{slot}-{label}"
        lesions.append(Lesion(identity, label, LesionKind.NEW, organ))
        visitnum = visits[index][0]
        if mm is not None:
            ds = images.for_visit(subject, visitnum)[2]
            observations.append(Observation(identity, visitnum, status, D(mm), None, _axis(D(mm), 20.0), None, _ref(ds)))
        else:
            observations.append(Observation(identity, visitnum, status))
        followups[index - 1]["new"] = NewLesions.YES if status is ObservationStatus.UNEQUIVOCAL else NewLesions.EQUIVOCAL
    assessment = assess_participant(
        Baseline(tuple(engine_targets), tuple(engine_non_targets)),
        [FollowUp(D(8 * (i + 1)), f["targets"], f["non_targets"], f["new"]) for i, f in enumerate(followups)],
    )
    signed = {v[0]: datetime(2024, 7, 1, 10, tzinfo=UTC) + timedelta(hours=i) for i, v in enumerate(visits)}
    results, best, progression = results_from_assessment(
        assessment, baseline_visitnum=visits[0][0], followup_visitnums=[v[0] for v in visits[1:]], signed_at=signed,
    )
    for index in range(len(visits)):
        images.for_visit(subject, visits[index][0])
    return Read(slot, tuple(lesions), tuple(observations), results, frozenset(accepted), best, progression)


def build_trial() -> tuple[Trial, Images]:
    images = Images()
    every = {v[0] for v in VISITS}
    timepoints = tuple(Timepoint(v, label, scan) for v, label, scan in VISITS)
    s1 = Subject("101-001", START, timepoints, (
        _read("101-001", 1, {
            "targets": {"T1": ("liver", False, [50, 30, 22]), "T2": ("lymph node", True, [20, 15, 12])},
            "non_targets": {"NT1": ("bone", ["present", "present", "absent"])},
        }, set(), images),
        _read("101-001", 2, {
            "targets": {"T1": ("liver", False, [52, 31, "small"]), "T2": ("lung", False, [25, "ne", 20])},
            "non_targets": {"NT1": ("bone", ["present", "present", "upd"])},
            "new": {"N1": ("liver", 2, ObservationStatus.UNEQUIVOCAL, 12)},
        }, every, images),
    ), Adjudication(2, D(3), "measurement"))
    two_visits = timepoints[:2]
    s2 = Subject("101-002", START, two_visits, (
        _read("101-002", 1, {
            "targets": {"T1": ("lung", False, [30, "gone"])},
            "non_targets": {"NT1": ("pleura", ["present", "absent"])},
        }, {D(1), D(2)}, images, visits=VISITS[:2]),
    ))
    s3 = Subject("102-001", START, two_visits, (
        _read("102-001", 1, {"targets": {"T1": ("kidney", False, [40, 41])}}, {D(1), D(2)}, images, visits=VISITS[:2]),
        _read("102-001", 2, {"targets": {"T1": ("kidney", False, [40, 41])},
                             "new": {"N1": ("adrenal gland", 1, ObservationStatus.EQUIVOCAL, None)}},
              set(), images, visits=VISITS[:2]),
    ))
    return Trial(STUDYID, (s1, s2, s3)), images
