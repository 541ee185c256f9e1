"""Rendered frames and thumbnails for the viewer: plain Django views, because scrolling speed matters.

One GET costs the authentication (session, or one token query) and one scoped instance query;
a repeated GET answers 304 from the ETag without rendering. Frames are numbered from 0 here
(as Measurement.frame and imaging.viewer.render count them); DICOMweb counts from 1.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from ictms.lib.errors import NotFoundError
from imaging.archive.selectors import instance_list_for_user, series_get_for_user
from imaging.models import Instance, Series
from imaging.viewer import render
from imaging.viewer.access import request_user, unauthorized
from imaging.viewer.files import (
    RENDER_VERSION,
    THUMBNAIL_SIZE,
    instance_path,
    thumbnail_jpeg,
)

# Instance content never changes under its id (a re-upload with other bytes gets a new SOP
# Instance UID), so browsers may keep frames; "private" keeps them out of shared caches.
CACHE_CONTROL = "private, max-age=86400"
MAX_SIZE = 8192
_FRAME_COLUMNS = ("id", "storage_key", "sha256", "number_of_frames")


@dataclass(frozen=True)
class RenderParams:
    center: float | None
    width: float | None
    preset: str | None
    size: int | None
    fmt: str
    quality: int
    function: str | None = None  # VOI LUT function (DICOMweb's window=c,w,function)

    def cache_token(self) -> str:
        return f"{self.center}:{self.width}:{self.function}:{self.preset}:{self.size}:{self.fmt}:{self.quality}"


class BadRequest(ValueError):
    """A query parameter is invalid (answered 400 with the message)."""


def _number(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number.") from None
    if not math.isfinite(number):
        raise BadRequest(f"{name} must be a finite number.")
    return number


def parse_render_params(query: dict, *, default_format: str = "png") -> RenderParams:
    """wc/ww (window centre and width, both or neither), preset, size (longest edge), format, quality."""
    center, width = _number(query.get("wc"), "wc"), _number(query.get("ww"), "ww")
    if (center is None) != (width is None):
        raise BadRequest("Give both wc and ww, or neither.")
    if width is not None and width <= 0:
        raise BadRequest("ww must be positive.")
    preset = query.get("preset") or None
    if preset is not None and preset != "auto" and preset not in render.WINDOW_PRESETS:
        raise BadRequest(f"Unknown preset {preset!r}; use one of {', '.join([*render.WINDOW_PRESETS, 'auto'])}.")
    size = _number(query.get("size"), "size")
    if size is not None and not (1 <= size <= MAX_SIZE and size == int(size)):
        raise BadRequest(f"size must be a whole number of pixels between 1 and {MAX_SIZE}.")
    fmt = (query.get("format") or default_format).lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in ("png", "jpeg"):
        raise BadRequest("format must be png or jpeg.")
    quality = _number(query.get("quality"), "quality")
    if quality is not None and not 1 <= quality <= 100:
        raise BadRequest("quality must be between 1 and 100.")
    return RenderParams(center, width, preset, int(size) if size else None, fmt, int(quality or 85))


def frame_etag(sha256: str, frame: int, params: RenderParams) -> str:
    digest = hashlib.sha1(f"{RENDER_VERSION}:{sha256}:{frame}:{params.cache_token()}".encode(), usedforsecurity=False).hexdigest()
    return f'"{digest[:24]}"'


def etag_matches(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    response["Vary"] = "Cookie, Authorization"
    return response


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@dataclass(frozen=True)
class FrameTarget:
    """What rendering needs of an instance (a row of the scoped query, not a model object)."""

    id: int
    storage_key: str
    sha256: str
    number_of_frames: int


class _ScopeCache:
    """Per-user compiled SQL of the scoped instance lookup, built once and reused for a while.

    Building and compiling the selector's queryset (guardian subqueries for the user's trials
    and sites) costs several times more than running it, and a viewer asks for hundreds of
    frames a minute. What is cached is the SQL the selector compiles to, with the instance id
    as a parameter: every request still runs it, so a permission granted or revoked applies to
    the very next frame. The time limit bounds how long a changed selector *structure* (code,
    superuser flag) could be reused; selectors must stay lazy (no id lists evaluated while
    building) for this to hold.
    """

    _PK_SENTINEL = -7_364_021_953  # stands for the requested id in the compiled parameters

    def __init__(self, ttl: float = 30.0, size: int = 512) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[tuple, tuple[float, str, list, int]] = OrderedDict()
        self._lock = threading.Lock()

    def _compiled(self, user: Any) -> tuple[str, list, int] | None:
        key = (user.pk, user.is_active, getattr(user, "is_superuser", False), connection.alias)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._items.move_to_end(key)
                return hit[1], hit[2], hit[3]
        qs = instance_list_for_user(user=user).filter(pk=self._PK_SENTINEL).order_by().values_list(*_FRAME_COLUMNS)
        try:
            sql, raw_params = qs.query.sql_with_params()
        except EmptyResultSet:  # the selector gave .none(): this user sees no image at all
            return None
        params = list(raw_params)
        position = params.index(self._PK_SENTINEL)
        with self._lock:
            self._items[key] = (now, sql, params, position)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return sql, params, position

    def get(self, user: Any, pk: int) -> FrameTarget | None:
        compiled = self._compiled(user)
        if compiled is None:
            return None
        sql, params, position = compiled
        values = list(params)
        values[position] = pk
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        return FrameTarget(*row) if row else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


scoped_instances = _ScopeCache()


@receiver(setting_changed)
def _forget_scopes(**kwargs: Any) -> None:
    # Tests change settings around every test and rebuild the database: cached querysets
    # carry ids (content types) of the database they were built for.
    scoped_instances.clear()


def frame_instance(user: Any, pk: int) -> FrameTarget | None:
    """What rendering needs of instance `pk`, if `user` may see it (one query)."""
    return scoped_instances.get(user, pk)


def rendered_response(instance: Instance | FrameTarget, frame: int, params: RenderParams, etag: str) -> HttpResponse:
    """Render one frame (0-based) of a visible instance to PNG/JPEG, with window and spacing headers."""
    if not 0 <= frame < max(instance.number_of_frames, 1):
        return _error(404, f"Frame {frame} does not exist (the image has {instance.number_of_frames}, counted from 0).")
    try:
        loaded = render.load_frame(instance_path(instance.storage_key, instance.sha256), frame)
        out = render.render(loaded, center=params.center, width=params.width, preset=params.preset,
                            function=params.function, size=params.size, fmt=params.fmt,  # type: ignore[arg-type]
                            quality=params.quality)
    except render.FrameIndexError as exc:
        return _error(404, str(exc))
    except render.RenderError as exc:
        return _error(422, str(exc))
    except ValueError as exc:  # e.g. a window the VOI function cannot use
        return _error(400, str(exc))
    response = HttpResponse(out.data, content_type=out.media_type)
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    response["Vary"] = "Cookie, Authorization"
    if out.window is not None:
        response["X-Window-Center"] = f"{out.window.center:g}"
        response["X-Window-Width"] = f"{out.window.width:g}"
        response["X-Window-Source"] = out.window.source
    spacing = loaded.spacing
    if spacing.source:
        response["X-Pixel-Spacing"] = f"{spacing.row_mm:g},{spacing.col_mm:g}"
    response["X-Spacing-Source"] = spacing.source or ""
    response["X-Image-Size"] = f"{loaded.columns}x{loaded.rows}"
    return response


@require_GET
def frame_rendered(request: HttpRequest, pk: int, frame: int) -> HttpResponse:
    """GET /api/instances/{id}/frames/{n}/rendered?wc=&ww=&preset=&size=&format=png|jpeg&quality="""
    user = request_user(request)
    if user is None:
        return unauthorized()
    try:
        params = parse_render_params(request.GET)
    except BadRequest as exc:
        return _error(400, str(exc))
    instance = frame_instance(user, pk)
    if instance is None:
        return _error(404, "No such instance.")
    etag = frame_etag(instance.sha256, frame, params)
    if etag_matches(request, etag):
        return _not_modified(etag)
    return rendered_response(instance, frame, params, etag)


def thumbnail_response(request: HttpRequest, instance: Instance | FrameTarget) -> HttpResponse:
    etag = f'"t{instance.sha256[:22]}{RENDER_VERSION}"'
    if etag_matches(request, etag):
        return _not_modified(etag)
    try:
        data = thumbnail_jpeg(instance.storage_key, instance.sha256, THUMBNAIL_SIZE)
    except render.RenderError as exc:
        return _error(422, str(exc))
    response = HttpResponse(data, content_type="image/jpeg")
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    response["Vary"] = "Cookie, Authorization"
    return response


@require_GET
def instance_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    """GET /api/instances/{id}/thumbnail: a small JPEG of the middle frame, rendered once."""
    user = request_user(request)
    if user is None:
        return unauthorized()
    instance = frame_instance(user, pk)
    if instance is None:
        return _error(404, "No such instance.")
    return thumbnail_response(request, instance)


def middle_instance(series: Series) -> Instance | None:
    """The instance in the middle of the series by instance number (what its thumbnail shows)."""
    instances = Instance.objects.filter(series=series).order_by("instance_number", "id").only(*_FRAME_COLUMNS)
    count = instances.count()
    return instances[count // 2] if count else None


@require_GET
def series_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    """GET /api/series/{id}/thumbnail: the thumbnail of the series' middle instance."""
    user = request_user(request)
    if user is None:
        return unauthorized()
    try:
        series = series_get_for_user(user=user, pk=pk)
    except NotFoundError:
        return _error(404, "No such series.")
    instance = middle_instance(series)
    if instance is None:
        return _error(404, "The series has no images.")
    return thumbnail_response(request, instance)
