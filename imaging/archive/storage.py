"""Where de-identified instances live (Django's default storage) and where originals wait.

De-identified files are written through the storage API (local files or S3). Identified
originals only ever live under settings.QUARANTINE_DIR, outside served storage.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage


def instance_storage_key(*, trial_code: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    """Deterministic: the same instance always lands on the same key (re-delivery is harmless)."""
    return f"trials/{trial_code}/{study_uid}/{series_uid}/{sop_uid}.dcm"


def store_instance_file(key: str, source: Path) -> None:
    """Put the de-identified file at `source` into storage at `key` (consuming `source` if it can).

    Local storage: an atomic rename into place (no copy). Other storages stream it. Both
    overwrite, so a redelivered task or two workers racing on the same instance write the
    same bytes to the same key.
    """
    try:
        target = Path(default_storage.path(key))
    except NotImplementedError:
        target = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
            os.chmod(target, settings.FILE_UPLOAD_PERMISSIONS or 0o640)
            return
        except OSError:  # another file system: copy below
            pass
    with open(source, "rb") as fh:
        saved = default_storage.save(key, File(fh, name=key))
    if saved != key:  # a storage that renamed it would break the deterministic key
        raise RuntimeError(f"storage saved {key!r} as {saved!r}")


def store_instance_bytes(key: str, data: bytes) -> None:
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:
        raise RuntimeError(f"storage saved {key!r} as {saved!r}")


def delete_instance_file(key: str) -> None:
    default_storage.delete(key)


def read_instance_bytes(key: str) -> bytes:
    with default_storage.open(key, "rb") as fh:
        return fh.read()


@contextlib.contextmanager
def local_instance_path(key: str) -> Iterator[Path]:
    """A local file path for the stored instance (a temp copy when storage is remote)."""
    try:
        yield Path(default_storage.path(key))
        return
    except NotImplementedError:
        pass
    with tempfile.NamedTemporaryFile(suffix=".dcm") as tmp, default_storage.open(key, "rb") as src:
        shutil.copyfileobj(src, tmp)
        tmp.flush()
        yield Path(tmp.name)


def quarantine_dir() -> Path:
    path = Path(settings.QUARANTINE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def quarantine_path(submission_id: int, file_id: int) -> Path:
    """Where the identified original of one submitted file waits until it is de-identified."""
    directory = quarantine_dir() / f"s{submission_id}"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"f{file_id}"


def upload_dir() -> Path:
    path = Path(settings.UPLOAD_TMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path
