"""Sponsor read packages (reads.md "Read package"): request, build into storage, download.

`read_package_request` (the trial's sponsor or an admin: `view_progress`) records a queued
package and hands it to Celery after commit. `read_package_build` (the task's body) writes the
zip to a temporary file: the de-identified DICOM of the included visits as stored
(`images/<subject>/<timepoint>/<series>/<SOP instance UID>.dcm`), the read documents
(`reads.package.build`), `audit/audit.csv` of the included objects with actors pseudonymised
by role, then `manifest.json`; it reports files written as it goes, puts the zip into Django
storage and only then marks the package ready. Any retry starts again from nothing, so a worker
killed mid-build never leaves a package marked ready. Building and downloading are audited.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.actions import AuditAction
from audit.models import AuditEvent
from audit.services import audit_record
from audit.transitions import transition
from ictms.lib.errors import DomainError, NotFoundError
from ictms.lib.users import AnyUser
from imaging.choices import QcStatus
from imaging.models import Instance
from reads.choices import READ_PACKAGE_MACHINE, ReadPackageState
from reads.models import ReadPackage
from reads.package.build import document_paths, timepoint_folder, write_read_documents
from reads.package.manifest import write_manifest
from reads.package.model import ADJUDICATOR, PackageInputError, evaluator_name
from reads.package.zipwriter import CHUNK, FileEntry, PackageZipWriter
from reads.package_source import PackageSource, evidence_header, evidence_instances, package_input
from trials.choices import Role
from trials.models import Membership, Trial
from trials.selectors import trial_access

__all__ = [
    "read_package_build", "read_package_download", "read_package_get_for_user", "read_package_list_for_user",
    "read_package_request",
]

SOFTWARE_VERSION = "ictms 0.1.0"
PROGRESS_EVERY = 10  # files between two progress saves


def _can_see(user: AnyUser, trial: Trial) -> bool:
    access = trial_access(user=user, trial=trial)
    return access.can("view_progress")


def read_package_list_for_user(*, user: AnyUser, trial: Trial | None = None) -> QuerySet[ReadPackage]:
    """Packages of the trials where the caller is sponsor or admin (`view_progress`), newest first."""
    if not getattr(user, "is_authenticated", False):
        return ReadPackage.objects.none()
    user_id = int(user.pk or 0)
    trials = Trial.objects.filter(pk__in=Membership.objects.filter(user_id=user_id, is_active=True).values("trial_id"))
    trial_ids = [t.pk for t in trials if _can_see(user, t)]
    qs = ReadPackage.objects.filter(trial_id__in=trial_ids).select_related("trial")
    return qs.filter(trial=trial) if trial is not None else qs


def read_package_get_for_user(*, user: AnyUser, pk: int) -> ReadPackage:
    package = ReadPackage.objects.select_related("trial").filter(pk=pk).first()
    if package is None or not _can_see(user, package.trial):
        raise NotFoundError("No such read package.")
    return package


def read_package_request(*, actor: User, trial: Trial, cutoff: dt.date | None = None,
                         subjects: Iterable[str] | None = None) -> ReadPackage:
    """Queue a package of `trial`'s final reads (up to `cutoff`, of `subjects` if given); the task builds it."""
    from reads.tasks import read_package_build_task

    if not _can_see(actor, trial):
        raise NotFoundError("No such trial.")
    codes = None if subjects is None else sorted({str(s).strip() for s in subjects if str(s).strip()})
    if codes is not None:
        known = set(trial.participants.filter(subject_code__in=codes).values_list("subject_code", flat=True))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValidationError({"subjects": f"Not subjects of this trial: {', '.join(unknown)}."})
        if not codes:
            raise ValidationError({"subjects": "Name at least one subject, or leave the list out."})
    with transaction.atomic():
        package = ReadPackage.objects.create(trial=trial, requested_by=actor, cutoff=cutoff, subjects=codes)
        audit_record(actor=actor, action=AuditAction.READ_PACKAGE_REQUEST, target=package, trial=trial,
                     data={"cutoff": cutoff.isoformat() if cutoff else None, "subjects": codes})
        transaction.on_commit(lambda: read_package_build_task.delay(package.pk))
    return package


def read_package_download(*, actor: User, package: ReadPackage) -> Any:
    """The ready package's zip opened from storage (the caller streams it); audited."""
    if not _can_see(actor, package.trial):
        raise NotFoundError("No such read package.")
    if package.state != ReadPackageState.READY:
        raise DomainError("The package is not ready yet.")
    audit_record(actor=actor, action=AuditAction.READ_PACKAGE_DOWNLOAD, target=package, trial=package.trial,
                 data={"sha256": package.sha256, "size": package.size})
    return default_storage.open(package.storage_key, "rb")


# --- building ---------------------------------------------------------------------------------------

def _role_names(trial: Trial) -> dict[int, str]:
    """User id -> role name as it may appear in a package (never a name)."""
    labels: dict[str, str] = {Role.READER.value: "RADIOLOGIST", Role.ADJUDICATOR.value: ADJUDICATOR}
    out: dict[int, str] = {}
    for user_id, role in Membership.objects.filter(trial=trial).order_by("-is_active").values_list("user_id", "role"):
        out.setdefault(user_id, labels.get(role, Role(role).label.upper()))
    return out


def _image_rows(source: PackageSource) -> list[tuple[str, Instance]]:
    """(package path, instance) of every stored instance of the included visits (QC-failed series left out)."""
    visit_ids = {v.pk: key for key, v in source.visits.items()}
    subjects = {s.code: s for s in source.trial.subjects}
    instances = (Instance.objects.filter(series__study__visit_id__in=list(visit_ids))
                 .exclude(series__qc_status=QcStatus.FAILED).select_related("series__study")
                 .order_by("series__study__visit_id", "series__series_number", "series_id", "instance_number", "id"))
    rows = []
    for instance in instances:
        code, visitnum = visit_ids[instance.series.study.visit_id]
        folder = timepoint_folder(subjects[code].timepoint(visitnum))
        series = instance.series
        name = str(series.series_number) if series.series_number is not None else series.series_uid
        rows.append((f"images/{code}/{folder}/{name}/{instance.sop_uid}.dcm", instance))
    return rows


class _Pseudonyms:
    """Actors of the included objects' audit events by role; reader and adjudicator names scrubbed from text."""

    def __init__(self, package: ReadPackage, source: PackageSource) -> None:
        self.roles = _role_names(package.trial)
        self.slots = {(t.assignment.case_id, t.assignment.reader_id): t.assignment.slot for t in source.tasks}
        self.adjudicators = {a.adjudicator_id for a in source.adjudications}
        ids = set(self.roles) | {reader for _, reader in self.slots} | self.adjudicators
        self.names: list[tuple[str, int]] = []  # (name or username, user id), longest first
        for user in User.objects.filter(pk__in=ids):
            for text in (user.get_full_name(), user.username):
                if text and len(text) >= 3:
                    self.names.append((text, user.pk))
        self.names.sort(key=lambda pair: -len(pair[0]))

    def name(self, user_id: int | None, case_id: int | None) -> str:
        if user_id is None:
            return "SYSTEM"
        if case_id is not None and (case_id, user_id) in self.slots:
            return evaluator_name(self.slots[(case_id, user_id)])
        if user_id in self.adjudicators:
            return ADJUDICATOR
        return self.roles.get(user_id, "USER")

    def actor(self, event: AuditEvent, case_id: int | None) -> str:
        return self.name(event.actor_id, case_id)

    def scrub(self, text: str, case_id: int | None) -> str:
        for name, user_id in self.names:
            if name in text:
                text = text.replace(name, self.name(user_id, case_id))
        return text


AUDIT_HEADER = ["seq", "at_utc", "actor", "action", "object_type", "object_id", "reason", "changes", "data"]


def _audit_targets(source: PackageSource) -> dict[tuple[str, str], int | None]:
    """(target type, id) of every included object -> the read case it belongs to (None: not a case's)."""
    from reads.models import Lesion, Observation

    out: dict[tuple[str, str], int | None] = {}
    for case in source.cases:
        out[("reads.readcase", str(case.pk))] = case.pk
    for task in source.tasks:
        case_id = task.assignment.case_id
        out[("reads.readtask", str(task.pk))] = case_id
        out[("reads.readassignment", str(task.assignment_id))] = case_id
    task_ids = [t.pk for t in source.tasks]
    by_task = {t.pk: t.assignment.case_id for t in source.tasks}
    for pk, task_id in Lesion.objects.filter(created_in_id__in=task_ids).values_list("pk", "created_in_id"):
        out[("reads.lesion", str(pk))] = by_task[task_id]
    for pk, task_id in Observation.objects.filter(task_id__in=task_ids).values_list("pk", "task_id"):
        out[("reads.observation", str(pk))] = by_task[task_id]
    for adjudication in source.adjudications:
        out[("reads.adjudication", str(adjudication.pk))] = adjudication.case_id
    for visit in source.visits.values():
        out[("trials.visit", str(visit.pk))] = None
    return out


def _audit_rows(package: ReadPackage, source: PackageSource) -> Iterator[bytes]:
    targets = _audit_targets(source)
    pseudonyms = _Pseudonyms(package, source)
    by_type: dict[str, list[str]] = {}
    for kind, pk in targets:
        by_type.setdefault(kind, []).append(pk)
    query = Q(pk__in=[])
    for kind, ids in by_type.items():
        query |= Q(target_type=kind, target_id__in=ids)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_HEADER)
    events = AuditEvent.objects.filter(query).order_by("seq") if by_type else AuditEvent.objects.none()
    for event in events.iterator(chunk_size=500):
        case_id = targets.get((event.target_type, event.target_id))
        writer.writerow([
            event.seq, event.at.isoformat(), pseudonyms.actor(event, case_id), event.action, event.target_type,
            event.target_id, pseudonyms.scrub(event.reason, case_id),
            pseudonyms.scrub(json.dumps(event.changes, sort_keys=True, default=str), case_id),
            pseudonyms.scrub(json.dumps(event.data, sort_keys=True, default=str), case_id),
        ])
        if buffer.tell() > CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _storage_key(package: ReadPackage) -> str:
    return f"packages/{package.trial.code}/read-package-{package.pk}.zip"


def _progress(package: ReadPackage, written: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"files_written": written}
    if total is not None:
        fields["files_total"] = total
    ReadPackage.objects.filter(pk=package.pk).update(**fields)


def _requester_role(package: ReadPackage) -> str:
    return _role_names(package.trial).get(package.requested_by_id, "USER")


def _write_zip(handle: Any, package: ReadPackage, source: PackageSource, created_at: dt.datetime) -> None:
    images = _image_rows(source)
    documents = document_paths(source.trial)
    total = len(images) + len(documents) + 1  # + audit/audit.csv (the manifest is not counted)
    _progress(package, 0, total)
    written = 0

    def on_file(_: FileEntry) -> None:
        nonlocal written
        written += 1
        if written % PROGRESS_EVERY == 0:
            _progress(package, written)

    headers: dict[tuple[str, Decimal], list[Any]] = {}
    for key, found in evidence_instances(source).items():
        headers[key] = [evidence_header(instance) for instance in found]
    stamp = created_at.timetuple()[:6]
    with PackageZipWriter(handle, date_time=stamp, on_file=on_file) as writer:
        for path, instance in images:
            with default_storage.open(instance.storage_key, "rb") as fh:
                writer.add_stream(path, fh, size=instance.size)
        write_read_documents(writer, source.trial, evidence=lambda s, v: headers[(s.code, v)],
                             created_at=created_at, software_version=SOFTWARE_VERSION)
        writer.add_stream("audit/audit.csv", _audit_rows(package, source))
        write_manifest(writer, trial=source.trial.studyid, cutoff=package.cutoff, created_at=created_at,
                       created_by=_requester_role(package), software_version=SOFTWARE_VERSION)
    _progress(package, written)


def read_package_build(*, package_id: int) -> ReadPackage:
    """Build the package from scratch (idempotent: a retry starts again; only a complete build is marked ready)."""
    package = ReadPackage.objects.select_related("trial").get(pk=package_id)
    if package.state == ReadPackageState.READY:
        return package
    if package.state == ReadPackageState.FAILED:
        transition(READ_PACKAGE_MACHINE, package, ReadPackageState.QUEUED, actor=None, trial=package.trial,
                   reason="Retry")
    if package.state == ReadPackageState.QUEUED:
        transition(READ_PACKAGE_MACHINE, package, ReadPackageState.BUILDING, actor=None, trial=package.trial,
                   reason="Build started")
    created_at = timezone.now().replace(microsecond=0)
    try:
        source = package_input(package.trial, cutoff=package.cutoff, subjects=package.subjects)
        if not source.trial.subjects:
            raise DomainError("No case has final reads within the package's cut-off and subjects.")
        key = _storage_key(package)
        tmp_dir = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
        with tempfile.TemporaryFile(dir=tmp_dir) as handle:
            _write_zip(handle, package, source, created_at)
            size = handle.tell()
            handle.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
            handle.seek(0)
            if default_storage.exists(key):
                default_storage.delete(key)
            saved = default_storage.save(key, File(handle, name=key))
            if saved != key:
                raise RuntimeError(f"storage saved {key!r} as {saved!r}")
    except (DomainError, PackageInputError) as exc:  # the data, not the worker: retrying would not help
        package.refresh_from_db()
        transition(READ_PACKAGE_MACHINE, package, ReadPackageState.FAILED, actor=None, trial=package.trial,
                   reason=str(exc)[:500], fields={"error": str(exc)})
        return package
    package.refresh_from_db()
    transition(READ_PACKAGE_MACHINE, package, ReadPackageState.READY, actor=None, trial=package.trial,
               reason="Build complete", data={"sha256": digest.hexdigest(), "size": size},
               fields={"size": size, "sha256": digest.hexdigest(), "storage_key": key, "error": ""},
               bookkeeping={"built_at": timezone.now()})
    return package
