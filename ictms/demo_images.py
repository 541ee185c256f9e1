"""Images for the demo trial: synthetic CT studies with lesions that change over time, sent through
the real upload pipeline (de-identification, QC) and reviewed by the demo QC analyst.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from ictms import phantom as synthetic
from imaging.choices import QcReason, QcStatus
from imaging.intake import services as upload_services
from imaging.models import Series, Submission
from imaging.qc import services as qc_services
from trials.choices import VisitState
from trials.models import Participant, Trial, Visit

SLICES = 24
SIZE = 192
THICKNESS = 5.0
PIXEL = 2.0  # mm: a 384 mm field of view, like an abdominal CT


@dataclass(frozen=True)
class DemoImages:
    subject_code: str
    timepoint: str
    target_state: str  # received / in_qc / accepted
    thickness: float = THICKNESS


# Lesion sizes (mm) per timepoint: a liver lesion and a lung lesion, shrinking or growing.
GROWTH = {
    "shrinks": {"SCR": (32, 24), "W8": (22, 16), "W16": (18, 12), "W24": (16, 10), "EOT": (16, 10)},
    "grows": {"SCR": (24, 18), "W8": (26, 19), "W16": (33, 24), "W24": (36, 26), "EOT": (38, 28)},
}


def phantom_lesions(subject_code: str, timepoint: str) -> list[synthetic.Lesion]:
    """The lesions drawn in a visit's images (liver, lung): the truth the demo readers measure."""
    pattern = GROWTH["grows" if subject_code.endswith(("2", "4")) else "shrinks"]
    liver, lung = pattern.get(timepoint, pattern["SCR"])
    return [
        synthetic.Lesion(center_mm=(-70.0, 10.0, 40.0), diameter_mm=float(liver)),
        synthetic.Lesion(center_mm=(60.0, -30.0, 70.0), diameter_mm=float(lung), hu=60.0),
    ]


def _uploads(visit: Visit, scan_date: dt.date, thickness: float, index: int) -> list[SimpleUploadedFile]:
    participant = visit.participant
    patient = synthetic.SyntheticPatient(
        name=f"DEMO^PATIENT{index:02d}", patient_id=f"DEMO-MRN-{index:04d}", birth_date=f"19{50 + index:02d}0101",
    )
    series = synthetic.make_ct_series(
        SLICES, rows=SIZE, cols=SIZE, pixel_spacing=PIXEL, slice_thickness=thickness, contrast=True,
        study_date=scan_date, patient=patient, lesions=phantom_lesions(participant.subject_code, visit.timepoint.code),
        seed=index * 10 + visit.timepoint.order, series_number=2,
        series_description=f"CAP PORTAL {thickness:g}MM",
    )
    files = []
    for ds in series:
        ds.BodyPartExamined = "CHESTABDPELVIS"
        files.append(SimpleUploadedFile(f"IM{int(ds.InstanceNumber):04d}.dcm", synthetic.to_bytes(ds)))
    return files


def seed_demo_images(*, trial: Trial, users: dict, plan: list[DemoImages], log: Callable[[str], None]) -> None:
    """Upload and review images for each planned visit that has none yet (idempotent)."""
    from ictms.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the demo must be complete when the command returns
    try:
        codes = sorted({p.subject_code for p in plan})
        index = {code: i + 1 for i, code in enumerate(codes)}
        for item in plan:
            participant = Participant.objects.get(trial=trial, subject_code=item.subject_code)
            visit = Visit.objects.select_related("participant__site", "timepoint").get(
                participant=participant, timepoint__code=item.timepoint)
            if Submission.objects.filter(visit=visit).exists():
                continue
            coordinator = users[f"coordinator{participant.site.number[-1]}"]
            window = visit.window()
            scan_date = window[0] + (window[1] - window[0]) / 2 if window else dt.date.today() - dt.timedelta(days=3)
            submission = upload_services.submission_open(actor=coordinator, visit=visit, scan_date=scan_date,
                                                         comment="CT chest/abdomen/pelvis with contrast (demo data)")
            files = upload_services.submission_files_add(
                actor=coordinator, submission=submission, uploads=_uploads(visit, scan_date, item.thickness, index[item.subject_code]))
            upload_services.submission_complete(actor=coordinator, submission=submission)
            # Normally Celery does this after each commit; calling it here (it is idempotent) makes
            # the demo complete even inside a transaction that has not committed yet (tests).
            upload_services.submission_files_process(file_ids=[f.pk for f in files])
            qc_services.visit_qc_run(visit_id=visit.pk, submission_id=submission.pk)
            _review(visit, item, users["qc"])
            log(f"Images for {item.subject_code} {item.timepoint}: {item.target_state}")
    finally:
        app.conf.task_always_eager = eager


def _review(visit: Visit, item: DemoImages, qc: object) -> None:
    if item.target_state == VisitState.RECEIVED:
        return
    for series in Series.objects.filter(study__visit=visit):
        qc_services.series_qc_decide(actor=qc, series=series, status=QcStatus.PASSED, reason=QcReason.MEETS_PROTOCOL,
                                     comment="Complete coverage, contrast-enhanced, protocol met.")
    if item.target_state == VisitState.ACCEPTED:
        qc_services.visit_qc_accept(actor=qc, visit=visit, comment="Demo: accepted")
