"""Write the generated documents of a read package (reads/, sdtm/, sr/) into a PackageZipWriter (pure, no Django).

The Django layer's build task opens the package file, writes `images/...` from storage and
`audit/audit.csv` itself, calls `write_read_documents` for everything derived from the reads,
then `manifest.write_manifest`. `document_paths(trial)` lists the paths this writes, in
order, so the task knows the total for its progress bar before it starts. `evidence(subject,
visitnum)` must return the header datasets the SR of that timepoint needs (see `sr.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from pydicom.dataset import Dataset

from .csvs import lesions_csv, results_csv
from .define import define_xml
from .model import Subject, Timepoint, Trial, all_reads, validate_trial
from .sdtm import build_datasets
from .xpt import csv_bytes, xpt_bytes
from .zipwriter import PackageZipWriter

__all__ = ["document_paths", "sr_path", "timepoint_folder", "write_read_documents"]


def timepoint_folder(timepoint: Timepoint) -> str:
    """The folder name of a timepoint in the package (images/ and sr/): its VISIT label as a slug, e.g. week-8."""
    slug = re.sub(r"[^a-z0-9]+", "-", timepoint.visit.lower()).strip("-")
    return slug or f"visit-{timepoint.visitnum}"


def sr_path(subject: Subject, timepoint: Timepoint, slot: int) -> str:
    return f"sr/{subject.code}/{timepoint_folder(timepoint)}/radiologist-{slot}.dcm"


def _reports(trial: Trial) -> list[tuple[Subject, int, Decimal, str]]:
    out = []
    for subject, read in all_reads(trial):
        for tp in subject.timepoints:
            if read.result(tp.visitnum) is not None:
                out.append((subject, read.slot, tp.visitnum, sr_path(subject, tp, read.slot)))
    return out


def document_paths(trial: Trial) -> list[str]:
    tables = [f"sdtm/{name}.{ext}" for name in ("tu", "tr", "rs") for ext in ("xpt", "csv")]
    return ["reads/results.csv", "reads/lesions.csv", *tables, "sdtm/define.xml", *(p for *_, p in _reports(trial))]


def write_read_documents(
    writer: PackageZipWriter,
    trial: Trial,
    *,
    evidence: Callable[[Subject, Decimal], Sequence[Dataset]],
    created_at: datetime,
    software_version: str = "",
) -> None:
    """Add results and lesion CSVs, the SDTM datasets (XPT + CSV), define.xml and every SR, in `document_paths` order."""
    from .sr import build_measurement_report, sr_bytes  # highdicom is loaded only when a package is built

    validate_trial(trial)
    folders = [[timepoint_folder(tp) for tp in s.timepoints] for s in trial.subjects]
    for subject, names in zip(trial.subjects, folders, strict=True):
        if len(set(names)) != len(names):
            raise ValueError(f"subject {subject.code}: two timepoints have the same folder name {names}")
    writer.add_bytes("reads/results.csv", results_csv(trial))
    writer.add_bytes("reads/lesions.csv", lesions_csv(trial))
    datasets = build_datasets(trial)
    for name in ("TU", "TR", "RS"):
        writer.add_bytes(f"sdtm/{name.lower()}.xpt", xpt_bytes(datasets[name]))
        writer.add_bytes(f"sdtm/{name.lower()}.csv", csv_bytes(datasets[name]))
    writer.add_bytes("sdtm/define.xml", define_xml(datasets, studyid=trial.studyid, created_at=created_at,
                                                   source_system_version=software_version))
    for subject, slot, visitnum, path in _reports(trial):
        read = next(r for r in subject.reads if r.slot == slot)
        report = build_measurement_report(trial, subject, read, visitnum, evidence=evidence(subject, visitnum),
                                          software_version=software_version)
        writer.add_bytes(path, sr_bytes(report))
