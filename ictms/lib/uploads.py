"""Upload handlers: multipart files go straight to disk in large chunks.

Django's default reads multipart bodies 64 KB at a time and keeps files under 2.5 MB in
memory. Site scripts send hundreds of DICOM files per request: 1 MB chunks cut the parser's
per-chunk Python overhead, and writing every file to the upload directory (on the quarantine's
volume) lets the service move it into quarantine instead of copying it.

The request size limit (UPLOAD_MAX_REQUEST_MB) is enforced from the body's Content-Length before
anything reads it (RequestSizeLimitMiddleware): 413, nothing on disk. Django reads no more than
Content-Length bytes of any body (and none of a body sent without one), so that bound holds.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse


class LargeChunkTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    chunk_size = 1024 * 1024


def max_request_mb() -> int:
    return int(settings.UPLOAD_MAX_REQUEST_MB)


def too_large_response(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith(("/api/", "/dicomweb/")):
        return JsonResponse({"detail": message}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class RequestSizeLimitMiddleware:
    """Refuse a body larger than the limit from its Content-Length, before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_request_mb() * 2**20:
            return too_large_response(request, f"The request is larger than the {max_request_mb()} MB limit: send "
                                               "fewer files per request, or use the resumable upload.")
        return self.get_response(request)

