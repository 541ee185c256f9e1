"""Upload handlers: multipart files go straight to disk in large chunks.

Django's default reads multipart bodies 64 KB at a time and keeps files under 2.5 MB in
memory. Site scripts send hundreds of DICOM files per request: 1 MB chunks cut the parser's
per-chunk Python overhead, and writing every file to the upload directory (on the quarantine's
volume) lets the service move it into quarantine instead of copying it.
"""
from __future__ import annotations

from django.core.files.uploadhandler import TemporaryFileUploadHandler


class LargeChunkTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    chunk_size = 1024 * 1024
