"""Helpers for submission tests: synthetic files as uploads, and driving the API."""
from __future__ import annotations

import io
import zipfile
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.imaging import synthetic


def ct_files(n: int = 4, **kwargs: Any) -> list[tuple[str, bytes]]:
    kwargs.setdefault("rows", 64)
    kwargs.setdefault("cols", 64)
    series = synthetic.make_ct_series(n, **kwargs)
    return [(f"IM{i + 1:04d}.dcm", synthetic.to_bytes(ds)) for i, ds in enumerate(series.datasets)]


def as_uploads(files: list[tuple[str, bytes]]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, data, content_type="application/dicom") for name, data in files]


def zip_of(files: list[tuple[str, bytes]], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


def open_submission(client: Any, visit_id: int, **extra: Any) -> dict:
    r = client.post("/api/submissions/", {"visit": visit_id, "comment": "test", **extra}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def post_files(client: Any, submission_id: int, files: list[tuple[str, bytes]]) -> Any:
    return client.post(f"/api/submissions/{submission_id}/files/", {"files": as_uploads(files)}, format="multipart")


def upload_all(client: Any, visit_id: int, files: list[tuple[str, bytes]]) -> dict:
    """Open, send, complete; return the final submission JSON (tasks run eagerly in tests)."""
    sub = open_submission(client, visit_id)
    r = post_files(client, sub["id"], files)
    assert r.status_code == 201, r.content
    r = client.post(f"/api/submissions/{sub['id']}/complete/")
    assert r.status_code == 200, r.content
    return client.get(f"/api/submissions/{sub['id']}/").json()
