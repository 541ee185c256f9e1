"""The Django frame endpoint as a contender of benchmarks/render.py (`--with-endpoint`).

`measure(path)` prepares, once per process, a throwaway test database (migrated, in memory for
SQLite) and a temporary storage directory, then for each file: a trial with a QC analyst, the
file stored as an instance of a participant's visit, and a test client logged in with a
session, exactly as the viewer page's requests are authenticated. It returns a callable doing
one GET of `/api/instances/{id}/frames/0/rendered` and returning the PNG.

What a call costs is what scrolling costs: session and user lookup, the scoped instance query,
the session refresh, decoding the frame (the in-process decoded-frame cache is switched off,
because while scrolling every request is for a frame not seen before) and encoding the PNG.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_state: dict[str, Any] = {}


def _environment() -> dict[str, Any]:
    """Test database, temporary storage and the people (created once per process)."""
    if _state:
        return _state
    from django.db import connection
    from django.test.utils import override_settings, setup_test_environment

    from imaging.viewer import render
    from tests.trials import factories as f
    from trials.choices import Role

    setup_test_environment()
    storage = Path(tempfile.mkdtemp(prefix="ictms-endpoint-bench-"))
    override_settings(
        MEDIA_ROOT=storage,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": storage}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ).enable()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    trial = f.TrialFactory(code="BENCH")
    site = f.SiteFactory(trial=trial, number="101")
    f.schedule(trial)
    coordinator = f.member(trial, Role.SITE_COORDINATOR, site=site, username="bench-site")
    qc = f.member(trial, Role.QC_ANALYST, username="bench-qc")
    participant = f.participant(coordinator, site, "101-001")
    # Scrolling asks for a new frame every time: no decoded frame is ever reused.
    render.configure_frame_cache(0)
    _state.update(trial=trial, qc=qc, participant=participant, count=0)
    return _state


def measure(path: Path) -> Callable[[], bytes]:
    """A callable GETting frame 0 of `path` through the endpoint (logged-in test client)."""
    from django.test import Client
    from pydicom import dcmread

    from imaging.archive.storage import instance_storage_key, store_instance_bytes
    from imaging.models import Instance, Series, Study, Submission
    from tests.imaging.factories import instance_row_values
    from trials.models import Visit

    env = _environment()
    env["count"] += 1
    data = Path(path).read_bytes()
    ds = dcmread(path, stop_before_pixels=True)
    visit = Visit.objects.filter(participant=env["participant"]).order_by("timepoint__order")[env["count"] - 1]
    submission = Submission.objects.create(visit=visit, opened_by=env["qc"], state="done")
    study = Study.objects.create(participant=env["participant"], visit=visit, study_uid=str(ds.StudyInstanceUID))
    series = Series.objects.create(study=study, series_uid=str(ds.SeriesInstanceUID), modality=str(ds.Modality),
                                   series_number=1, first_submission=submission)
    key = instance_storage_key(trial_code=env["trial"].code, study_uid=study.study_uid,
                               series_uid=series.series_uid, sop_uid=str(ds.SOPInstanceUID))
    store_instance_bytes(key, data)
    instance = Instance.objects.create(series=series, storage_key=key, sha256=hashlib.sha256(data).hexdigest(),
                                       size=len(data), submission=submission, **instance_row_values(ds))
    client = Client()
    client.force_login(env["qc"], backend="django.contrib.auth.backends.ModelBackend")
    url = f"/api/instances/{instance.pk}/frames/0/rendered"

    def call() -> bytes:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"endpoint answered {response.status_code}: {response.content[:200]!r}")
        return response.content

    call()  # the first request warms content types and guardian's caches
    return call
