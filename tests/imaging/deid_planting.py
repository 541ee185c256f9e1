"""Plant a participant's identity, in the spellings people and scanners use, into kept text of a dataset."""
from __future__ import annotations

from pydicom.datadict import DicomDictionary, dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from imaging.deid.context import DeidOptions
from imaging.deid.profile import SCRUBBED_VRS, Action, resolve_profile
from tests.imaging import synthetic

PATIENT = synthetic.SyntheticPatient(name="JOHNSTONE^MARGARET^ANN", patient_id="MRN-0042137", birth_date="19580317")
# Every usual way of writing this participant's name, ID and birth date.
SPELLINGS = (
    "JOHNSTONE^MARGARET", "Margaret Johnstone", "JOHNSTONE, MARGARET", "johnstone margaret ann",
    "M. Johnstone", "M JOHNSTONE", "M.A. JOHNSTONE", "JOHNSTONE M", "Johnstone, M.", "JOHNST", "Johnsto",
    "MRN-0042137", "MRN0042137", "42137", "0042137", "1958-03-17", "17/03/1958", "03/17/1958", "17.3.58",
    "17 MAR 1958", "March 17, 1958", "19580317",
)
# Pieces whose presence in the output means a spelling survived (compared case-insensitively).
TELLTALES = ("JOHNST", "MARGARET", "42137", "1958", "17/03", "03/17", "17.3.58", "17 MAR")


def base_dataset() -> Dataset:
    return synthetic.make_ct_series(1, rows=16, cols=16, patient=PATIENT).datasets[0]


def kept_text_keywords(limit_per_vr: int = 40) -> list[str]:
    """Keywords of standard text attributes the engine keeps (scrubbed), at most `limit_per_vr` per VR."""
    profile = resolve_profile(DeidOptions())
    chosen: dict[str, list[str]] = {}
    for tag, (vr, vm, _, retired, keyword) in sorted(DicomDictionary.items()):
        if retired or vr not in SCRUBBED_VRS - {"PN", "CS", "AE", "UR"} or tag >> 16 in (0x0002, 0x0012):
            continue
        if profile.lookup[tag] is not Action.SCRUB or vm not in ("1", "1-n"):
            continue
        if keyword in ("CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "LongCodeValue",
                       "CodingSchemeName", "CodingSchemeRegistry", "MappingResource", "ContextIdentifier",
                       "URNCodeValue", "SpecificCharacterSet"):
            continue  # code values are terms of a coding scheme: scrubbed only when the whole value is an identity
        bucket = chosen.setdefault(vr, [])
        if len(bucket) < limit_per_vr:
            bucket.append(keyword)
    return [keyword for bucket in chosen.values() for keyword in bucket]


def planted(spelling: str, vr: str) -> str:
    text = f"SCAN {spelling} AXIAL"
    return text[:64] if vr in ("LO", "UC") else text[:16] if vr == "SH" else text


def plant_everywhere(ds: Dataset, keywords: list[str], spellings: tuple[str, ...] = SPELLINGS) -> Dataset:
    """Each keyword gets one spelling (cycling), at the top level; SH values are cut to 16 characters."""
    for index, keyword in enumerate(keywords):
        tag = tag_for_keyword(keyword)
        vr = dictionary_VR(tag)
        ds.add(DataElement(tag, vr, planted(spellings[index % len(spellings)], vr)))
    return ds


def as_un(ds: Dataset, keyword: str, value: str) -> None:
    """Add `keyword` with VR UN (as a router that does not know the tag would send it)."""
    ds.add(DataElement(tag_for_keyword(keyword), "UN", value.encode("ascii") + (b" " if len(value) % 2 else b"")))
