"""SDTM TU, TR and RS (SDTMIG 3.4, RECIST 1.1 as in reads.md) from the package input, plus their variable metadata.

Input: a `reads.package.model.Trial` (see that module for what the Django layer provides).
Output: `build_datasets(trial)` returns the three `Dataset`s, rows as dicts in variable order,
Char values as str ("" when empty) and Num values as int/float or None. The same `Variable`
metadata (name <= 8 characters, label <= 40, type, length computed from the data, origin,
codelist, derivation method) drives the XPT writer (`xpt.py`) and define.xml (`define.py`).

Representation (the SDTMIG 3.4 RECIST 1.1 conventions of reads.md, choices marked *):

- USUBJID = STUDYID-subject code. Every row carries the evaluator: --EVAL = INDEPENDENT ASSESSOR,
  --EVALID = RADIOLOGIST 1 / RADIOLOGIST 2. --LNKID = R<slot>-<label> with a two-digit number
  (R1-T01, R2-NT01, R1-N01). TRLNKGRP / RSLNKGRP = R<slot>-A<n>, n the timepoint's position in
  reading order (A1 = baseline), linking a read's TR rows of a timepoint to its OVRLRESP row.
- TU: one row per lesion per read at the timepoint it was identified (baseline for targets and
  non-targets, the first timepoint recorded for a new lesion); TULOC is the organ as a CDISC
  location term (the API's organ names upper-cased*; the free-text location goes to lesions.csv).
- TR: targets LDIAM (non-nodal, long axis) or SAXIS (lymph nodes, short axis) per timepoint;
  a disappeared target is 0 mm; "too small to measure" keeps TRORRES = TOO SMALL TO MEASURE
  with TRSTRESC/TRSTRESN standardized to the charter's value (5 mm) and no TRORRESU*; a
  not-evaluable target has TRSTAT = NOT DONE and TRREASND = the reason*. Non-targets are
  TUMSTATE PRESENT / ABSENT / UNEQUIVOCAL PROGRESSION / NOT EVALUABLE; new lesions TUMSTATE
  PRESENT (unequivocal) or EQUIVOCAL*, plus their LDIAM/SAXIS when measured. SUMDIAM per read
  and timepoint with targets (TRSTAT = NOT DONE when a target is missing). TRACPTFL = Y on the
  accepted read's rows of each timepoint, empty otherwise. TRGRPID = TARGET / NON-TARGET / NEW.
- RS: per read and follow-up, TRGRESP (when the read has targets), NTRGRESP (when it has
  non-targets), NEWLPROG only when new lesions were recorded (UNEQUIVOCAL / EQUIVOCAL, as the
  CDISC RECIST 1.1 supplement shows*), OVRLRESP always; RSCAT = RECIST 1.1; RSACPTFL = Y on the
  accepted read. Best overall response is in reads/results.csv, not in RS.
- --DTC is the timepoint's scan date as the site recorded it (ISO 8601); --DY counts from the
  treatment start with no day 0 (the start date is day 1, the day before is -1).
- --SEQ runs 1, 2, ... per subject in each dataset, in the sort order evaluator, VISITNUM,
  group, link ID, test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from reads.recist.model import NewLesions, NonTargetResponse, OverallResponse, TargetResponse

from .model import (
    Lesion,
    LesionKind,
    Observation,
    ObservationStatus,
    Read,
    Subject,
    Trial,
    all_reads,
    lesion_link_id,
    validate_trial,
)

__all__ = [
    "DATASET_SPECS",
    "METHODS",
    "Dataset",
    "DatasetSpec",
    "Variable",
    "build_datasets",
    "cdisc_response",
    "study_day",
]

EVAL = "INDEPENDENT ASSESSOR"
MM = "mm"
Value = str | int | float | None

METHODS: dict[str, tuple[str, str]] = {
    # OID suffix: (name, description) of define.xml's MethodDefs.
    "USUBJID": ("Unique subject identifier", "STUDYID, a hyphen and the subject code."),
    "SEQ": ("Sequence number", "1, 2, ... per USUBJID in the order evaluator, VISITNUM, group, link ID, test."),
    "DY": ("Study day", "Days from the treatment start to --DTC: --DTC - start + 1 on or after the start, "
                        "--DTC - start before it (there is no day 0)."),
    "LNKID": ("Link ID", "R<evaluator slot>-<lesion label with a two-digit number>, e.g. R1-T01."),
    "LNKGRP": ("Link group", "R<evaluator slot>-A<position of the timepoint in reading order>, e.g. R1-A2."),
    "TRSTRESN": ("Standardized result", "The measurement in mm; TOO SMALL TO MEASURE is standardized to the "
                                         "charter's value (5 mm); SUMDIAM is the sum of the target lesions' diameters "
                                         "(long axis of non-nodal, short axis of nodal targets)."),
    "ACPTFL": ("Accepted record flag", "Y on the final read of each subject and timepoint: the read the adjudicator "
                                       "selected, or the read the charter reports when the readers agree (RADIOLOGIST 1 "
                                       "by default), or the single read."),
    "RESPONSE": ("RECIST 1.1 response", "Computed by the RECIST 1.1 engine from the evaluator's signed observations."),
}


@dataclass(frozen=True)
class Variable:
    """One SDTM variable: what both the XPT writer and define.xml need."""

    name: str
    label: str
    type: Literal["Char", "Num"]
    core: Literal["Req", "Exp", "Perm"]
    origin: Literal["Assigned", "Derived", "eDT", "Protocol"]
    data_type: Literal["text", "integer", "float", "date"] = "text"
    codelist: str | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        # SAS transport v5 limits: names of 8 characters, labels of 40.
        if len(self.name) > 8 or not self.name.isalnum() or not self.name.isupper():
            raise ValueError(f"variable name {self.name!r} is not an upper-case name of at most 8 characters")
        if len(self.label) > 40:
            raise ValueError(f"label of {self.name} is longer than 40 characters")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    structure: str
    class_: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]

    def __post_init__(self) -> None:
        if len(self.label) > 40:
            raise ValueError(f"dataset label of {self.name} is longer than 40 characters")

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)


@dataclass(frozen=True)
class Dataset:
    spec: DatasetSpec
    rows: tuple[dict[str, Value], ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def length(self, variable: Variable) -> int:
        """Char: the longest value in bytes (at least 1); Num: 8 (SAS doubles)."""
        if variable.type == "Num":
            return 8
        return max([1, *(len(str(row[variable.name]).encode("utf-8")) for row in self.rows)])

    def values(self, name: str) -> list[Value]:
        return [row[name] for row in self.rows]


def _common(prefix: str) -> tuple[Variable, ...]:
    return (
        Variable("STUDYID", "Study Identifier", "Char", "Req", "Assigned"),
        Variable("DOMAIN", "Domain Abbreviation", "Char", "Req", "Assigned", codelist="DOMAIN"),
        Variable("USUBJID", "Unique Subject Identifier", "Char", "Req", "Derived", method="USUBJID"),
        Variable(f"{prefix}SEQ", "Sequence Number", "Num", "Req", "Derived", "integer", method="SEQ"),
    )


def _timing(prefix: str, dtc_label: str, dy_label: str) -> tuple[Variable, ...]:
    return (
        Variable("VISITNUM", "Visit Number", "Num", "Exp", "Protocol", "float"),
        Variable("VISIT", "Visit Name", "Char", "Perm", "Protocol"),
        Variable(f"{prefix}DTC", dtc_label, "Char", "Exp", "eDT", "date"),
        Variable(f"{prefix}DY", dy_label, "Num", "Perm", "Derived", "integer", method="DY"),
    )


TU_SPEC = DatasetSpec(
    "TU", "Tumor/Lesion Identification", "One record per identified tumor per subject per assessor", "FINDINGS",
    ("STUDYID", "USUBJID", "TUEVALID", "TULNKID"),
    (
        *_common("TU"),
        Variable("TULNKID", "Link ID", "Char", "Exp", "Derived", method="LNKID"),
        Variable("TUTESTCD", "Tumor/Lesion ID Short Name", "Char", "Req", "Assigned", codelist="TUTESTCD"),
        Variable("TUTEST", "Tumor/Lesion ID Test Name", "Char", "Req", "Assigned", codelist="TUTEST"),
        Variable("TUORRES", "Tumor/Lesion ID Result", "Char", "Exp", "eDT", codelist="TUORRES"),
        Variable("TUSTRESC", "Tumor/Lesion ID Result Std. Format", "Char", "Exp", "eDT", codelist="TUORRES"),
        Variable("TULOC", "Location of the Tumor/Lesion", "Char", "Exp", "eDT", codelist="LOC"),
        Variable("TUMETHOD", "Method of Identification", "Char", "Exp", "eDT", codelist="METHOD"),
        Variable("TUEVAL", "Evaluator", "Char", "Perm", "Assigned", codelist="EVAL"),
        Variable("TUEVALID", "Evaluator Identifier", "Char", "Perm", "Assigned", codelist="EVALID"),
        *_timing("TU", "Date/Time of Tumor/Lesion Identification", "Study Day of Tumor/Lesion Identification"),
    ),
)

TR_SPEC = DatasetSpec(
    "TR", "Tumor/Lesion Results", "One record per tumor measurement/assessment per visit per subject per assessor",
    "FINDINGS",
    ("STUDYID", "USUBJID", "TREVALID", "VISITNUM", "TRGRPID", "TRLNKID", "TRTESTCD"),
    (
        *_common("TR"),
        Variable("TRGRPID", "Group ID", "Char", "Perm", "Assigned", codelist="TRGRPID"),
        Variable("TRLNKGRP", "Link Group ID", "Char", "Perm", "Derived", method="LNKGRP"),
        Variable("TRLNKID", "Link ID", "Char", "Exp", "Derived", method="LNKID"),
        Variable("TRTESTCD", "Tumor/Lesion Assessment Short Name", "Char", "Req", "Assigned", codelist="TRTESTCD"),
        Variable("TRTEST", "Tumor/Lesion Assessment Test Name", "Char", "Req", "Assigned", codelist="TRTEST"),
        Variable("TRORRES", "Result or Finding in Original Units", "Char", "Exp", "eDT"),
        Variable("TRORRESU", "Original Units", "Char", "Exp", "eDT", codelist="UNIT"),
        Variable("TRSTRESC", "Character Result/Finding in Std Format", "Char", "Exp", "Derived"),
        Variable("TRSTRESN", "Numeric Result/Finding in Standard Units", "Num", "Exp", "Derived", "float",
                 method="TRSTRESN"),
        Variable("TRSTRESU", "Standard Units", "Char", "Exp", "Derived", codelist="UNIT"),
        Variable("TRSTAT", "Completion Status", "Char", "Perm", "eDT", codelist="ND"),
        Variable("TRREASND", "Reason Not Done", "Char", "Perm", "eDT"),
        Variable("TRMETHOD", "Method used to Identify the Tumor/Lesion", "Char", "Exp", "eDT", codelist="METHOD"),
        Variable("TREVAL", "Evaluator", "Char", "Perm", "Assigned", codelist="EVAL"),
        Variable("TREVALID", "Evaluator Identifier", "Char", "Perm", "Assigned", codelist="EVALID"),
        Variable("TRACPTFL", "Accepted Record Flag", "Char", "Perm", "Derived", codelist="NY", method="ACPTFL"),
        *_timing("TR", "Date/Time of Tumor/Lesion Measurement", "Study Day of Tumor/Lesion Measurement"),
    ),
)

RS_SPEC = DatasetSpec(
    "RS", "Disease Response and Clin Classification", "One record per response assessment per visit per subject per assessor",
    "FINDINGS",
    ("STUDYID", "USUBJID", "RSEVALID", "VISITNUM", "RSTESTCD"),
    (
        *_common("RS"),
        Variable("RSLNKGRP", "Link Group ID", "Char", "Perm", "Derived", method="LNKGRP"),
        Variable("RSTESTCD", "Assessment Short Name", "Char", "Req", "Assigned", codelist="RSTESTCD"),
        Variable("RSTEST", "Assessment Name", "Char", "Req", "Assigned", codelist="RSTEST"),
        Variable("RSCAT", "Category for Assessment", "Char", "Exp", "Assigned", codelist="RSCAT"),
        Variable("RSORRES", "Result or Finding in Original Units", "Char", "Exp", "Derived", codelist="RSRESP",
                 method="RESPONSE"),
        Variable("RSSTRESC", "Character Result/Finding in Std Format", "Char", "Exp", "Derived", codelist="RSRESP",
                 method="RESPONSE"),
        Variable("RSEVAL", "Evaluator", "Char", "Perm", "Assigned", codelist="EVAL"),
        Variable("RSEVALID", "Evaluator Identifier", "Char", "Perm", "Assigned", codelist="EVALID"),
        Variable("RSACPTFL", "Accepted Record Flag", "Char", "Perm", "Derived", codelist="NY", method="ACPTFL"),
        *_timing("RS", "Date/Time of Assessment", "Study Day of Assessment"),
    ),
)

DATASET_SPECS: dict[str, DatasetSpec] = {spec.name: spec for spec in (TU_SPEC, TR_SPEC, RS_SPEC)}

CODELIST_NAMES: dict[str, str] = {
    "DOMAIN": "Domain Abbreviation",
    "TUTESTCD": "Tumor Identification Test Code",
    "TUTEST": "Tumor Identification Test Name",
    "TUORRES": "Tumor Identification Result",
    "LOC": "Anatomical Location",
    "METHOD": "Method",
    "EVAL": "Evaluator",
    "EVALID": "Evaluator Identifier",
    "TRGRPID": "Tumor Results Group",
    "TRTESTCD": "Tumor Results Test Code",
    "TRTEST": "Tumor Results Test Name",
    "UNIT": "Unit",
    "ND": "Not Done",
    "NY": "No Yes Response",
    "RSTESTCD": "Disease Response Test Code",
    "RSTEST": "Disease Response Test Name",
    "RSCAT": "Category for Disease Response",
    "RSRESP": "Disease Response Result",
}

METHOD_BY_MODALITY = {"CT": "CT SCAN", "MR": "MRI", "PT": "PET SCAN", "US": "ULTRASOUND", "CR": "X-RAY", "DX": "X-RAY",
                      "MG": "MAMMOGRAPHY", "NM": "SCINTIGRAPHY"}
TUORRES_BY_KIND = {LesionKind.TARGET: "TARGET", LesionKind.NON_TARGET: "NON-TARGET", LesionKind.NEW: "NEW"}
TUMSTATE_BY_STATUS = {
    ObservationStatus.PRESENT: "PRESENT",
    ObservationStatus.ABSENT: "ABSENT",
    ObservationStatus.UNEQUIVOCAL_PROGRESSION: "UNEQUIVOCAL PROGRESSION",
    ObservationStatus.NOT_EVALUABLE: "NOT EVALUABLE",
    ObservationStatus.UNEQUIVOCAL: "PRESENT",
    ObservationStatus.EQUIVOCAL: "EQUIVOCAL",
}
TR_TESTS = {"LDIAM": "Longest Diameter", "SAXIS": "Short Axis", "SUMDIAM": "Sum of Diameter", "TUMSTATE": "Tumor State"}
RS_TESTS = {"TRGRESP": "Target Response", "NTRGRESP": "Non-target Response", "NEWLPROG": "New Lesion Progression",
            "OVRLRESP": "Overall Response"}
_GROUP_ORDER = {"TARGET": 0, "NON-TARGET": 1, "NEW": 2}
_TR_TEST_ORDER = {"LDIAM": 0, "SAXIS": 0, "TUMSTATE": 1, "SUMDIAM": 2}
_RS_TEST_ORDER = {code: i for i, code in enumerate(RS_TESTS)}


def cdisc_response(response: OverallResponse | TargetResponse | NonTargetResponse) -> str:
    """The engine's response as a CDISC term: NON_CR_NON_PD becomes NON-CR/NON-PD."""
    return "NON-CR/NON-PD" if response.value == "NON_CR_NON_PD" else response.value


def study_day(day: date | None, start: date | None) -> int | None:
    """--DY: day 1 is the treatment start, the day before is -1; None without both dates."""
    if day is None or start is None:
        return None
    delta = (day - start).days
    return delta + 1 if delta >= 0 else delta


def _number_text(value: Decimal) -> str:
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return str(int(normalized))
    return format(normalized, "f")


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _visitnum(value: Decimal) -> int | float:
    return _number(value)


class _Rows:
    """Rows of one dataset with the variables every row shares filled in."""

    def __init__(self, trial: Trial, spec: DatasetSpec) -> None:
        self.trial, self.spec, self.prefix = trial, spec, spec.name
        self.rows: list[dict[str, Value]] = []

    def add(self, subject: Subject, read: Read, visitnum: Decimal, **values: Value) -> None:
        tp = subject.timepoint(visitnum)
        p = self.prefix
        row: dict[str, Value] = {v.name: ("" if v.type == "Char" else None) for v in self.spec.variables}
        row.update({
            "STUDYID": self.trial.studyid, "DOMAIN": p, "USUBJID": self.trial.usubjid(subject),
            f"{p}EVAL": EVAL, f"{p}EVALID": read.evaluator,
            "VISITNUM": _visitnum(visitnum), "VISIT": tp.visit,
            f"{p}DTC": tp.scan_date.isoformat() if tp.scan_date else "",
            f"{p}DY": study_day(tp.scan_date, subject.treatment_start),
        })
        unknown = set(values) - set(row)
        if unknown:
            raise KeyError(f"{p} has no variables {sorted(unknown)}")
        row.update(values)
        self.rows.append(row)

    def finish(self, key: Callable[[dict[str, Value]], tuple]) -> Dataset:
        ordered = sorted(self.rows, key=key)
        counters: dict[str, int] = {}
        for row in ordered:
            usubjid = str(row["USUBJID"])
            counters[usubjid] = counters.get(usubjid, 0) + 1
            row[f"{self.prefix}SEQ"] = counters[usubjid]
        return Dataset(self.spec, tuple(ordered))


def _visit_key(row: dict[str, Value], prefix: str) -> tuple:
    return (row["USUBJID"], row[f"{prefix}EVALID"], row["VISITNUM"])


def _method(subject: Subject, visitnum: Decimal) -> str:
    modality = subject.timepoint(visitnum).modality.upper()
    return METHOD_BY_MODALITY.get(modality, modality)


def _identified_at(subject: Subject, read: Read, lesion: Lesion) -> Decimal:
    seen = [o.visitnum for o in read.observations if o.lesion == lesion.identity]
    if seen:
        return min(seen, key=subject.position)
    return subject.timepoints[0].visitnum


def _tu(trial: Trial) -> Dataset:
    rows = _Rows(trial, TU_SPEC)
    for subject, read in all_reads(trial):
        for lesion in read.lesions:
            visitnum = _identified_at(subject, read, lesion)
            kind = TUORRES_BY_KIND[lesion.kind]
            rows.add(subject, read, visitnum, TULNKID=lesion_link_id(read.slot, lesion.label), TUTESTCD="TUMIDENT",
                     TUTEST="Tumor Identification", TUORRES=kind, TUSTRESC=kind, TULOC=lesion.organ.strip().upper(),
                     TUMETHOD=_method(subject, visitnum))
    return rows.finish(lambda row: (*_visit_key(row, "TU"), row["TULNKID"]))


def _diameter_row(trial: Trial, lesion: Lesion, obs: Observation) -> dict[str, Value]:
    code = "SAXIS" if lesion.lymph_node else "LDIAM"
    row: dict[str, Value] = {"TRTESTCD": code, "TRTEST": TR_TESTS[code]}
    status = ObservationStatus(obs.status)
    if status is ObservationStatus.TOO_SMALL:
        row.update(TRORRES="TOO SMALL TO MEASURE", TRSTRESC=_number_text(trial.too_small_mm),
                   TRSTRESN=_number(trial.too_small_mm), TRSTRESU=MM)
    elif status is ObservationStatus.NOT_EVALUABLE:
        row.update(TRSTAT="NOT DONE", TRREASND=obs.reason or "NOT EVALUABLE")
    else:
        mm = Decimal(0) if status is ObservationStatus.DISAPPEARED else (
            obs.short_axis_mm if lesion.lymph_node else obs.long_axis_mm)
        assert mm is not None
        text = _number_text(mm)
        row.update(TRORRES=text, TRORRESU=MM, TRSTRESC=text, TRSTRESN=_number(mm), TRSTRESU=MM)
    return row


def _tr_rows_for(trial: Trial, subject: Subject, read: Read) -> Iterator[tuple[Decimal, dict[str, Value]]]:
    lesions = {lesion.identity: lesion for lesion in read.lesions}
    for obs in read.observations:
        lesion = lesions[obs.lesion]
        group = TUORRES_BY_KIND[lesion.kind]
        common: dict[str, Value] = {"TRGRPID": group, "TRLNKID": lesion_link_id(read.slot, lesion.label),
                                    "TRMETHOD": _method(subject, obs.visitnum)}
        status = ObservationStatus(obs.status)
        if lesion.kind is LesionKind.TARGET:
            yield obs.visitnum, {**common, **_diameter_row(trial, lesion, obs)}
            continue
        yield obs.visitnum, {**common, "TRTESTCD": "TUMSTATE", "TRTEST": TR_TESTS["TUMSTATE"],
                             "TRORRES": TUMSTATE_BY_STATUS[status], "TRSTRESC": TUMSTATE_BY_STATUS[status]}
        if lesion.kind is LesionKind.NEW and obs.is_measured:
            yield obs.visitnum, {**common, **_diameter_row(trial, lesion, obs)}
    has_targets = any(lesion.kind is LesionKind.TARGET for lesion in read.lesions)
    if has_targets:
        for result in read.results:
            row: dict[str, Value] = {"TRGRPID": "TARGET", "TRTESTCD": "SUMDIAM", "TRTEST": TR_TESTS["SUMDIAM"]}
            if result.sum_mm is None:
                row.update(TRSTAT="NOT DONE", TRREASND="NOT ALL TARGET LESIONS EVALUABLE")
            else:
                text = _number_text(result.sum_mm)
                row.update(TRORRES=text, TRORRESU=MM, TRSTRESC=text, TRSTRESN=_number(result.sum_mm), TRSTRESU=MM)
            yield result.visitnum, row


def _tr(trial: Trial) -> Dataset:
    rows = _Rows(trial, TR_SPEC)
    for subject, read in all_reads(trial):
        for visitnum, values in _tr_rows_for(trial, subject, read):
            rows.add(subject, read, visitnum, TRLNKGRP=f"R{read.slot}-A{subject.position(visitnum)}",
                     TREVAL=EVAL, TRACPTFL="Y" if visitnum in read.accepted_visitnums else "", **values)
    # Lesions grouped target / non-target / new, each lesion's rows together, SUMDIAM after the targets.
    return rows.finish(lambda row: (*_visit_key(row, "TR"), _GROUP_ORDER[str(row["TRGRPID"])],
                                    row["TRTESTCD"] == "SUMDIAM", row["TRLNKID"], _TR_TEST_ORDER[str(row["TRTESTCD"])]))


def _rs(trial: Trial) -> Dataset:
    rows = _Rows(trial, RS_SPEC)
    for subject, read in all_reads(trial):
        kinds = {lesion.kind for lesion in read.lesions}
        for result in read.results:
            if result.overall is None:
                continue  # the baseline has no response
            accepted = "Y" if result.visitnum in read.accepted_visitnums else ""
            tests: list[tuple[str, str, str]] = []
            if LesionKind.TARGET in kinds and result.target not in (None, TargetResponse.NA):
                assert result.target is not None
                tests.append(("TRGRESP", cdisc_response(result.target), ""))
            if LesionKind.NON_TARGET in kinds and result.non_target not in (None, NonTargetResponse.NA):
                assert result.non_target is not None
                tests.append(("NTRGRESP", cdisc_response(result.non_target), ""))
            if result.new_lesions is NewLesions.YES:
                tests.append(("NEWLPROG", "UNEQUIVOCAL", ""))
            elif result.new_lesions is NewLesions.EQUIVOCAL:
                tests.append(("NEWLPROG", "EQUIVOCAL", ""))
            tests.append(("OVRLRESP", cdisc_response(result.overall), f"R{read.slot}-A{subject.position(result.visitnum)}"))
            for code, value, link_group in tests:
                rows.add(subject, read, result.visitnum, RSLNKGRP=link_group, RSTESTCD=code, RSTEST=RS_TESTS[code],
                         RSCAT=trial.criteria, RSORRES=value, RSSTRESC=value, RSACPTFL=accepted)
    return rows.finish(lambda row: (*_visit_key(row, "RS"), _RS_TEST_ORDER[str(row["RSTESTCD"])]))


def build_datasets(trial: Trial) -> dict[str, Dataset]:
    """TU, TR and RS of the trial (validated first; raises PackageInputError on contradictory input)."""
    validate_trial(trial)
    return {"TU": _tu(trial), "TR": _tr(trial), "RS": _rs(trial)}
