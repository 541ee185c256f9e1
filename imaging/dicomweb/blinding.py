"""The one gate every served DICOM header, file and search result passes on its way to a user.

The viewer's header panel, WADO-RS files and metadata, frames and QIDO-RS results all call into
this module, so blinding (reads.md: readers and adjudicators never see site, subject code, arm,
real or shifted dates) is enforced in one place on the server. Unblinded roles get the stored
de-identified headers unchanged. A blinded user gets, for each study of a read case:

- PatientName and PatientID (at any depth) replaced by the case code;
- every date (DA, and the date part of DT) moved so the case's baseline study falls on one fixed
  synthetic date (reads.selectors.BLINDED_BASELINE_DATE), intervals kept; withheld when the
  baseline has no date. A DT keeps its time but loses its UTC offset (it tells the country);
- institution, station, operator, physician, device serial and similar attributes, every other
  person name (VR PN), free-text comments, the other patient identifiers and the original or
  encrypted attributes withheld (emptied; sequences removed), so type 2 attributes stay present;
- group 0012 (clinical trial sponsor, site, subject, time point, arm), private elements and
  elements of unknown encoding (VR UN, whose text cannot be checked) removed, except the
  de-identification flags (0012,0062-0064), which identify nobody;
- any other text value that mentions the participant's subject code, site name, site number
  (as the whole value), arm, or one of their real or stored dates emptied (a last net for what
  de-identification let through in a description);
- the file meta reduced to what Part 10 requires (the source AE title, a site's PACS, and any
  private file meta are gone) and the 128-byte preamble zeroed.

Blinded DICOM is produced on the fly from the stored de-identified file: stored files never change.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
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
    "OriginalAttributesSequence", "EncryptedAttributesSequence", "DigitalSignaturesSequence",
    "MACParametersSequence", "TimezoneOffsetFromUTC", "DetectorID", "GantryID", "StudyIDIssuer",
    "CurrentPatientLocation", "PatientInstitutionResidence", "PatientState", "MedicalRecordLocator",
    "PatientTelecomInformation", "PatientReligiousPreference", "PatientInsurancePlanCodeSequence",
    "ReferencedPatientSequence", "SourcePatientGroupIdentificationSequence", "GroupOfPatientsIdentificationSequence",
    "IssuerOfAdmissionIDSequence", "OrderEntererLocation", "OrderCallbackPhoneNumber",
    "PlacerOrderNumberImagingServiceRequest", "FillerOrderNumberImagingServiceRequest", "RequestedProcedureID",
    "ScheduledProcedureStepID", "PerformedProcedureStepID", "RequestingService", "ReasonForStudy",
    "AdmittingDiagnosesDescription", "AdditionalPatientHistory", "ImageComments", "StudyComments",
    "VisitComments", "RequestedProcedureComments", "ImagingServiceRequestComments",
})
# Group 0012 is the clinical trial module (sponsor, protocol, site, subject, time point, arm);
# these three say how the data was de-identified and are kept.
KEPT_GROUP_12 = frozenset({0x00120062, 0x00120063, 0x00120064})
# What Part 10 needs of the file meta; the writer adds its own implementation class UID and version.
KEPT_FILE_META = frozenset({0x00020001, 0x00020002, 0x00020003, 0x00020010})
# Value representations whose values are free text a reader could read a name or a date in.
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})
_UTC_OFFSET = re.compile(r"[+-]\d{4}$")


@dataclass(frozen=True)
class Identifying:
    """Text that identifies the participant: values mentioning `within`, or equal to `whole`."""

    within: tuple[str, ...] = ()
    whole: tuple[str, ...] = ()

    def found_in(self, value: object) -> bool:
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            text = str(v or "").strip().casefold()
            if text and (text in self.whole or any(w in text for w in self.within)):
                return True
        return False


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


def identifying_text(user: AnyUser, owner: Study | Series | Instance) -> Identifying:
    """What identifies `owner`'s participant in free text (remembered on `user` for the request)."""
    from imaging.models import Study as StudyModel
    from trials.models import Participant, Visit

    participant_id = _study_of(owner).participant_id
    cache: dict[int, Identifying] = user.__dict__.setdefault("_ictms_identifying", {})
    if participant_id not in cache:
        participant = Participant.objects.select_related("site").get(pk=participant_id)
        days = {*StudyModel.objects.filter(participant_id=participant_id).values_list("study_date", flat=True),
                *Visit.objects.filter(participant_id=participant_id).values_list("scan_date", flat=True)}
        dates = [text for d in days if d for text in (d.strftime("%Y%m%d"), d.isoformat())]
        within = [participant.subject_code, participant.site.name, participant.arm, *dates]
        cache[participant_id] = Identifying(
            within=tuple(sorted({w.strip().casefold() for w in within if w and len(w.strip()) >= 3})),
            whole=(participant.site.number.strip().casefold(),) if participant.site.number.strip() else (),
        )
    return cache[participant_id]


def text_for_user(user: AnyUser, owner: Study | Series | Instance, text: str) -> str:
    """A free-text value of `owner` as `user` may read it: emptied for a blinded user when it identifies."""
    if not text or not needs_blinding(user, owner):
        return text
    return "" if identifying_text(user, owner).found_in(text) else text


def _shift_date(value: str, days: int, *, keep_time: bool) -> str:
    value = value.strip()
    if len(value) < 8 or not value[:8].isdigit():
        return ""
    try:
        day = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return ""
    time = _UTC_OFFSET.sub("", value[8:]) if keep_time else ""
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d") + time


def _shift_value(elem: DataElement, days: int | None) -> None:
    values = elem.value if elem.VM > 1 or isinstance(elem.value, list | tuple) else [elem.value]
    keep_time = elem.VR == "DT"
    shifted = ["" if days is None or v in (None, "") else _shift_date(str(v), days, keep_time=keep_time)
               for v in values]
    elem.value = shifted if len(shifted) > 1 else (shifted[0] if shifted else "")


def blind_dataset(ds: Dataset, how: Blinding, identifying: Identifying | None = None) -> Dataset:
    """`ds` changed in place as `how` says (see the module docstring); returns it.

    `identifying`: text that names the participant (identifying_text), emptied wherever it appears.
    """
    doomed: list[tuple[Dataset, int]] = []
    identifying = identifying or Identifying()

    def visit(dataset: Dataset) -> None:
        for elem in list(dataset):
            tag = int(elem.tag)
            if (elem.tag.is_private or elem.VR == "UN"
                    or (elem.tag.group == 0x0012 and tag not in KEPT_GROUP_12)):
                doomed.append((dataset, tag))
            elif elem.keyword in ("PatientName", "PatientID"):
                elem.value = how.code
            elif elem.keyword in WITHHELD_KEYWORDS or elem.VR == "PN":
                if elem.VR == "SQ":
                    doomed.append((dataset, tag))
                else:
                    elem.value = None
            elif elem.VR == "SQ":
                for item in elem.value or []:
                    visit(item)
            elif elem.VR in ("DA", "DT"):
                _shift_value(elem, how.day_shift)
            elif elem.VR in TEXT_VRS and identifying.found_in(elem.value):
                elem.value = None

    visit(ds)
    for dataset, tag in doomed:
        del dataset[tag]
    if "PatientName" in ds or "PatientID" in ds or ds.get("SOPInstanceUID") is not None:
        ds.PatientName = how.code
        ds.PatientID = how.code
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for tag in [int(elem.tag) for elem in meta if int(elem.tag) not in KEPT_FILE_META]:
            del meta[tag]
    if getattr(ds, "preamble", None) is not None:
        ds.preamble = b"\0" * 128
    return ds


def dataset_for_user(user: AnyUser, owner: Study | Series | Instance, ds: Dataset) -> Dataset:
    """The header `user` may see of the data set `ds` belonging to `owner` (study, series or instance).

    `ds` may be a full instance, its header only, or the attributes of a QIDO-RS result; the
    result may be `ds` itself, changed in place.
    """
    how = blinding(user, owner)
    return ds if how is None else blind_dataset(ds, how, identifying_text(user, owner))


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
