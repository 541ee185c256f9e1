"""DICOM SR measurement reports (Comprehensive 3D SR, TID 1500) per read and timepoint, with highdicom (pure, no Django).

Input: the package `Trial`, one `Subject`, one of its `Read`s and a VISITNUM, plus `evidence`:
the headers (pydicom Datasets, pixel data not needed: `dcmread(..., stop_before_pixels=True)`
of the stored de-identified instances) of every image the read's measurements at that
timepoint reference, and when it has none at least one image of the timepoint's study. The SR
joins the study of the first measured image (OHIF expects one SR per study) and copies its
patient and study attributes, so it carries the package's de-identified identity and dates.

Content, one measurement group (TID 1501) per lesion observed at that timepoint:

- Tracking Identifier: UID stable per lesion across timepoints and exports: the one recorded when the
  lesion was read (the reading API's), else derived from STUDYID, USUBJID and the lesion's TULNKID
  (`lesion_tracking_uid`); the text is what OHIF needs to
  reload the measurement as editable: `Cornerstone3DTools@^0.1.0:Bidirectional` when both axes
  were measured, `...:Length` for one, the TULNKID for a lesion without a measurement.
- Finding: the TULNKID as OHIF's free-text label (code value CORNERSTONEFREETEXT, scheme CST4,
  as OHIF writes it); finding site: the organ's SNOMED code where there is one; method RECIST 1.1.
- Measurements "Long Axis" (SCT 103339001) and "Short Axis" (SCT 103340004), spelled as OHIF
  expects, in mm, each with its 2-point SCOORD POLYLINE on the source image (and frame).
- Qualitative evaluations: Baseline Category (target / non-target lesion at baseline) and, for
  lesions without a measurement, their status as a code of the local scheme 99ICTMS
  (disappeared, too small to measure, not evaluable, present, absent, unequivocal
  progression, equivocal, unequivocal).
- Time Point Context: the VISIT label, Baseline / Posttreatment and the time point order.

The observer is "RADIOLOGIST 1" / "RADIOLOGIST 2", never a name; the report is VERIFIED by
that observer (the e-signature) at the signing time, which is also its content date, and
its UIDs are derived from the read and content, so rebuilding a package yields the same file.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pydicom.sr.codedict import codes
from pydicom.valuerep import DA, DT, TM

from .model import (
    ImageRef,
    Lesion,
    LesionKind,
    Observation,
    ObservationStatus,
    PackageInputError,
    Read,
    Subject,
    Trial,
    deterministic_uid,
    lesion_link_id,
    lesion_tracking_uid,
    tracking_uid,
    validate_trial,
)

__all__ = [
    "LONG_AXIS",
    "OHIF_BIDIRECTIONAL",
    "OHIF_LENGTH",
    "SHORT_AXIS",
    "STATUS_SCHEME",
    "build_measurement_report",
    "sr_bytes",
    "tracking_uid",
]

OHIF_BIDIRECTIONAL = "Cornerstone3DTools@^0.1.0:Bidirectional"
OHIF_LENGTH = "Cornerstone3DTools@^0.1.0:Length"
# highdicom's own spelling is "Long axis"; OHIF matches the meaning exactly.
LONG_AXIS = hd.sr.CodedConcept("103339001", "SCT", "Long Axis")
SHORT_AXIS = hd.sr.CodedConcept("103340004", "SCT", "Short Axis")
STATUS_SCHEME = "99ICTMS"
LESION_STATUS = hd.sr.CodedConcept("LESIONSTATUS", STATUS_SCHEME, "Lesion status")
_STATUS_MEANING = {
    ObservationStatus.DISAPPEARED: "Disappeared",
    ObservationStatus.TOO_SMALL: "Too small to measure",
    ObservationStatus.NOT_EVALUABLE: "Not evaluable",
    ObservationStatus.PRESENT: "Present",
    ObservationStatus.ABSENT: "Absent",
    ObservationStatus.UNEQUIVOCAL_PROGRESSION: "Unequivocal progression",
    ObservationStatus.EQUIVOCAL: "Equivocal",
    ObservationStatus.UNEQUIVOCAL: "Unequivocal",
}
_ORGAN_CODES = {
    "lung": "Lung", "liver": "Liver", "lymph node": "LymphNode", "bone": "Bone", "brain": "Brain",
    "adrenal gland": "AdrenalGland", "kidney": "Kidney", "spleen": "Spleen", "pancreas": "Pancreas",
    "pleura": "Pleura", "soft tissue": "SoftTissue", "skin": "Skin",
}
_PROCEDURES = {"CT": "CTUnspecifiedBodyRegion", "MR": "MRIUnspecifiedBodyRegion", "PT": "PETUnspecifiedBodyRegion",
               "NM": "NMUnspecifiedBodyRegion", "CR": "XRUnspecifiedBodyRegion", "DX": "XRUnspecifiedBodyRegion"}
_OHIF_FREE_TEXT = ("CORNERSTONEFREETEXT", "CST4")
SR_SERIES_NUMBER = 9000


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment


def _observer_name(read: Read) -> str:
    # A lone family-name component; the trailing caret tells PN parsers it is not a mistake.
    return f"{read.evaluator}^"


def _coordinates(points: tuple[tuple[float, float], tuple[float, float]], image: ImageRef) -> hd.sr.CoordinatesForMeasurement:
    frames = [image.frame] if image.frame else None
    return hd.sr.CoordinatesForMeasurement(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=np.array(points, dtype=float),
        source_image=hd.sr.SourceImageForRegion(image.sop_class_uid, image.sop_instance_uid, frames),
    )


def _measurements(obs: Observation) -> list[hd.sr.Measurement]:
    out = []
    image = obs.image
    for name, mm, points in ((LONG_AXIS, obs.long_axis_mm, obs.long_axis), (SHORT_AXIS, obs.short_axis_mm, obs.short_axis)):
        if mm is None or points is None or image is None:
            continue
        out.append(hd.sr.Measurement(
            name=name, value=float(mm), unit=codes.UCUM.Millimeter, referenced_coordinates=[_coordinates(points, image)],
        ))
    return out


def _group(trial: Trial, subject: Subject, read: Read, lesion: Lesion, obs: Observation) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    link_id = lesion_link_id(read.slot, lesion.label)
    measurements = _measurements(obs)
    text = {2: OHIF_BIDIRECTIONAL, 1: OHIF_LENGTH}.get(len(measurements), link_id)
    evaluations = []
    if lesion.kind is not LesionKind.NEW:
        category = codes.DCM.TargetLesionAtBaseline if lesion.kind is LesionKind.TARGET else codes.DCM.NonTargetLesionAtBaseline
        evaluations.append(hd.sr.QualitativeEvaluation(codes.DCM.BaselineCategory, category))
    status = ObservationStatus(obs.status)
    if status in _STATUS_MEANING:
        evaluations.append(hd.sr.QualitativeEvaluation(
            LESION_STATUS, hd.sr.CodedConcept(status.value.upper(), STATUS_SCHEME, _STATUS_MEANING[status]),
        ))
    site = _ORGAN_CODES.get(lesion.organ.strip().lower())
    position = subject.position(obs.visitnum)
    is_baseline = position == 1
    sources = None
    if obs.image is not None and measurements:
        frames = [obs.image.frame] if obs.image.frame else None
        sources = [hd.sr.SourceImageForMeasurementGroup(obs.image.sop_class_uid, obs.image.sop_instance_uid, frames)]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=lesion_tracking_uid(trial, subject, lesion, link_id), identifier=text,
        ),
        time_point_context=hd.sr.TimePointContext(
            time_point=subject.timepoint(obs.visitnum).visit,
            time_point_type=codes.UMLS.Baseline if is_baseline else codes.DCM.Posttreatment,
            time_point_order=position,
            protocol_time_point_identifier=str(obs.visitnum),
        ),
        finding_type=hd.sr.CodedConcept(_OHIF_FREE_TEXT[0], _OHIF_FREE_TEXT[1], link_id),
        method=codes.DCM.RECIST1Point1,
        finding_sites=[hd.sr.FindingSite(getattr(codes.SCT, site))] if site else None,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
        source_images=sources,
    )


def _content_digest(subject: Subject, read: Read, visitnum: Decimal) -> str:
    parts = [repr(o) for o in read.observations_at(visitnum)] + [repr(read.result(visitnum))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def build_measurement_report(
    trial: Trial,
    subject: Subject,
    read: Read,
    visitnum: Decimal | int,
    *,
    evidence: Sequence[Dataset],
    organization: str = "Independent central review",
    manufacturer: str = "ICTMS",
    software_version: str = "",
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of one read at one timepoint (see the module docstring)."""
    validate_trial(trial)
    visitnum = Decimal(str(visitnum))
    where = f"subject {subject.code}, {read.evaluator}, VISITNUM {visitnum}"
    result = read.result(visitnum)
    if result is None:
        raise PackageInputError(f"{where}: the read has no result at this timepoint")
    observations = read.observations_at(visitnum)
    by_uid = {str(ds.SOPInstanceUID): ds for ds in evidence}
    referenced = []
    for obs in observations:
        if obs.image is not None and obs.is_measured:
            header = by_uid.get(obs.image.sop_instance_uid)
            if header is None:
                raise PackageInputError(f"{where}: no evidence header for image {obs.image.sop_instance_uid}")
            if header not in referenced:
                referenced.append(header)
    ordered_evidence = referenced + [ds for ds in evidence if ds not in referenced]
    if not ordered_evidence:
        raise PackageInputError(f"{where}: the report needs at least one image header of the timepoint's study")
    lesions = {lesion.identity: lesion for lesion in read.lesions}
    groups = [
        _group(trial, subject, read, lesions[obs.lesion], obs)
        for obs in sorted(observations, key=lambda o: lesion_link_id(read.slot, lesions[o.lesion].label))
    ]
    modality = subject.timepoint(visitnum).modality.upper()
    procedure = getattr(codes.LN, _PROCEDURES.get(modality, "CTUnspecifiedBodyRegion"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_person_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Person,
                observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=_observer_name(read)),
            ),
        ),
        procedure_reported=procedure,
        imaging_measurements=groups or None,
    )
    digest = _content_digest(subject, read, visitnum)
    with warnings.catch_warnings():
        # The stored, de-identified PatientName (the subject code) is copied as it is; highdicom
        # warns about single-component names, which is what de-identified names are.
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
        sr = _create(
            ordered_evidence, report, trial, subject, read, visitnum, result.signed_at, digest,
            organization=organization, manufacturer=manufacturer,
        )
    signed = _utc(result.signed_at)
    # Creation and verification at the signing time, not at export, so a rebuild is byte-identical.
    sr.InstanceCreationDate = DA(signed.strftime("%Y%m%d"))
    sr.InstanceCreationTime = TM(signed.strftime("%H%M%S"))
    if result.signed_at is not None:
        sr.VerifyingObserverSequence[0].VerificationDateTime = DT(signed.strftime("%Y%m%d%H%M%S"))
    if "ContributingEquipmentSequence" in sr:
        # highdicom appends itself as contributing equipment stamped "now"; stamp it with the signing time.
        sr.ContributingEquipmentSequence[-1].ContributionDateTime = DT(signed.strftime("%Y%m%d%H%M%S"))
    if software_version:
        sr.SoftwareVersions = software_version
    return sr


def _create(
    evidence: list[Dataset],
    report: hd.sr.MeasurementReport,
    trial: Trial,
    subject: Subject,
    read: Read,
    visitnum: Decimal,
    signed_at: datetime | None,
    digest: str,
    *,
    organization: str,
    manufacturer: str,
) -> hd.sr.Comprehensive3DSR:
    usubjid = trial.usubjid(subject)
    signed = _utc(signed_at)
    return hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=deterministic_uid("ictms-sr-series", trial.studyid, usubjid, read.evaluator),
        series_number=SR_SERIES_NUMBER + read.slot,
        sop_instance_uid=deterministic_uid("ictms-sr", trial.studyid, usubjid, read.evaluator, str(visitnum), digest),
        instance_number=subject.position(visitnum),
        manufacturer=manufacturer,
        is_complete=True,
        is_final=True,
        is_verified=signed_at is not None,
        verifying_observer_name=_observer_name(read) if signed_at else None,
        verifying_organization=organization if signed_at else None,
        series_description=f"Measurement report {read.evaluator}",
        content_date=signed.date(),
        content_time=signed.time().replace(microsecond=0, tzinfo=None),
    )


def sr_bytes(sr: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, sr, enforce_file_format=True)
    return buffer.getvalue()
