"""The one gate every served DICOM header, file and search result passes on its way to a user.

The viewer's header panel, WADO-RS files and metadata, frames and QIDO-RS results all call into
this module, so blinding (reads.md: readers and adjudicators never see site, subject code, arm,
real or shifted dates) is enforced in one place on the server. Unblinded roles get the stored
de-identified headers unchanged. A blinded user gets, for each study of a read case:

- PatientName and PatientID replaced by the case code;
- every date (DA, and the date part of DT) moved so the case's baseline study falls on one fixed
  synthetic date (reads.selectors.BLINDED_BASELINE_DATE), intervals kept; withheld when the
  baseline has no date;
- institution, station, operator, physician, device serial and similar attributes, the other
  patient identifiers, and group 0012 (clinical trial sponsor, site and subject) withheld, except
  the de-identification flags, which say how the data was treated and identify nobody;
- the file meta's source AE title (a site's PACS) withheld.

Blinded DICOM is produced on the fly from the stored de-identified file: stored files never change.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import Dataset
from pydicom.dataelem import DataElement

from ictms.lib.users import AnyUser
from imaging.archive.read_access import Blinding, blinding_for

if TYPE_CHECKING:
    from imaging.models import Instance, Series, Study

# Attributes that name a place, a person at the site or a device there (withheld from blinded users).
WITHHELD_KEYWORDS = frozenset({
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionCodeSequence",
    "InstitutionalDepartmentTypeCodeSequence", "StationName", "StationAETitle", "OperatorsName",
    "OperatorIdentificationSequence", "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence",
    "ReferringPhysicianName", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence", "RequestingPhysician",
    "ScheduledPerformingPhysicianName", "DeviceSerialNumber", "DeviceUID", "OtherPatientIDs",
    "OtherPatientIDsSequence", "OtherPatientNames", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "PatientBirthDate", "PatientBirthTime", "PatientAddress", "PatientComments", "PatientTelephoneNumbers",
    "MilitaryRank", "BranchOfService", "CountryOfResidence", "RegionOfResidence", "EthnicGroup",
    "AccessionNumber", "StudyID", "AdmissionID", "ServiceEpisodeID", "RequestAttributesSequence",
    "ResponsibleOrganization", "ResponsiblePerson", "PerformedLocation", "ScheduledProcedureStepLocation",
    "PerformedStationName", "PerformedStationAETitle", "ScheduledStationName", "ScheduledStationAETitle",
    "SourceApplicationEntityTitle", "SendingApplicationEntityTitle", "ReceivingApplicationEntityTitle",
    "RetrieveAETitle", "StorageMediaFileSetID",
})
# Group 0012 is the clinical trial module (sponsor, protocol, site, subject, time point, arm);
# these three say how the data was de-identified and are kept.
KEPT_GROUP_12 = frozenset({0x00120062, 0x00120063, 0x00120064})


def _study_of(owner: Study | Series | Instance) -> Study:
    from imaging.models import Instance, Series

    if isinstance(owner, Instance):
        return owner.series.study
    if isinstance(owner, Series):
        return owner.study
    return owner


def blinding(user: AnyUser, owner: Study | Series | Instance) -> Blinding | None:
    """How `user` sees `owner`'s headers, or None when they see them as stored."""
    study = _study_of(owner)
    return blinding_for(user, participant_id=study.participant_id, trial_id=study.participant.trial_id)


def needs_blinding(user: AnyUser, owner: Study | Series | Instance) -> bool:
    """Whether what `owner` serves must be altered for `user` (blinded readers and adjudicators)."""
    return blinding(user, owner) is not None


def _shift_date(value: str, days: int) -> str:
    value = value.strip()
    if len(value) < 8 or not value[:8].isdigit():
        return ""
    try:
        day = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return ""
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d") + value[8:]


def _shift_value(elem: DataElement, days: int | None) -> None:
    values = elem.value if elem.VM > 1 or isinstance(elem.value, list | tuple) else [elem.value]
    shifted = ["" if days is None or v in (None, "") else _shift_date(str(v), days) for v in values]
    elem.value = shifted if len(shifted) > 1 else (shifted[0] if shifted else "")


def blind_dataset(ds: Dataset, how: Blinding) -> Dataset:
    """`ds` changed in place as `how` says (see the module docstring); returns it."""
    doomed: list[tuple[Dataset, int]] = []

    def visit(dataset: Dataset) -> None:
        for elem in list(dataset):
            if (elem.tag.group == 0x0012 and int(elem.tag) not in KEPT_GROUP_12) or elem.keyword in WITHHELD_KEYWORDS:
                doomed.append((dataset, int(elem.tag)))
            elif elem.VR == "SQ":
                for item in elem.value or []:
                    visit(item)
            elif elem.VR in ("DA", "DT"):
                _shift_value(elem, how.day_shift)

    visit(ds)
    for dataset, tag in doomed:
        del dataset[tag]
    if "PatientName" in ds or "PatientID" in ds or ds.get("SOPInstanceUID") is not None:
        ds.PatientName = how.code
        ds.PatientID = how.code
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SourceApplicationEntityTitle" in meta:
        del meta.SourceApplicationEntityTitle
    return ds


def dataset_for_user(user: AnyUser, owner: Study | Series | Instance, ds: Dataset) -> Dataset:
    """The header `user` may see of the data set `ds` belonging to `owner` (study, series or instance).

    `ds` may be a full instance, its header only, or the attributes of a QIDO-RS result; the
    result may be `ds` itself, changed in place.
    """
    how = blinding(user, owner)
    return ds if how is None else blind_dataset(ds, how)


def instance_bytes_for_user(user: AnyUser, instance: Instance, path: Path) -> bytes:
    """The Part 10 file of `instance` as `user` may receive it (the stored bytes when unblinded)."""
    if not needs_blinding(user, instance):
        return path.read_bytes()
    from io import BytesIO

    from pydicom import dcmread

    ds = dataset_for_user(user, instance, dcmread(path))
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
