"""Local access to stored de-identified instances for rendering, and the thumbnail cache.

Rendering needs a local file (pydicom reads just the requested frame from it, and the decoded
frame cache is keyed by path). With local storage that is the stored file itself; with remote
storage (S3) each instance is copied once into a local cache directory named by its SHA-256,
so that scrolling does not download the same file again.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from imaging.viewer import render

THUMBNAIL_SIZE = 128
# Bumped whenever the renderer's output changes, so browsers drop frames cached with an old ETag.
RENDER_VERSION = "1"


def _cache_dir() -> Path:
    configured = getattr(settings, "INSTANCE_CACHE_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "cache" / "instances"


def instance_path(storage_key: str, sha256: str) -> Path:
    """A local path holding the instance's bytes (the stored file, or a cached copy of it)."""
    try:
        return Path(default_storage.path(storage_key))
    except NotImplementedError:
        pass
    target = _cache_dir() / sha256[:2] / f"{sha256}.dcm"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, default_storage.open(storage_key, "rb") as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return target


def thumbnail_key(sha256: str, size: int) -> str:
    return f"thumbs/{sha256}-{size}-v{RENDER_VERSION}.jpg"


def thumbnail_jpeg(storage_key: str, sha256: str, size: int = THUMBNAIL_SIZE) -> bytes:
    """The instance's thumbnail (middle frame, JPEG), rendered once and then kept in storage.

    Keyed by content hash: identical files share one thumbnail and a changed file gets a new one.
    Raises render.RenderError when the pixel data cannot be decoded.
    """
    key = thumbnail_key(sha256, size)
    try:
        with default_storage.open(key, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, OSError):
        pass
    data = render.thumbnail(instance_path(storage_key, sha256), size)
    _store(key, data)
    return data


def _store(key: str, data: bytes) -> None:
    try:
        target = Path(default_storage.path(key))
    except NotImplementedError:
        if not default_storage.exists(key):
            default_storage.save(key, ContentFile(data))
        return
    # Two requests may render the same thumbnail at once; an atomic rename makes that harmless
    # (default_storage.save would store the second one under another name).
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
