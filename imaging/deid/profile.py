"""The PS3.15 Table E.1-1 as data, resolved into one action per tag for a set of options."""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType

from pydicom.datadict import DicomDictionary, dictionary_VR, tag_for_keyword

from .context import DeidOptions

__all__ = [
    "TYPE1_FOR_COMPOUND_CODES",
    "TYPE2_FOR_COMPOUND_CODES",
    "Action",
    "ResolvedProfile",
    "TableRow",
    "allowlist",
    "default_action",
    "removed",
    "resolve_profile",
    "table_rows",
]

DATA_DIR = Path(__file__).with_name("data")
TABLE_PATH = DATA_DIR / "ps3.15-e1-1.csv"
ALLOWLIST_PATH = DATA_DIR / "allowlist.txt"
REMOVED_PATH = DATA_DIR / "removed.txt"

OPTION_COLUMNS = (
    "retain_safe_private",
    "retain_uids",
    "retain_device_identity",
    "retain_institution_identity",
    "retain_patient_characteristics",
    "retain_long_full_dates",
    "retain_long_modified_dates",
    "clean_descriptors",
    "clean_structured_content",
    "clean_graphics",
)


class Action(IntEnum):
    """What happens to one element. Sequences under KEEP/RECURSE/DUMMY/CLEAN keep their items, cleaned."""

    KEEP = 0  # kept as received (a non-sequence attribute)
    RECURSE = 1  # a sequence that is kept; its items go through the same rules
    REMOVE = 2  # X
    EMPTY = 3  # Z: present with a zero-length value (an empty sequence for SQ)
    DUMMY = 4  # D: a fixed dummy value that fits the VR
    UID = 5  # U: replaced by the deterministic new UID
    SHIFT = 6  # C on a date: moved by the participant's date offset
    CLEAN = 7  # C on free text: identifying values scrubbed out
    SUBJECT = 8  # Patient's Name and Patient ID: the trial subject code
    SCRUB = 9  # kept text: the participant's identity values (and, in free text, generic identifiers) scrubbed out


# The compound codes (Z/D, X/D, X/Z, X/Z/D) depend on the attribute's Type in
# the IOD of the object. We resolve them once, per attribute, conservatively
# for the IODs an imaging trial receives (CT, MR, PET, NM, US, CR/DX/MG, XA,
# SC, their enhanced multi-frame forms, and RT/SR objects we pass through):
#   Type 1 somewhere we handle -> D (a value must stay),
#   Type 2 somewhere we handle -> Z (the attribute must stay, may be empty),
#   otherwise (Type 3)          -> X.
# A compound code without D (X/Z) gives Z for Type 1 too; one without Z (X/D)
# gives D for Type 2 too. Under the default options most of these rows are
# dates (shifted instead) or descriptors (cleaned instead).
TYPE1_FOR_COMPOUND_CODES: Mapping[str, str] = MappingProxyType(
    {
        "ContentDate": "Type 1 in the Multi-frame Functional Groups and SR Document modules",
        "ContentTime": "Type 1 in the Multi-frame Functional Groups and SR Document modules",
        "AcquisitionDateTime": "Type 1C in the Enhanced CT/MR/PET Image modules",
        "SeriesDate": "Type 1 in the PET Series module",
        "SeriesTime": "Type 1 in the PET Series module",
        "DeviceSerialNumber": "Type 1 in the Enhanced General Equipment module",
        "ObservationDateTime": "Type 1C in SR content items",
        # Type 3 with exactly one item in General Series, Type 2 in SR Document
        # Series: only keeping it (its one item cleaned, the UID remapped)
        # suits both.
        "ReferencedPerformedProcedureStepSequence": "Type 2 in SR Document Series; one item in General Series",
    }
)
TYPE2_FOR_COMPOUND_CODES: Mapping[str, str] = MappingProxyType(
    {
        "AcquisitionDate": "Type 2 in the PET Image and NM Image modules",
        "AcquisitionTime": "Type 2 in the PET Image and NM Image modules",
        "AcquisitionContextSequence": "Type 2 in the Acquisition Context module",
        "TreatmentMachineName": "Type 2 in the RT Beams module",
        "ReviewerName": "Type 2C in the Approval module",
        "RTPlanDate": "Type 2 in the RT General Plan module",
        "RTPlanTime": "Type 2 in the RT General Plan module",
        "TreatmentDate": "Type 2 in the RT Treatment Record modules",
        "TreatmentTime": "Type 2 in the RT Treatment Record modules",
        "ContrastBolusAgent": "Type 2 in the Contrast/Bolus module",
        "OperatorsName": "Type 2 in the RT Series module",
    }
)

# Value representations whose C (clean) under Clean Descriptors means
# "scrub the free text"; other VRs fall back to their basic action, except
# sequences (items cleaned recursively) and coded strings (kept).
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
DATE_VRS = frozenset({"DA", "DT"})
TEMPORAL_VRS = frozenset({"DA", "DT", "TM"})
# Every VR whose value is characters a person could have typed a name into;
# a kept element of one of these is scrubbed (numbers, dates and UIDs have
# their own actions).
SCRUBBED_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})

# Dummy values (D) that fit each VR. Text dummies are plain ASCII and short
# enough for SH/AE/CS (16 characters).
DUMMY_BY_VR: Mapping[str, object] = MappingProxyType(
    {
        "AE": "ANONYMIZED",
        "AS": "000Y",
        "CS": "ANONYMIZED",
        "DA": "19000101",
        "DT": "19000101000000",
        "TM": "000000",
        "DS": "0",
        "IS": "0",
        "LO": "ANONYMIZED",
        "LT": "ANONYMIZED",
        "PN": "ANONYMIZED",
        "SH": "ANONYMIZED",
        "ST": "ANONYMIZED",
        "UC": "ANONYMIZED",
        "UT": "ANONYMIZED",
        "UR": "urn:ictms:anonymized",
        "OB": b"\x00\x00",
        "OW": b"\x00\x00",
        "UN": b"\x00\x00",
        "US": 0,
        "SS": 0,
        "UL": 0,
        "SL": 0,
        "FL": 0.0,
        "FD": 0.0,
    }
)

# Patient's Name and Patient ID become the trial subject code (design.md).
SUBJECT_CODE_TAGS = frozenset({0x00100010, 0x00100020})

# Options that the blind_site flag overrides: with readers blinded to the
# site, nothing that names the institution, its staff or its devices stays.
_SITE_IDENTITY_OPTIONS = ("retain_device_identity", "retain_institution_identity")


@dataclass(frozen=True)
class TableRow:
    """One row of Table E.1-1. `tag` is None for the repeating-group and private rows."""

    tag_text: str
    tag: int | None
    keyword: str
    name: str
    basic: str
    options: Mapping[str, str]

    @property
    def vr(self) -> str:
        if self.tag is None:
            return ""
        return dictionary_VR(self.tag)


def _parse_tag(text: str) -> int | None:
    group, element = text.strip("()").split(",")
    if not all(char in "0123456789ABCDEF" for char in group + element):
        return None  # (50xx,xxxx), (60xx,3000), (gggg,eeee)
    return int(group, 16) << 16 | int(element, 16)


@functools.cache
def table_rows() -> tuple[TableRow, ...]:
    """Return the rows of the CSV (read once per process)."""
    with TABLE_PATH.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = tuple(
            TableRow(
                tag_text=record["tag"],
                tag=_parse_tag(record["tag"]),
                keyword=record["keyword"],
                name=record["name"],
                basic=record["basic"],
                options=MappingProxyType({column: record[column] for column in OPTION_COLUMNS}),
            )
            for record in reader
        )
    return rows


@functools.cache
def allowlist() -> Mapping[int, Action]:
    """Return the allow-listed tags (attributes the table does not list) with KEEP/RECURSE/SCRUB/DUMMY."""
    section = "keep"
    allowed: dict[int, Action] = {}
    for number, raw_line in enumerate(ALLOWLIST_PATH.read_text(encoding="utf-8").splitlines(), 1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if line in ("[keep]", "[clean]", "[dummy]"):
            section = line.strip("[]")
            continue
        tag = tag_for_keyword(line)
        if tag is None:
            raise ValueError(f"allowlist.txt line {number}: unknown keyword {line!r}")
        if dictionary_VR(tag) == "SQ":
            allowed[tag] = Action.RECURSE
        else:
            allowed[tag] = {"keep": Action.KEEP, "clean": Action.SCRUB, "dummy": Action.DUMMY}[section]
    return MappingProxyType(allowed)


def _resolve_basic(row: TableRow) -> Action:
    code = row.basic
    vr = row.vr
    if code == "X/Z/U*":
        # Keep the reference sequence, items cleaned and their UIDs remapped,
        # so that the references between objects of the study keep working.
        return Action.RECURSE
    if code in ("Z/D", "X/D", "X/Z", "X/Z/D"):
        type1 = row.keyword in TYPE1_FOR_COMPOUND_CODES
        type2 = row.keyword in TYPE2_FOR_COMPOUND_CODES
        if code == "Z/D":
            code = "D" if type1 else "Z"
        elif code == "X/D":
            code = "D" if type1 or type2 else "X"
        elif code == "X/Z":
            code = "Z" if type1 or type2 else "X"
        else:  # X/Z/D
            code = "D" if type1 else "Z" if type2 else "X"
    if code == "X":
        return Action.REMOVE
    if code == "Z":
        return Action.EMPTY
    if code == "U":
        return Action.UID
    if code == "D":
        if vr == "UI":
            return Action.UID  # a deterministic new UID is the best dummy UID
        if vr == "SQ":
            return Action.RECURSE  # a dummy sequence = the same items, cleaned
        return Action.DUMMY
    raise ValueError(f"unknown basic profile code {code!r} for {row.tag_text}")


def _resolve_clean(column: str, row: TableRow, basic: Action, options: DeidOptions) -> Action:
    """Resolve a C cell: its meaning depends on the option that wrote it and on the VR."""
    vr = row.vr
    if column == "retain_long_modified_dates":
        if vr in DATE_VRS:
            return Action.SHIFT
        if vr == "TM":
            # Times move with their dates by the whole offset (days and
            # seconds), unless the trial keeps times of day explicitly.
            return Action.KEEP if options.keep_times else Action.SHIFT
        return basic  # timestamps in binary or zone offsets: not shifted, so not kept
    if column in ("clean_descriptors", "retain_patient_characteristics", "clean_structured_content"):
        if vr in TEXT_VRS:
            # Only the Clean Descriptors column names descriptors (the
            # descriptor policy applies); the others name kept free text.
            return Action.CLEAN if column == "clean_descriptors" else Action.SCRUB
        if vr == "SQ":
            return Action.RECURSE
        if vr == "CS" and column == "clean_descriptors":
            return Action.SCRUB  # a coded string is an enumerated term, not free text
        return basic
    # C under Retain Device Identity (AE titles) and anything else: the basic action.
    return basic


def _enabled_columns(options: DeidOptions) -> tuple[str, ...]:
    columns = []
    if options.retain_uids:
        columns.append("retain_uids")
    if options.retain_device_identity and not options.blind_site:
        columns.append("retain_device_identity")
    if options.retain_institution_identity and not options.blind_site:
        columns.append("retain_institution_identity")
    if options.retain_patient_characteristics:
        columns.append("retain_patient_characteristics")
    if options.retain_full_dates:
        columns.append("retain_long_full_dates")
    if options.retain_modified_dates:
        columns.append("retain_long_modified_dates")
    if options.clean_descriptors:
        columns.append("clean_descriptors")
    return tuple(columns)


def resolve_row(row: TableRow, options: DeidOptions) -> Action:
    """Resolve one table row: K from any enabled option wins, then C, then the basic code."""
    basic = _resolve_basic(row)
    cells = [(column, row.options[column]) for column in _enabled_columns(options) if row.options[column]]
    if any(code == "K" for _, code in cells):
        return Action.RECURSE if row.vr == "SQ" else Action.KEEP
    resolved = [_resolve_clean(column, row, basic, options) for column, code in cells if code == "C"]
    # Two options may both clean the same attribute (Allergies); they agree
    # or one falls back to the basic action: take the most retaining one.
    for preferred in (Action.SHIFT, Action.CLEAN, Action.SCRUB, Action.RECURSE, Action.KEEP):
        if preferred in resolved:
            return preferred
    return basic


@functools.cache
def removed() -> tuple[frozenset[int], frozenset[int]]:
    """Return (tags, groups) of removed.txt: standard attributes the table does not list that are removed anyway."""
    tags: set[int] = set()
    groups: set[int] = set()
    for number, raw_line in enumerate(REMOVED_PATH.read_text(encoding="utf-8").splitlines(), 1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("group "):
            groups.add(int(line.split()[1], 16))
            continue
        tag = tag_for_keyword(line)
        if tag is None:
            raise ValueError(f"removed.txt line {number}: unknown keyword {line!r}")
        tags.add(tag)
    return frozenset(tags), frozenset(groups)


# UIDs that name a kind of thing (classes, syntaxes, coding schemes), not an
# instance: kept as received. Every other UID the table does not list is
# remapped like an instance UID (well-known UIDs pass unchanged anyway).
_UID_KEPT_KEYWORD_PARTS = ("ClassUID", "TransferSyntaxUID", "CodingSchemeUID", "ContextUID", "MappingResourceUID",
                           "ContextGroupExtensionCreatorUID", "PrivateInformationCreatorUID")


def _temporal_action(vr: str, options: DeidOptions) -> Action:
    if options.retain_full_dates:
        return Action.KEEP
    if options.retain_modified_dates:
        return Action.KEEP if vr == "TM" and options.keep_times else Action.SHIFT
    return Action.REMOVE


def default_action(tag: int, options: DeidOptions) -> Action:
    """The action for a tag that neither the table nor the allow-list names.

    Private tags, unknown and retired tags, the repeating overlay and curve
    groups, groups 0002, 0012 and FFFE, and everything removed.txt names are removed. Any
    other standard attribute is kept so that the object stays valid for its
    IOD: sequences recursively, text scrubbed, dates and times moved like
    the table's, UIDs of instances remapped, person names removed (every
    person name the standard requires is in the table).
    """
    group = tag >> 16
    # 0002 and FFFE are not attributes of the data set: file meta elements found in it (the engine writes its
    # own file meta) and item or delimiter tags read as elements (a damaged header) are not kept either.
    if group & 1 or group in (0x0002, 0x0012, 0xFFFE) or 0x5000 <= group <= 0x60FF:
        return Action.REMOVE
    entry = DicomDictionary.get(tag)
    if entry is None:
        return Action.REMOVE
    vr, _, _, retired, keyword = entry
    removed_tags, removed_groups = removed()
    if retired or tag in removed_tags or group in removed_groups:
        return Action.REMOVE
    if vr == "SQ":
        return Action.RECURSE
    if vr == "PN":
        return Action.REMOVE
    if vr in TEMPORAL_VRS:
        return _temporal_action(vr, options)
    if vr == "UI":
        if options.retain_uids or any(part in keyword for part in _UID_KEPT_KEYWORD_PARTS):
            return Action.KEEP
        return Action.UID
    if vr in SCRUBBED_VRS:
        return Action.SCRUB
    return Action.KEEP


class _Defaults(dict[int, Action]):
    """Actions by tag; a tag seen for the first time gets default_action() and is remembered."""

    def __init__(self, resolved: Mapping[int, Action], options: DeidOptions) -> None:
        super().__init__(resolved)
        self._options = options

    def __missing__(self, tag: int) -> Action:
        action = self[tag] = default_action(tag, self._options)
        return action


@dataclass(frozen=True)
class ResolvedProfile:
    """Per-tag actions for one set of options.

    `actions` holds the table's and the allow-list's decisions; `lookup`
    answers for any tag (default_action() for the others, remembered).
    """

    options: DeidOptions
    actions: Mapping[int, Action]
    dummies: Mapping[int, object]
    vrs: Mapping[int, str]
    lookup: dict[int, Action] = field(compare=False, repr=False, default_factory=dict)


def _scrubbed(action: Action, vr: str) -> Action:
    # Every kept text value is scrubbed of the participant's identity.
    return Action.SCRUB if action is Action.KEEP and vr in SCRUBBED_VRS else action


@functools.lru_cache(maxsize=32)
def resolve_profile(options: DeidOptions) -> ResolvedProfile:
    """Return the per-tag actions for `options` (cached: options are frozen)."""
    actions: dict[int, Action] = {}
    dummies: dict[int, object] = {}
    vrs: dict[int, str] = {}
    for row in table_rows():
        if row.tag is None:
            continue  # 50xx/60xx groups and private elements: removed by default
        action = resolve_row(row, options)
        vr = row.vr
        vrs[row.tag] = vr
        if action is Action.DUMMY or (action is Action.CLEAN and _resolve_basic(row) is Action.DUMMY):
            # A cleaned Type 1 label that ends up empty gets the dummy instead.
            dummies[row.tag] = DUMMY_BY_VR.get(vr, "ANONYMIZED")
        actions[row.tag] = _scrubbed(action, vr)
    for tag, action in allowlist().items():
        if tag in actions:
            raise ValueError(f"allow-listed tag {tag:08X} is also in the profile table")
        vrs[tag] = dictionary_VR(tag)
        actions[tag] = _scrubbed(action, vrs[tag])
        if action is Action.DUMMY:
            dummies[tag] = DUMMY_BY_VR.get(vrs[tag], "ANONYMIZED")
    for tag in SUBJECT_CODE_TAGS:
        actions[tag] = Action.SUBJECT
    for tag in list(actions):
        if tag >> 16 == 0x0012:
            # Group 0012 describes the trial; the engine writes it from the
            # trial's own data and drops whatever the file brought.
            actions[tag] = Action.REMOVE
    return ResolvedProfile(
        options=options,
        actions=MappingProxyType(actions),
        dummies=MappingProxyType(dummies),
        vrs=MappingProxyType(vrs),
        lookup=_Defaults(actions, options),
    )
