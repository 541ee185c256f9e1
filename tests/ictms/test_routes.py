"""Route inventory: every URL pattern of ictms.urls has a persona matrix entry, and each entry is exercised.

`test_every_route_has_a_matrix_entry` walks the URL tree (through every include) and fails,
listing them, when a pattern has no entry in MATRIX. A new view therefore cannot land without
saying who may call it. Each entry then becomes real HTTP requests (`test_route_cell`): the
right role (allowed), a user of another site of the same trial (where the route is
site-scoped), a user of another trial, the blinded reader (where the route exposes unblinded
data or site identity), and an anonymous client. Invisible objects answer 404, visible but
forbidden 403 (docs/api.md); anonymous API calls answer 401 and anonymous page views redirect
to the login page.

Not inventoried: the operators' Django admin (`admin/`, guarded by Django's staff flag), static
files, and DRF's format-suffix duplicates of router patterns (`\\.(?P<format>...)`: the same view).
PUBLIC lists the routes that are public by design (login, password reset, the API token
endpoint); they still get a request each. The OpenAPI schema and its docs page are for any
signed-in user.

The world (two trials, sites, one user per role, images, queries, measurements) is built once
per module and rolled back at the end; each request runs in its own savepoint, so an allowed
state change (answer a query, accept a visit) does not leak into the next cell.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PASSWORD = "pw-for-tests-123"
ARM = "ARM-UNBLINDED-7"  # participant 101-001's treatment arm: the QC analyst and the reader never see it
# Subject codes (101-002 is the reader's read case), site names, arm.
BLINDED_FROM_READER = ("101-001", "101-002", "102-001", "Site 101", "Site 102", ARM)
PIXEL_DATA = "7FE00010"


# --- the world ------------------------------------------------------------------------------------

@dataclass
class Refs:
    """The shared world plus the imaging objects routes point at (all in trial A, site 101 unless named)."""

    w: Any
    visit: Any = None  # participant 101-001, baseline: one series of 2 instances, two queries
    accept_visit: Any = None  # participant 101-001, week 8: one passed series, no query (QC may accept it)
    study: Any = None
    series: Any = None
    instance: Any = None
    submission: Any = None  # done
    open_submission: Any = None  # receiving, with one started resumable upload
    empty_submission: Any = None  # receiving, nothing sent (participant 101-001, week 8): may be cancelled
    upload: Any = None
    open_query: Any = None
    answered_query: Any = None
    measurement: Any = None  # by the QC analyst
    requirement: Any = None
    membership: Any = None  # the sponsor's
    invitation: Any = None  # the outsider's pending invitation to trial A (auditor)
    audit_seq: int = 0
    creator: Any = None  # holds the global trials.add_trial right (no trial membership)
    read_case: Any = None  # participant 101-002 (baseline accepted), read by reader (slot 1 or 2) and reader2
    read_task: Any = None  # the reader's baseline task of read_case (ready)
    reassign_body: Any = None  # moves the reader's slot of read_case to reader3
    read_lesion: Any = None  # a non-target the reader added at read_task (in progress)
    read_target: Any = None  # T1 of the reader's baseline, measured
    read_measurement: Any = None  # another caliper of the reader on read_case's baseline (free to record)
    signed_task: Any = None  # reader2's baseline of read_case, signed
    quality_query: Any = None  # the reader's open image-quality query on read_task
    adjudication: Any = None  # an open round of read_case, assigned to the adjudicator
    read_package: Any = None  # a built (ready) read package of trial A, requested by the sponsor
    sessions: dict[str, str] = field(default_factory=dict)  # persona -> session key, logged in once per module

    def user(self, persona: str) -> Any:
        return self.creator if persona == "creator" else self.w.user(persona)


def _storage_settings(root: Path) -> dict[str, Any]:
    return {
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],  # as conftest: fast, and the same
        "MEDIA_ROOT": root,
        "STORAGES": {**settings.STORAGES,
                     "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                 "OPTIONS": {"location": root, "allow_overwrite": True}}},
    }


def build_refs() -> Refs:
    from django.contrib.auth.models import Permission

    from audit.models import AuditEvent
    from imaging.intake.services import submission_open, submission_upload_start
    from imaging.qc.services import series_qc_decide
    from imaging.queries.services import query_answer, query_raise
    from imaging.viewer.measurements import measurement_create
    from tests.conftest import build_world
    from tests.imaging.factories import make_series
    from tests.trials import factories as f
    from trials.choices import Role
    from trials.models import ImagingRequirement, Membership

    w = build_world()
    r = Refs(w=w)
    w.participant.arm = ARM
    w.participant.save()
    r.visit = f.visit(w.participant, "BL")
    r.series = make_series(r.visit, n=2, rows=32, columns=32)
    r.study = r.series.study
    r.instance = r.series.instances.order_by("id").first()
    r.submission = r.series.first_submission
    r.open_query = query_raise(actor=w.qc, visit=r.visit, subject="Slices", message="Please resend thin slices.")
    r.answered_query = query_raise(actor=w.qc, visit=r.visit, subject="Contrast", message="Was contrast given?")
    r.answered_query = query_answer(actor=w.coordinator, query=r.answered_query, message="Yes, IV.")
    r.measurement = measurement_create(actor=w.qc, instance=r.instance, points=[[4, 4], [20, 4]])

    r.accept_visit = f.visit(w.participant, "W8")
    passed = make_series(r.accept_visit, n=1, rows=32, columns=32)
    series_qc_decide(actor=w.qc, series=passed, status="passed", reason="meets_protocol")

    w16 = f.visit(w.participant, "W16")
    r.open_submission = submission_open(actor=w.coordinator, visit=w16, comment="")
    r.empty_submission = submission_open(actor=w.coordinator, visit=r.accept_visit, comment="")
    r.upload = submission_upload_start(actor=w.coordinator, submission=r.open_submission, client_key="k1",
                                       name="IM0001.dcm", size=1000)
    r.requirement = ImagingRequirement.objects.create(timepoint=w.timepoints[0], body_region="Chest")
    r.membership = Membership.objects.get(user=w.sponsor, trial=w.trial, role=Role.SPONSOR)
    from trials.services import membership_invite

    r.invitation = membership_invite(actor=w.admin, trial=w.trial, email=w.outsider.email, role=Role.AUDITOR).invitation
    r.creator = f.UserFactory(username="trial_creator")
    r.creator.user_permissions.add(Permission.objects.get(content_type__app_label="trials", codename="add_trial"))
    _reads(r)
    r.audit_seq = AuditEvent.objects.filter(trial=w.trial).order_by("seq").values_list("seq", flat=True).first()
    for persona in {p for route in MATRIX for _column, p, _status in route.cells() if p}:
        client = Client()
        client.force_login(r.user(persona), backend="django.contrib.auth.backends.ModelBackend")
        r.sessions[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return r


def _reads(r: Refs) -> None:
    """A double read of 101-002 (baseline accepted) by reader and reader2; reader3 joins the pool later."""
    from reads.models import ReadCase, ReadTask
    from tests.imaging.factories import make_series
    from tests.reads.factories import accept, double_read
    from tests.trials import factories as f
    from trials.choices import Role

    w = r.w
    read_participant = f.participant(w.coordinator, w.site, "101-002")
    baseline = f.visit(read_participant, "BL")
    make_series(baseline, n=1, rows=64, columns=64)  # 0.7 mm pixels: room for 30 mm calipers
    double_read(w)
    accept(baseline, actor=w.qc)
    w.reader3 = f.member(w.trial, Role.READER, username="reader_c")
    double_read(w, readers=["reader_a", "reader_b", "reader_c"])
    r.read_case = ReadCase.objects.get(participant=read_participant)
    r.read_task = ReadTask.objects.get(assignment__case=r.read_case, assignment__reader=w.reader, sequence=0)
    from reads import reading
    from tests.reads.factories import measure

    r.read_lesion = reading.lesion_add(actor=w.reader, task=r.read_task, kind="non_target", organ="bone")
    r.read_target = reading.lesion_add(actor=w.reader, task=r.read_task, kind="target", organ="lung",
                                       measurement=measure(w.reader, baseline, 24))
    r.read_measurement = measure(w.reader, baseline, 26)
    r.signed_task = ReadTask.objects.get(assignment__case=r.read_case, assignment__reader=w.reader2, sequence=0)
    reading.lesion_add(actor=w.reader2, task=r.signed_task, kind="target", organ="liver",
                       measurement=measure(w.reader2, baseline, 30))
    reading.read_task_sign(actor=w.reader2, task=r.signed_task, password=PASSWORD)
    from reads.quality import quality_query_raise

    r.quality_query = quality_query_raise(actor=w.reader, task=r.read_task, message="Motion artefacts")
    from reads.models import Adjudication

    # A round as adjudication_evaluate opens it (its triggers are tested in tests/reads/test_adjudication.py).
    r.adjudication = Adjudication.objects.create(case=r.read_case, round=1, triggers=["best_response"], up_to=0,
                                                 adjudicator=w.adjudicator)
    # reader2 has signed, so only the reader's slot can move.
    r.reassign_body = {"from": "reader_a", "to": "reader_c", "reason": "Reader unavailable"}
    r.read_package = _ready_package(w)


def _ready_package(w: Any) -> Any:
    """A built read package of trial A (a small zip in storage), as the build task leaves it."""
    import datetime as dt
    import hashlib
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from reads.models import ReadPackage
    from reads.package.manifest import write_manifest
    from reads.package.zipwriter import PackageZipWriter

    buffer = io.BytesIO()
    with PackageZipWriter(buffer) as writer:
        writer.add_bytes("reads/results.csv", b"subject,visit\n")
        write_manifest(writer, trial="TRIAL-A", cutoff=None, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                       created_by="SPONSOR", software_version="test")
    data = buffer.getvalue()
    package = ReadPackage.objects.create(trial=w.trial, requested_by=w.sponsor, state="ready", files_written=1,
                                         files_total=1, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                         storage_key="packages/TRIAL-A/read-package-route.zip", built_at=timezone.now())
    default_storage.save(package.storage_key, ContentFile(data))
    return package


@pytest.fixture(scope="module")
def _media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("route-storage")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def refs(django_db_setup: Any, django_db_blocker: Any, _media: Path) -> Iterator[Refs]:
    with django_db_blocker.unblock(), override_settings(**_storage_settings(_media)), transaction.atomic():
        built = build_refs()
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def r(refs: Refs, db: Any, settings: Any, _test_settings: None, _media: Path) -> Refs:
    """The module's world, with the storage its files were written to (conftest points each test elsewhere)."""
    for name, value in _storage_settings(_media).items():
        setattr(settings, name, value)  # pytest-django's settings fixture: restored after the test
    return refs


def client_for(refs: Refs, persona: str | None) -> Client:
    class CommittingClient(Client):
        def request(self, **request: Any) -> Any:
            with TestCase.captureOnCommitCallbacks(execute=True):
                return super().request(**request)

    client = CommittingClient()
    if persona is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = refs.sessions[persona]
    return client


# --- the matrix -------------------------------------------------------------------------------------

EMPTY = "empty"  # 200, and what the allowed persona sees (the marker, or any row) is absent
NO_MATCH = "no-match"  # 204 with no body: a DICOMweb search that finds nothing (PS3.18 8.3.4.4)
REDIRECT = "redirect"  # 302 to anywhere but the login page
LOGIN = "login"  # 302 to the login page (anonymous page views)
Kwargs = Callable[[Refs], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """One request shape of one URL pattern and the status each persona gets.

    `allow` is (persona, status) for the right role. `other_site`, `other_trial` and `reader` are
    (persona, status) or None where that column does not apply (not site-scoped; no object of a
    trial; nothing unblinded). `anon` is what an anonymous client gets. `extra` holds further
    cells worth pinning (e.g. a site coordinator on a QC-only action: 403).
    """

    name: str
    allow: tuple[str, Any]
    anon: Any
    other_trial: tuple[str, Any] | None = None
    other_site: tuple[str, Any] | None = None
    reader: tuple[str, Any] | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    kwargs: Kwargs | None = None
    method: str = "get"
    query: Callable[[Refs], str] | str = ""
    body: Callable[[Refs], dict[str, Any]] | dict[str, Any] | None = None
    json: bool = True
    form: bool = False  # send `body` form-encoded (a page's form) instead of as JSON
    marker: Callable[[Refs], str] | None = None  # text the allowed response shows and EMPTY ones do not
    public: bool = False
    label: str = ""

    def cells(self) -> list[tuple[str, str | None, Any]]:
        out: list[tuple[str, str | None, Any]] = [("allow", *self.allow)]
        for column in ("other_site", "other_trial", "reader"):
            cell = getattr(self, column)
            if cell is not None:
                out.append((column, *cell))
        out.extend(("extra", persona, status) for persona, status in self.extra)
        out.append(("anon", None, self.anon))
        return out

    def url(self, refs: Refs) -> str:
        url = reverse(self.name, kwargs=self.kwargs(refs) if self.kwargs else None)
        query = self.query(refs) if callable(self.query) else self.query
        return f"{url}?{query}" if query else url


def visit_kw(refs: Refs) -> dict[str, Any]:
    return {"code": "TRIAL-A", "visit_id": refs.visit.pk}


def pk(attr: str) -> Kwargs:
    return lambda refs: {"pk": getattr(refs, attr).pk}


def trial_a(**more: Callable[[Refs], Any]) -> Kwargs:
    return lambda refs: {"code": "TRIAL-A", **{k: v(refs) for k, v in more.items()}}


def uids(*levels: str, **more: Any) -> Kwargs:
    def build(refs: Refs) -> dict[str, Any]:
        values = {"study_uid": refs.study.study_uid, "series_uid": refs.series.series_uid,
                  "sop_uid": refs.instance.sop_uid}
        return {**{k: values[k] for k in levels}, **more}

    return build


def invitation_link(refs: Refs) -> str:
    from trials.selectors import invitation_token

    return invitation_token(refs.invitation)


SUBJECT = lambda refs: "101-001"  # noqa: E731 (the marker of site 101's participant)

# Columns that recur: a trial-scoped API object seen from trial B, the reader, anonymous API.
B_ADMIN_404 = ("admin_b", 404)
B_COORD_404 = ("coordinator_b", 404)
OTHER_SITE_404 = ("other_coordinator", 404)
READER_404 = ("reader", 404)

API: list[Route] = [
    # --- project level -----------------------------------------------------------------------
    Route("api-token", method="post", body={"username": "coord_101", "password": PASSWORD}, allow=(None, 200),
          anon=200, public=True, marker=lambda refs: '"token"'),
    Route("api-token", method="post", body={"username": "coord_101", "password": "wrong"}, allow=(None, 400),
          anon=400, public=True, label="wrong password"),
    Route("api-token", method="delete", allow=("coordinator", 204), anon=401, label="revoke my token"),
    Route("schema", allow=("outsider", 200), anon=401, json=False,
          marker=lambda refs: "openapi:"),
    Route("api-docs", allow=("outsider", 200), anon=LOGIN, json=False),
    # --- trials API --------------------------------------------------------------------------
    Route("trials-api:trial-list", allow=("admin", 200), other_trial=("admin_b", EMPTY), reader=("reader", 200),
          anon=401, marker=lambda refs: '"TRIAL-A"'),
    Route("trials-api:trial-list", method="post", body={"code": "TRIAL-C", "title": "Third", "sponsor_name": "S"},
          allow=("creator", 201), extra=(("admin", 403), ("outsider", 403)), anon=401, label="create"),
    Route("trials-api:trial-detail", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404,
          reader=("reader", 200), anon=401),
    Route("trials-api:trial-detail", kwargs=trial_a(), method="patch", body={"title": "Renamed"},
          allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("qc", 403),), anon=401, label="edit"),
    Route("trials-api:trial-status", kwargs=trial_a(), method="post", body={"status": "locked", "reason": "DB lock"},
          allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("sponsor", 403), ("auditor", 403)), anon=401),
    Route("trials-api:site-list", query="trial=TRIAL-A", allow=("coordinator", 200),
          other_site=("other_coordinator", EMPTY), other_trial=("coordinator_b", EMPTY), reader=("reader", EMPTY),
          anon=401, marker=lambda refs: '"Site 101"'),
    Route("trials-api:site-detail", kwargs=lambda refs: {"pk": refs.w.site.pk}, allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("trials-api:site-detail", kwargs=lambda refs: {"pk": refs.w.site.pk}, method="patch",
          body={"name": "Renamed site"}, allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("coordinator", 403),),
          anon=401, label="edit"),
    Route("trials-api:timepoint-list", query="trial=TRIAL-A", allow=("admin", 200),
          other_trial=("admin_b", EMPTY), anon=401),
    Route("trials-api:timepoint-detail", kwargs=lambda refs: {"pk": refs.w.timepoints[1].pk}, allow=("admin", 200),
          other_trial=B_ADMIN_404, anon=401),
    Route("trials-api:imaging-requirement-list", query="trial=TRIAL-A", allow=("admin", 200),
          other_trial=("admin_b", EMPTY), anon=401),
    Route("trials-api:imaging-requirement-detail", kwargs=pk("requirement"), allow=("admin", 200),
          other_trial=B_ADMIN_404, anon=401),
    Route("trials-api:membership-list", query="trial=TRIAL-A", allow=("admin", 200),
          other_trial=("admin_b", EMPTY), extra=(("coordinator", EMPTY),), anon=401,
          marker=lambda refs: '"sponsor_a"'),
    Route("trials-api:membership-detail", kwargs=pk("membership"), allow=("admin", 200), other_trial=B_ADMIN_404,
          extra=(("coordinator", 404),), anon=401),
    Route("trials-api:membership-change-role", kwargs=pk("membership"), method="post",
          body={"role": "auditor", "reason": "now monitoring"}, allow=("admin", 200), other_trial=B_ADMIN_404,
          extra=(("sponsor", 404),), anon=401),
    Route("trials-api:membership-remove", kwargs=pk("membership"), method="post", body={"reason": "left"},
          allow=("admin", 200), other_trial=B_ADMIN_404, anon=401),
    Route("trials-api:membership-list", method="post", label="invite an existing account",
          body=lambda refs: {"trial": "TRIAL-A", "email": refs.w.admin_b.email, "role": "qc_analyst"},
          allow=("admin", 202), other_trial=B_ADMIN_404, extra=(("qc", 403),), anon=401),
    Route("trials-api:invitation-list", query="trial=TRIAL-A", allow=("admin", 200), other_trial=("admin_b", EMPTY),
          extra=(("qc", EMPTY), ("outsider", 200)), anon=401, marker=lambda refs: refs.w.outsider.email),
    Route("trials-api:invitation-detail", kwargs=pk("invitation"), allow=("admin", 200), other_trial=B_ADMIN_404,
          extra=(("qc", 404), ("outsider", 200)), anon=401),
    Route("trials-api:invitation-accept", kwargs=pk("invitation"), method="post", allow=("outsider", 200),
          other_trial=B_ADMIN_404, extra=(("admin", 404),), anon=401),
    Route("trials-api:invitation-decline", kwargs=pk("invitation"), method="post", body={}, allow=("outsider", 200),
          other_trial=B_ADMIN_404, extra=(("admin", 404),), anon=401),
    Route("trials-api:invitation-revoke", kwargs=pk("invitation"), method="post", body={"reason": "typo"},
          allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("qc", 404), ("outsider", 404)), anon=401),
    Route("trials-api:participant-list", query="trial=TRIAL-A", allow=("coordinator", 200),
          other_site=("other_coordinator", EMPTY), other_trial=("coordinator_b", EMPTY), reader=("reader", EMPTY),
          anon=401, marker=SUBJECT),
    Route("trials-api:participant-list", method="post", body={"trial": "TRIAL-A", "site": "101", "subject_code": "101-077"},
          allow=("coordinator", 201), other_site=("other_coordinator", 404), other_trial=B_COORD_404,
          reader=("reader", 404), extra=(("qc", 403),), anon=401, label="enrol"),
    Route("trials-api:participant-detail", kwargs=lambda refs: {"pk": refs.w.participant.pk},
          allow=("coordinator", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("trials-api:participant-change-status", kwargs=lambda refs: {"pk": refs.w.participant.pk}, method="post",
          body={"status": "withdrawn", "reason": "consent withdrawn"}, allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, extra=(("qc", 403), ("sponsor", 403), ("auditor", 403)), anon=401),
    Route("trials-api:visit-list", query=lambda refs: f"participant={refs.w.participant.pk}",
          allow=("coordinator", 200), other_site=("other_coordinator", EMPTY), other_trial=("coordinator_b", EMPTY),
          reader=("reader", EMPTY), anon=401),
    Route("trials-api:visit-detail", kwargs=pk("visit"), allow=("coordinator", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, anon=401),
    # --- viewer API ----------------------------------------------------------------------------
    Route("imaging-viewer-api:frame-rendered", kwargs=lambda refs: {"pk": refs.instance.pk, "frame": 0},
          allow=("qc", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404,
          extra=(("coordinator", 200),), anon=401, json=False),
    Route("imaging-viewer-api:instance-thumbnail", kwargs=pk("instance"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("imaging-viewer-api:series-thumbnail", kwargs=pk("series"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404, anon=401, json=False),
    Route("imaging-viewer-api:series-list", query=lambda refs: f"visit={refs.visit.pk}", allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("imaging-viewer-api:series-detail", kwargs=pk("series"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("imaging-viewer-api:instance-list", query=lambda refs: f"series={refs.series.pk}", allow=("qc", 200),
          other_site=("other_coordinator", EMPTY), other_trial=("coordinator_b", EMPTY), reader=("reader", EMPTY),
          anon=401),
    Route("imaging-viewer-api:instance-detail", kwargs=pk("instance"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("imaging-viewer-api:instance-header", kwargs=pk("instance"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404, anon=401),
    Route("imaging-viewer-api:measurement-list", query=lambda refs: f"series={refs.series.pk}", allow=("qc", 200),
          other_site=("other_coordinator", EMPTY), other_trial=("admin_b", EMPTY), reader=("reader", EMPTY),
          anon=401),
    Route("imaging-viewer-api:measurement-list", method="post",
          body=lambda refs: {"instance": refs.instance.pk, "points": [[2, 2], [30, 2]]}, allow=("qc", 201),
          other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404, extra=(("sponsor", 403), ("auditor", 403)), anon=401, label="measure"),
    Route("imaging-viewer-api:measurement-detail", kwargs=pk("measurement"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404, anon=401),
    Route("imaging-viewer-api:measurement-detail", kwargs=pk("measurement"), method="patch", body={"label": "L1"},
          allow=("qc", 200), other_trial=B_ADMIN_404, extra=(("admin", 403),), anon=401, label="edit"),
    Route("imaging-viewer-api:measurement-detail", kwargs=pk("measurement"), method="delete",
          allow=("qc", 204), other_trial=B_ADMIN_404, extra=(("coordinator", 403),), anon=401, label="delete"),
    # --- audit API -------------------------------------------------------------------------------
    Route("audit-api:audit-event-list", query="trial=TRIAL-A", allow=("auditor", 200),
          other_trial=("admin_b", EMPTY), reader=("reader", EMPTY), extra=(("qc", EMPTY),), anon=401),
    Route("audit-api:audit-event-detail", kwargs=lambda refs: {"seq": refs.audit_seq}, allow=("admin", 200),
          other_trial=B_ADMIN_404, reader=READER_404, extra=(("coordinator", 404),), anon=401),
    # --- imaging API: submissions ------------------------------------------------------------------
    Route("imaging-api:submission-list", query=lambda refs: f"visit={refs.visit.pk}", allow=("coordinator", 200),
          other_site=("other_coordinator", EMPTY), other_trial=("coordinator_b", EMPTY), reader=("reader", EMPTY),
          anon=401),
    Route("imaging-api:submission-list", method="post", body=lambda refs: {"visit": refs.visit.pk, "comment": "CT"},
          allow=("coordinator", 201), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404,
          extra=(("qc", 403), ("sponsor", 403), ("auditor", 403)), anon=401, label="open"),
    Route("imaging-api:submission-detail", kwargs=pk("submission"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("imaging-api:submission-complete", kwargs=pk("open_submission"), method="post", allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, extra=(("qc", 403),), anon=401),
    Route("imaging-api:submission-files", kwargs=pk("open_submission"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("imaging-api:submission-uploads", kwargs=pk("open_submission"), method="post",
          body={"client_key": "k2", "name": "IM0002.dcm", "size": 10}, allow=("coordinator", 201),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, extra=(("qc", 403),), anon=401),
    Route("imaging-api:submission-upload-chunk",
          kwargs=lambda refs: {"pk": refs.open_submission.pk, "file_id": refs.upload.pk}, allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    # --- imaging API: queries ------------------------------------------------------------------
    Route("imaging-api:query-list", query=lambda refs: f"visit={refs.visit.pk}", allow=("coordinator", 200),
          other_site=("other_coordinator", EMPTY), other_trial=("coordinator_b", EMPTY), reader=("reader", EMPTY),
          anon=401),
    Route("imaging-api:query-list", method="post",
          body=lambda refs: {"visit": refs.visit.pk, "message": "Missing series."}, allow=("qc", 201),
          other_trial=B_ADMIN_404, reader=READER_404, extra=(("coordinator", 403), ("sponsor", 403), ("auditor", 403)), anon=401, label="raise"),
    Route("imaging-api:query-detail", kwargs=pk("open_query"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("imaging-api:query-answer", kwargs=pk("open_query"), method="post", body={"message": "Resent."},
          allow=("coordinator", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404,
          extra=(("qc", 403), ("sponsor", 403)), anon=401),
    Route("imaging-api:query-resolve", kwargs=pk("answered_query"), method="post", body={"message": "Thanks."},
          allow=("qc", 200), other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404,
          extra=(("coordinator", 403),), anon=401),
    Route("imaging-api:query-reopen", kwargs=pk("answered_query"), method="post", body={"message": "Not enough."},
          allow=("qc", 200), other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404,
          extra=(("coordinator", 403),), anon=401),
    Route("imaging-api:query-cancel", kwargs=pk("open_query"), method="post", body={"message": "Raised in error."},
          allow=("qc", 200), other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404,
          extra=(("coordinator", 403),), anon=401),
    # --- imaging API: QC -------------------------------------------------------------------------
    Route("imaging-api:qc-visit-list", query="trial=TRIAL-A", allow=("qc", 200), other_trial=("admin_b", EMPTY),
          reader=("reader", EMPTY), extra=(("coordinator", EMPTY),), anon=401),
    Route("imaging-api:qc-visit-detail", kwargs=pk("visit"), allow=("qc", 200), other_site=OTHER_SITE_404,
          other_trial=B_ADMIN_404, reader=READER_404, anon=401),
    Route("imaging-api:qc-visit-accept", kwargs=pk("accept_visit"), method="post", body={"comment": "Complete."},
          allow=("qc", 200), other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404,
          extra=(("coordinator", 403), ("sponsor", 403), ("auditor", 403)), anon=401),
    Route("imaging-api:qc-visit-findings", kwargs=pk("visit"), allow=("qc", 200), other_site=OTHER_SITE_404,
          other_trial=B_ADMIN_404, reader=READER_404, anon=401),
    Route("imaging-api:series-qc-qc", kwargs=pk("series"), method="post",
          body={"status": "failed", "reason": "protocol_deviation", "comment": "7 mm"}, allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404, extra=(("coordinator", 403), ("sponsor", 403), ("auditor", 403)),
          anon=401),
]

PAGES: list[Route] = [
    # --- project level -----------------------------------------------------------------------
    Route("home", allow=("coordinator", REDIRECT), extra=(("outsider", 200),), anon=LOGIN),
    Route("login", allow=(None, 200), anon=200, public=True),
    Route("logout", method="post", allow=("coordinator", 302), anon=302, public=True),
    Route("password_change", allow=("coordinator", 200), anon=LOGIN),
    Route("password_change_done", allow=("coordinator", 200), anon=LOGIN),
    Route("password_reset", allow=(None, 200), anon=200, public=True),
    Route("password_reset_done", allow=(None, 200), anon=200, public=True),
    Route("password_reset_confirm", kwargs=lambda refs: {"uidb64": "MQ", "token": "set-password"},
          allow=(None, 200), anon=200, public=True),
    Route("password_reset_complete", allow=(None, 200), anon=200, public=True),
    Route("account-token", allow=("coordinator", 200), extra=(("outsider", 200),), anon=LOGIN),
    Route("account-token", method="post", body={"action": "revoke"}, form=True, json=False,
          allow=("coordinator", REDIRECT), anon=LOGIN, label="revoke"),
    Route("account-token", method="post", body={"action": "issue"}, form=True, json=False,
          allow=("coordinator", 200), anon=LOGIN, label="issue", marker=lambda refs: 'id="new-token-key"'),
    # --- trials pages --------------------------------------------------------------------------
    Route("trials:create", allow=("creator", 200), extra=(("admin", 403), ("outsider", 403)), anon=LOGIN),
    Route("trials:home", kwargs=trial_a(), allow=("qc", 200), other_trial=B_ADMIN_404, reader=("reader", REDIRECT),
          extra=(("adjudicator", REDIRECT), ("sponsor", REDIRECT)), anon=LOGIN),
    Route("trials:settings", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("qc", 403),), anon=LOGIN),
    Route("trials:sites", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          anon=LOGIN),
    Route("trials:site-edit", kwargs=trial_a(site_id=lambda refs: refs.w.site.pk), allow=("admin", 200),
          other_trial=B_ADMIN_404, extra=(("coordinator", 403),), anon=LOGIN),
    Route("trials:schedule", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, anon=LOGIN),
    Route("trials:timepoint-edit", kwargs=trial_a(timepoint_id=lambda refs: refs.w.timepoints[0].pk),
          allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("qc", 403),), anon=LOGIN),
    Route("trials:requirement-edit", kwargs=trial_a(requirement_id=lambda refs: refs.requirement.pk),
          allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("qc", 403),), anon=LOGIN),
    Route("trials:members", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, extra=(("qc", 403),),
          anon=LOGIN),
    Route("trials:member-edit", kwargs=trial_a(membership_id=lambda refs: refs.membership.pk), allow=("admin", 200),
          other_trial=B_ADMIN_404, extra=(("sponsor", 403),), anon=LOGIN),
    Route("trials:invitation-revoke", kwargs=trial_a(invitation_id=lambda refs: refs.invitation.pk), method="post",
          body={}, form=True, allow=("admin", REDIRECT), other_trial=B_ADMIN_404, extra=(("qc", 403),), anon=LOGIN),
    Route("trials:invitation", kwargs=lambda refs: {"token": invitation_link(refs)}, allow=("outsider", 200),
          other_trial=B_ADMIN_404, extra=(("admin", 404),), anon=LOGIN),
    Route("trials:invitation", kwargs=lambda refs: {"token": invitation_link(refs)}, method="post",
          body={"decision": "accept"}, form=True, allow=("outsider", REDIRECT), other_trial=B_ADMIN_404,
          extra=(("admin", 404),), anon=LOGIN, label="accept"),
    Route("trials:participants", kwargs=trial_a(), allow=("coordinator", 200), other_site=("other_coordinator", EMPTY),
          other_trial=B_COORD_404, reader=("reader", 403), anon=LOGIN, marker=SUBJECT),
    Route("trials:participant", kwargs=trial_a(participant_id=lambda refs: refs.w.participant.pk),
          allow=("coordinator", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404,
          anon=LOGIN),
    Route("trials:visits", kwargs=trial_a(), allow=("coordinator", 200), other_site=("other_coordinator", EMPTY),
          other_trial=B_COORD_404, reader=("reader", 403), anon=LOGIN, marker=SUBJECT),
    # --- imaging pages ------------------------------------------------------------------------
    Route("imaging:visit", kwargs=visit_kw, allow=("coordinator", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, anon=LOGIN),
    Route("imaging:submission-new", kwargs=visit_kw, allow=("coordinator", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, extra=(("qc", REDIRECT),), anon=LOGIN,
          label="a role that may not upload is sent back to the visit"),
    Route("imaging:submission", kwargs=trial_a(submission_id=lambda refs: refs.submission.pk),
          allow=("coordinator", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404,
          anon=LOGIN),
    Route("imaging:submission-cancel", kwargs=trial_a(submission_id=lambda refs: refs.empty_submission.pk),
          method="post", body={}, json=False, allow=("coordinator", REDIRECT), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, extra=(("qc", 403),), anon=LOGIN,
          label="only the site's coordinator cancels an empty submission"),
    Route("imaging:query", kwargs=trial_a(query_id=lambda refs: refs.open_query.pk), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=LOGIN),
    Route("imaging:queries", kwargs=trial_a(), allow=("qc", 200), other_site=("other_coordinator", EMPTY),
          other_trial=B_COORD_404, reader=("reader", 403), anon=LOGIN, marker=SUBJECT),
    Route("imaging:overdue-visits", kwargs=trial_a(), allow=("qc", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), anon=LOGIN),
    Route("imaging:qc-queue", kwargs=trial_a(), allow=("qc", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("coordinator", 403), ("admin", 200), ("sponsor", 200)), anon=LOGIN,
          label="core-lab roles without the QC right see it read-only"),
    # Site roles and readers are refused the QC pages by role (403) before any visit is looked up.
    Route("imaging:qc-visit", kwargs=visit_kw, allow=("qc", 200), other_site=("other_coordinator", 403),
          other_trial=B_ADMIN_404, reader=("reader", 403), extra=(("coordinator", 403),), anon=LOGIN),
    Route("imaging:qc-dashboard", kwargs=trial_a(), allow=("qc", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("coordinator", 403),), anon=LOGIN),
    # --- viewer pages ----------------------------------------------------------------------------
    Route("viewer:visit", kwargs=visit_kw, allow=("qc", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404,
          reader=READER_404, extra=(("coordinator", 200),), anon=LOGIN),
    Route("viewer:participant", kwargs=trial_a(participant_id=lambda refs: refs.w.participant.pk),
          allow=("admin", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=LOGIN),
    # --- audit pages ---------------------------------------------------------------------------
    Route("audit:trail", kwargs=trial_a(), allow=("auditor", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("qc", 403),), anon=LOGIN),
    Route("audit:export", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          anon=LOGIN),
    # --- reads pages ---------------------------------------------------------------------------
    Route("reads:design", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("qc", 403), ("sponsor", 403), ("adjudicator", 403)), anon=LOGIN),
    Route("reads:design", kwargs=trial_a(), method="post", body={"paradigm": "single"}, allow=("admin", 200),
          other_trial=B_ADMIN_404, reader=("reader", 403), extra=(("qc", 403),), anon=LOGIN,
          label="save: an incomplete form is shown again with its errors"),
    Route("reads:assignment", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("qc", 403), ("coordinator", 403), ("sponsor", 403)), anon=LOGIN,
          marker=lambda refs: refs.read_case.code),
    Route("reads:case-reassign", kwargs=trial_a(case_id=lambda refs: refs.read_case.pk), method="post", body={},
          allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403), extra=(("qc", 403),), anon=LOGIN,
          label="an incomplete form is shown again with its errors"),
    Route("reads:worklist", kwargs=trial_a(), allow=("reader", 200), other_trial=B_ADMIN_404,
          extra=(("reader2", 200), ("admin", 403), ("adjudicator", 403), ("qc", 403)), anon=LOGIN,
          marker=lambda refs: refs.read_case.code),
    Route("reads:adjudications", kwargs=trial_a(), allow=("adjudicator", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), extra=(("admin", 403),), anon=LOGIN, marker=lambda refs: refs.read_case.code),
    Route("reads:adjudication", kwargs=trial_a(adjudication_id=lambda refs: refs.adjudication.pk),
          allow=("adjudicator", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("admin", 200), ("qc", 403), ("sponsor", 403), ("coordinator", 403)), anon=LOGIN,
          marker=lambda refs: f"Case {refs.read_case.code}"),
    Route("reads:adjudication", kwargs=trial_a(adjudication_id=lambda refs: refs.adjudication.pk), method="post",
          body={"selected": "1", "reason_code": "measurement", "rationale": "Reader 1 measured T1 correctly.",
                "password": PASSWORD}, json=False, form=True,
          allow=("adjudicator", REDIRECT), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("admin", 403), ("sponsor", 403)), anon=LOGIN, label="sign the decision"),
    Route("reads:adjudication", kwargs=trial_a(adjudication_id=lambda refs: refs.adjudication.pk), method="post",
          body={"selected": "1", "reason_code": "measurement", "rationale": "Reader 1 measured T1 correctly.",
                "password": "wrong"}, json=False, form=True,
          allow=("adjudicator", 403), other_trial=B_ADMIN_404, anon=LOGIN, label="wrong password"),
    Route("reads:adjudication-images", kwargs=trial_a(adjudication_id=lambda refs: refs.adjudication.pk),
          allow=("adjudicator", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("admin", 200), ("qc", 403), ("sponsor", 403)), anon=LOGIN),
    Route("reads:results", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("sponsor", 200), ("qc", 403), ("adjudicator", 403), ("coordinator", 403)), anon=LOGIN),
    Route("reads:metrics", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("qc", 200), ("sponsor", 200), ("adjudicator", 403), ("coordinator", 403)), anon=LOGIN),
    Route("reads:dashboard", kwargs=trial_a(), allow=("sponsor", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), extra=(("admin", 200), ("qc", 403), ("coordinator", 403), ("adjudicator", 403)),
          anon=LOGIN),
    Route("reads:packages", kwargs=trial_a(), allow=("sponsor", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), extra=(("admin", 200), ("qc", 403), ("coordinator", 403), ("auditor", 403),
                                         ("adjudicator", 403)),
          anon=LOGIN, marker=lambda refs: refs.read_package.sha256),
    Route("reads:packages", kwargs=trial_a(), method="post", body={"cutoff": "", "subjects": ""}, json=False,
          form=True, allow=("sponsor", REDIRECT), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("admin", REDIRECT), ("qc", 403), ("auditor", 403)), anon=LOGIN, label="request"),
    Route("reads:package-download", kwargs=trial_a(package_id=lambda refs: refs.read_package.pk),
          allow=("sponsor", 200), other_trial=B_ADMIN_404, reader=("reader", 403),
          extra=(("admin", 200), ("auditor", 403), ("coordinator", 403)), anon=LOGIN, json=False,
          marker=lambda refs: "manifest.json"),
    Route("reads:quality-queries", kwargs=trial_a(), allow=("qc", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), extra=(("sponsor", 403), ("admin", 403)), anon=LOGIN,
          marker=lambda refs: "Motion artefacts"),
    Route("reads:quality-queries", kwargs=trial_a(), method="post",
          body=lambda refs: {"query": refs.quality_query.pk, "message": "Use series 2."}, json=False, form=True,
          allow=("qc", REDIRECT), other_trial=B_ADMIN_404, reader=("reader", 403), anon=LOGIN, label="answer"),
    Route("reads:task", kwargs=trial_a(task_id=lambda refs: refs.read_task.pk), allow=("reader", 200),
          other_trial=B_ADMIN_404, extra=(("reader2", 404), ("admin", 404), ("qc", 404), ("coordinator", 404)),
          anon=LOGIN, marker=lambda refs: refs.read_case.code),
]

# DICOMweb (QIDO-RS and WADO-RS): read-only, site-scoped like the viewer; 401 with a Basic challenge.
DICOMWEB: list[Route] = [
    Route("dicomweb:studies", query=lambda refs: f"StudyInstanceUID={refs.study.study_uid}", allow=("qc", 200),
          other_site=("other_coordinator", NO_MATCH), other_trial=("coordinator_b", NO_MATCH), reader=("reader", NO_MATCH),
          anon=401, marker=lambda refs: refs.study.study_uid),
    Route("dicomweb:series", query=lambda refs: f"SeriesInstanceUID={refs.series.series_uid}", allow=("coordinator", 200),
          other_site=("other_coordinator", NO_MATCH), other_trial=("coordinator_b", NO_MATCH), reader=("reader", NO_MATCH),
          anon=401, marker=lambda refs: refs.series.series_uid),
    Route("dicomweb:instances", query=lambda refs: f"SOPInstanceUID={refs.instance.sop_uid}", allow=("qc", 200),
          other_site=("other_coordinator", NO_MATCH), other_trial=("admin_b", NO_MATCH), reader=("reader", NO_MATCH),
          anon=401, marker=lambda refs: refs.instance.sop_uid),
    Route("dicomweb:study-series", kwargs=uids("study_uid"), allow=("qc", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("dicomweb:study-instances", kwargs=uids("study_uid"), allow=("qc", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("dicomweb:series-instances", kwargs=uids("study_uid", "series_uid"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("dicomweb:study", kwargs=uids("study_uid"), allow=("qc", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:study-metadata", kwargs=uids("study_uid"), allow=("qc", 200), other_site=OTHER_SITE_404,
          other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("dicomweb:series-retrieve", kwargs=uids("study_uid", "series_uid"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:series-metadata", kwargs=uids("study_uid", "series_uid"), allow=("coordinator", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401),
    Route("dicomweb:series-thumbnail", kwargs=uids("study_uid", "series_uid"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:instance", kwargs=uids("study_uid", "series_uid", "sop_uid"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:instance-metadata", kwargs=uids("study_uid", "series_uid", "sop_uid"), allow=("admin", 200),
          other_site=OTHER_SITE_404, other_trial=B_ADMIN_404, reader=READER_404, anon=401),
    Route("dicomweb:instance-rendered", kwargs=uids("study_uid", "series_uid", "sop_uid"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:instance-thumbnail", kwargs=uids("study_uid", "series_uid", "sop_uid"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:frames", kwargs=uids("study_uid", "series_uid", "sop_uid", frame_list="1"), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    Route("dicomweb:frames-rendered", kwargs=uids("study_uid", "series_uid", "sop_uid", frame_list="1"),
          allow=("coordinator", 200), other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404,
          anon=401, json=False),
    Route("dicomweb:bulkdata", kwargs=uids("study_uid", "series_uid", "sop_uid", tag=PIXEL_DATA), allow=("qc", 200),
          other_site=OTHER_SITE_404, other_trial=B_COORD_404, reader=READER_404, anon=401, json=False),
    # Any other path under /dicomweb/: a JSON 404 for everyone (it names nothing that exists).
    Route("dicomweb:not-found", kwargs=lambda refs: {"rest": "studies/1.2.3/nonsense"}, allow=("qc", 404), anon=404,
          public=True),
]

READS_API: list[Route] = [
    # --- reads API (api.md "Reads") -------------------------------------------------------------
    Route("reads-api:read-design", kwargs=trial_a(), allow=("admin", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), extra=(("qc", 403), ("sponsor", 403)), anon=401, marker=lambda refs: '"reader_b"'),
    Route("reads-api:read-design", kwargs=trial_a(), method="put",
          body={"paradigm": "double", "readers": ["reader_a", "reader_b"], "adjudicators": ["adjudicator_a"],
                "reason": "pool change"},
          allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403), extra=(("coordinator", 403),),
          anon=401, label="set"),
    Route("reads-api:read-organs", allow=("reader", 200), anon=401, marker=lambda refs: '"lymph node"'),
    # The reader gets their case by code only: 200 without the subject code (EMPTY with a marker).
    Route("reads-api:read-case-list", query="trial=TRIAL-A", allow=("admin", 200), other_trial=("admin_b", EMPTY),
          reader=("reader", EMPTY), extra=(("qc", EMPTY), ("sponsor", EMPTY), ("coordinator", EMPTY),
                                         ("adjudicator", EMPTY)),
          anon=401, marker=lambda refs: '"101-002"'),
    Route("reads-api:read-case-detail", kwargs=pk("read_case"), allow=("admin", 200), other_trial=B_ADMIN_404,
          reader=("reader", EMPTY), extra=(("qc", 404), ("sponsor", 404), ("auditor", 404)), anon=401,
          marker=lambda refs: '"101-002"', label="admin"),
    Route("reads-api:read-case-reassign", kwargs=pk("read_case"), method="post", body=lambda refs: refs.reassign_body,
          allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 403), extra=(("qc", 404),), anon=401),
    Route("reads-api:read-task-list", query="trial=TRIAL-A", allow=("reader", 200), other_trial=("admin_b", EMPTY),
          extra=(("admin", EMPTY), ("qc", EMPTY), ("sponsor", EMPTY), ("adjudicator", EMPTY)), anon=401),
    Route("reads-api:read-task-detail", kwargs=pk("read_task"), allow=("reader", 200), other_trial=B_ADMIN_404,
          extra=(("reader3", 404), ("admin", 404), ("qc", 404), ("adjudicator", 404)), anon=401),
    # Reading (api.md): only the task's own reader; admins re-open and mark missed timepoints.
    Route("reads-api:read-task-detail", kwargs=pk("read_task"), method="patch", body={"new_lesions": "none"},
          allow=("reader", 400), other_trial=B_ADMIN_404, extra=(("reader3", 404), ("admin", 404)), anon=401,
          label="baseline has no new-lesion question"),
    Route("reads-api:read-task-start", kwargs=pk("read_task"), method="post", allow=("reader", 200),
          other_trial=B_ADMIN_404, extra=(("reader3", 404), ("admin", 404), ("qc", 404)), anon=401),
    Route("reads-api:read-task-lesions", kwargs=pk("read_task"), method="post",
          body={"kind": "non_target", "organ": "liver", "location": "segment 7"}, allow=("reader", 201),
          other_trial=B_ADMIN_404, extra=(("reader3", 404), ("admin", 404), ("adjudicator", 404)), anon=401),
    Route("reads-api:read-task-lesion", kwargs=lambda refs: {"pk": refs.read_task.pk, "lesion": refs.read_lesion.pk},
          method="delete", allow=("reader", 204), other_trial=B_ADMIN_404, extra=(("reader3", 404), ("admin", 404)),
          anon=401, json=False),
    Route("reads-api:read-task-observations", kwargs=pk("read_task"), method="post",
          body=lambda refs: {"lesion": refs.read_target.pk, "measurement": refs.read_measurement.pk},
          allow=("reader", 201), other_trial=B_ADMIN_404, extra=(("reader3", 404), ("admin", 404)), anon=401),
    Route("reads-api:read-task-sign", kwargs=pk("read_task"), method="post", body={"password": PASSWORD},
          allow=("reader", 409), other_trial=B_ADMIN_404, extra=(("reader3", 404), ("admin", 404)), anon=401,
          label="waits for QC's answer"),
    Route("reads-api:read-task-quality-queries", kwargs=pk("read_task"), method="post",
          body={"message": "Contrast phase unclear"}, allow=("reader", 201), other_trial=B_ADMIN_404,
          extra=(("reader3", 404), ("qc", 404), ("admin", 404)), anon=401),
    Route("reads-api:read-quality-query-list", query="trial=TRIAL-A", allow=("qc", 200),
          other_trial=("admin_b", EMPTY), reader=("reader", EMPTY),
          extra=(("sponsor", EMPTY), ("coordinator", EMPTY), ("admin", EMPTY)), anon=401,
          marker=lambda refs: "Motion artefacts"),
    Route("reads-api:read-quality-query-detail", kwargs=pk("quality_query"), allow=("qc", 200),
          other_trial=B_ADMIN_404, reader=READER_404, extra=(("sponsor", 404),), anon=401),
    Route("reads-api:read-quality-query-answer", kwargs=pk("quality_query"), method="post",
          body={"message": "Series 2 is the diagnostic one."}, allow=("qc", 200), other_trial=B_ADMIN_404,
          reader=READER_404, extra=(("coordinator", 404),), anon=401),
    Route("reads-api:read-task-sign", kwargs=pk("read_task"), method="post", body={"password": "not-it"},
          allow=("reader", 403), other_trial=B_ADMIN_404, anon=401, label="wrong password"),
    Route("reads-api:read-task-reopen", kwargs=pk("signed_task"), method="post", body={"reason": "Re-measure T1"},
          allow=("admin", 200), other_trial=B_ADMIN_404, reader=("reader", 404),
          extra=(("reader2", 403), ("qc", 404), ("sponsor", 404)), anon=401),
    Route("reads-api:read-task-reopen-approve", kwargs=pk("signed_task"), method="post", allow=("admin", 409),
          other_trial=B_ADMIN_404, extra=(("reader2", 403),), anon=401, label="nothing waits for approval"),
    Route("reads-api:adjudication-list", query="trial=TRIAL-A", allow=("adjudicator", 200),
          other_trial=("admin_b", EMPTY), reader=("reader", EMPTY), extra=(("qc", EMPTY), ("sponsor", EMPTY)),
          anon=401),
    Route("reads-api:adjudication-detail", kwargs=pk("adjudication"), allow=("adjudicator", 200),
          other_trial=B_ADMIN_404, reader=READER_404, extra=(("admin", 200), ("qc", 404), ("sponsor", 404)), anon=401),
    Route("reads-api:adjudication-decide", kwargs=pk("adjudication"), method="post",
          body={"selected": 1, "reason_code": "measurement", "rationale": "Reader 1 measured T1 correctly.",
                "password": PASSWORD},
          allow=("adjudicator", 200), other_trial=B_ADMIN_404, reader=READER_404, extra=(("admin", 403),), anon=401),
    Route("reads-api:read-results", query="trial=TRIAL-A", allow=("admin", 200), other_trial=B_ADMIN_404,
          reader=READER_404, extra=(("sponsor", 200), ("adjudicator", 404), ("coordinator", 404)), anon=401),
    Route("reads-api:read-metrics", query="trial=TRIAL-A", allow=("admin", 200), other_trial=B_ADMIN_404,
          reader=READER_404, extra=(("qc", 200), ("sponsor", 200), ("adjudicator", 404)), anon=401),
    Route("reads-api:read-case-not-done", kwargs=pk("read_case"), method="post",
          body={"timepoint": "W8", "reason": "Visit missed"}, allow=("admin", 200), other_trial=B_ADMIN_404,
          reader=("reader", 403), extra=(("qc", 404),), anon=401),
    # Read packages (reads.md "Read package"): the trial's sponsor and admins only; everyone else 404 or no rows.
    Route("reads-api:read-package-list", query="trial=TRIAL-A", allow=("sponsor", 200), other_trial=("admin_b", EMPTY),
          reader=("reader", EMPTY), extra=(("admin", 200), ("qc", EMPTY), ("adjudicator", EMPTY), ("auditor", EMPTY)),
          anon=401),
    Route("reads-api:read-package-list", method="post", body={"trial": "TRIAL-A"}, allow=("sponsor", 201),
          other_trial=B_ADMIN_404, reader=READER_404, extra=(("admin", 201), ("qc", 404), ("auditor", 404)),
          anon=401, label="request"),
    Route("reads-api:read-package-detail", kwargs=pk("read_package"), allow=("sponsor", 200), other_trial=B_ADMIN_404,
          reader=READER_404, extra=(("admin", 200), ("adjudicator", 404), ("qc", 404), ("coordinator", 404)),
          anon=401, marker=lambda refs: refs.read_package.sha256),
    Route("reads-api:read-package-download", kwargs=pk("read_package"), allow=("sponsor", 200),
          other_trial=B_ADMIN_404, reader=READER_404, extra=(("admin", 200), ("auditor", 404), ("coordinator", 404)),
          anon=401, json=False, marker=lambda refs: "manifest.json"),
]

MATRIX: list[Route] = API + READS_API + PAGES + DICOMWEB


# --- the inventory ------------------------------------------------------------------------------------

SKIPPED_PREFIXES = ("admin/",)
FORMAT_SUFFIX = re.compile(r"\\\.\(\?P<format>")


def url_inventory() -> dict[str, str]:
    """{URL name (or pattern string when unnamed): full pattern} for every route we inventory."""
    found: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for p in patterns:
            pattern = prefix + str(p.pattern)
            if pattern.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(p, URLResolver):
                walk(p.url_patterns, pattern, f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern):
                if FORMAT_SUFFIX.search(pattern):
                    continue
                found.setdefault(f"{namespace}{p.name}" if p.name else pattern, pattern)

    walk(get_resolver("ictms.urls").url_patterns, "", "")
    return found


def test_every_route_has_a_matrix_entry():
    inventory = url_inventory()
    covered = {route.name for route in MATRIX}
    missing = sorted(f"{name}  ({pattern})" for name, pattern in inventory.items() if name not in covered)
    assert not missing, "routes without a persona matrix entry in tests/ictms/test_routes.py:\n" + "\n".join(missing)
    stale = sorted(covered - set(inventory))
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def test_every_entry_states_allow_deny_and_anonymous():
    for route in MATRIX:
        assert route.allow and route.anon is not None, route.name
        if route.public:
            continue
        assert route.anon in (401, LOGIN), f"{route.name}: anonymous allowed"
        if route.kwargs is not None or route.query:  # it names a trial or an object: trial B must not reach it
            assert route.other_trial is not None, f"{route.name}: no other-trial cell"


# --- the requests -------------------------------------------------------------------------------------

def _cell_id(route: Route, column: str, persona: str | None) -> str:
    label = f"[{route.method.upper()} {route.label}]" if route.label else f"[{route.method.upper()}]"
    return f"{route.name}{label}-{column}-{persona or 'anonymous'}"


CELLS = [
    pytest.param(route, column, persona, status, id=_cell_id(route, column, persona))
    for route in MATRIX for column, persona, status in route.cells()
]


def send(client: Client, route: Route, refs: Refs) -> Any:
    body = route.body(refs) if callable(route.body) else route.body
    call = getattr(client, route.method)
    if route.method == "get":
        return call(route.url(refs))
    if body is None:
        return call(route.url(refs))
    if route.form:
        return call(route.url(refs), body)
    return call(route.url(refs), body, content_type="application/json")


def _rows(response: Any) -> list[Any]:
    data = response.json()
    if isinstance(data, dict):
        return data.get("results", [data])
    return data


def check_blinding(persona: str | None, response: Any) -> None:
    """Whatever a reader or QC analyst is allowed to open, it never shows what they are blinded to."""
    hidden = {"reader": BLINDED_FROM_READER, "qc": (ARM,)}.get(persona or "", ())
    if hidden and not getattr(response, "streaming", False) and response.status_code == 200:
        text = response.content.decode(errors="replace")
        shown = [value for value in hidden if value in text]
        assert not shown, f"{persona} is shown {shown}"


def check(route: Route, refs: Refs, response: Any, expected: Any) -> None:
    status = response.status_code
    where = f"{route.method.upper()} {route.url(refs)} answered {status}"
    marker = route.marker(refs) if route.marker else None
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if expected == LOGIN:
        assert status == 302 and response["Location"].startswith(reverse("login")), where
    elif expected == REDIRECT:
        assert status == 302 and not response["Location"].startswith(reverse("login")), where
    elif expected == NO_MATCH:
        assert status == 204 and not body, where
    elif expected == EMPTY:
        assert status == 200, where
        if marker:
            assert marker not in body.decode(errors="replace"), f"{where} showing {marker}"
        else:
            assert _rows(response) == [], f"{where} with rows"
    else:
        assert status == expected, f"{where}: {body[:300]!r}"
        if status == 200 and marker:
            assert marker in body.decode(errors="replace"), f"{where} without {marker}"
        elif status == 200 and route.json and route.method == "get" and route.name.endswith("-list"):
            assert _rows(response), f"{where} with no rows"


@pytest.mark.parametrize("route,column,persona,expected", CELLS)
def test_route_cell(r, route, column, persona, expected):
    response = send(client_for(r, persona), route, r)
    check(route, r, response, expected)
    check_blinding(persona, response)


# --- page titles ----------------------------------------------------------------------------------------

TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


def page_title(response: Any) -> str | None:
    """The <title> of an HTML page (None for anything else), whitespace collapsed."""
    if getattr(response, "streaming", False) or not response.get("Content-Type", "").startswith("text/html"):
        return None
    found = TITLE.search(response.content.decode(errors="replace"))
    assert found, f"{response.request['PATH_INFO']}: an HTML page without a <title>"
    return " ".join(found.group(1).split())


def test_every_page_has_a_title_of_its_own(r):
    """Every page a persona can open names itself: a title of its own, not the site's name, none shared."""
    from html import unescape

    titles: dict[str, set[str]] = {}
    untitled: list[str] = []
    for route in PAGES:
        if route.method != "get":
            continue
        for _column, persona, expected in route.cells():
            if expected != 200:
                continue
            response = send(client_for(r, persona), route, r)
            title = page_title(response)
            if title is None:
                continue
            own = unescape(title).removesuffix(" · ICTMS").removesuffix(" · TRIAL-A").strip(" ·")
            if not own or own == "ICTMS":
                untitled.append(f"{route.name} as {persona}: {title!r}")
            titles.setdefault(own, set()).add(route.name)
            if 'type="date"' in response.content.decode(errors="replace"):  # dates are typed ISO (IsoDateField)
                untitled.append(f"{route.name} as {persona}: a browser-locale date input")
    assert not untitled, "pages whose title does not name them (or with a locale date input):\n" + "\n".join(untitled)
    shared = {title: names for title, names in titles.items() if len(names) > 1}
    assert not shared, f"pages sharing a title: {shared}"
    assert len(titles) >= 40, sorted(titles)  # the walk reached the pages (not a list of redirects)
