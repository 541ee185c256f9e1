"""DICOMweb endpoints: QIDO-RS search and WADO-RS retrieve, read-only, scoped like the rest of ICTMS.

Every lookup goes through the stage selectors (imaging.archive.selectors) (an object the caller may not see answers 404, as
does one that does not exist), and every header or file leaves through imaging.dicomweb.blinding.
Authentication: session, `Authorization: Token|Bearer <key>` or HTTP Basic (imaging.viewer.access).
Frames are numbered from 1, as PS3.18 counts them.
"""
from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe
from pydicom import Dataset, dcmread
from pydicom.encaps import generate_frames
from pydicom.pixels import pixel_array
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian

from imaging.archive.read_access import blinded_anywhere
from imaging.archive.selectors import instance_list_for_user, series_list_for_user, study_list_for_user
from imaging.archive.services import series_opened
from imaging.dicomweb import media, qido
from imaging.dicomweb.blinding import dataset_for_user, instance_bytes_for_user
from imaging.models import Instance, Series, Study
from imaging.viewer.access import request_user
from imaging.viewer.files import instance_path
from imaging.viewer.frames import (
    CACHE_CONTROL,
    RenderParams,
    etag_matches,
    frame_etag,
    rendered_response,
    thumbnail_response,
)

DICOM_JSON = "application/dicom+json"
# Binary values longer than this are sent in metadata as a BulkDataURI rather than inline.
BULK_DATA_THRESHOLD = 1024
_BULK_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_PIXEL_TAG = Tag(0x7FE00010)


class DicomWebError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def dicomweb_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate (401 with a Basic challenge) and turn DicomWebError/QueryError into responses."""

    @require_safe
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request_user(request)
        if user is None:
            response = _json_error(401, "Authentication credentials were not provided.")
            response["WWW-Authenticate"] = 'Basic realm="ICTMS DICOMweb"'
            return response
        request.dicomweb_user = user  # type: ignore[attr-defined]
        try:
            response = view(request, *args, **kwargs)
        except qido.QueryError as exc:
            response = _json_error(400, str(exc))
        except DicomWebError as exc:
            response = _json_error(exc.status, exc.message)
        # Every resource answers in the media type the Accept header chose: caches must key on it.
        patch_vary_headers(response, ("Accept",))
        return _headers_only(response) if request.method == "HEAD" else response

    return wrapper


def _headers_only(response: HttpResponse) -> HttpResponse:
    """HEAD: the GET's status and headers, no body (Content-Length kept where it is known)."""
    if isinstance(response, StreamingHttpResponse):
        response.streaming_content = iter(())
        return response
    response["Content-Length"] = str(len(response.content))
    response.content = b""
    return response


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other path under /dicomweb: a DICOMweb client gets JSON, not a web page."""
    response = _json_error(404, "No such DICOMweb resource. Search starts at /dicomweb/studies (QIDO-RS).")
    patch_vary_headers(response, ("Accept",))
    return response


def _user(request: HttpRequest) -> Any:
    return request.dicomweb_user  # type: ignore[attr-defined]


# --- URLs of resources ----------------------------------------------------------------------------


def _base(request: HttpRequest) -> str:
    """The base of absolute URIs (RetrieveURL, BulkDataURI): the configured public address (SITE_URL),
    else the request's scheme and host with its port, even when the Host header left the port out."""
    path = reverse("dicomweb:studies")
    if settings.SITE_URL_CONFIGURED:
        return settings.SITE_URL.rstrip("/") + path
    host = request.get_host()
    port = request.META.get("SERVER_PORT", "")
    default = "443" if request.is_secure() else "80"
    if not host.endswith("]") and ":" not in host and port.isdigit() and port != default:
        host = f"{host}:{port}"
    return f"{request.scheme}://{host}{path}"


def _study_url(request: HttpRequest, study_uid: str) -> str:
    return f"{_base(request)}/{study_uid}"


def _series_url(request: HttpRequest, study_uid: str, series_uid: str) -> str:
    return f"{_study_url(request, study_uid)}/series/{series_uid}"


def _instance_url(request: HttpRequest, instance: Instance) -> str:
    series = instance.series
    return f"{_series_url(request, series.study.study_uid, series.series_uid)}/instances/{instance.sop_uid}"


# --- scoped lookups ---------------------------------------------------------------------------------


def _study(request: HttpRequest, study_uid: str) -> Study:
    study = study_list_for_user(user=_user(request)).filter(study_uid=study_uid).first()
    if study is None:
        raise DicomWebError(404, "No such study.")
    return study


def _series(request: HttpRequest, study_uid: str, series_uid: str) -> Series:
    series = (series_list_for_user(user=_user(request))
              .filter(study__study_uid=study_uid, series_uid=series_uid).first())
    if series is None:
        raise DicomWebError(404, "No such series.")
    return series


def _instances(request: HttpRequest, study_uid: str, series_uid: str | None = None,
               sop_uid: str | None = None) -> QuerySet[Instance]:
    qs = instance_list_for_user(user=_user(request)).filter(series__study__study_uid=study_uid)
    if series_uid is not None:
        qs = qs.filter(series__series_uid=series_uid)
    if sop_uid is not None:
        qs = qs.filter(sop_uid=sop_uid)
    return qs


def _instance(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str) -> Instance:
    instance = _instances(request, study_uid, series_uid, sop_uid).first()
    if instance is None:
        raise DicomWebError(404, "No such instance.")
    return instance


def _all_instances(request: HttpRequest, study_uid: str, series_uid: str | None = None) -> list[Instance]:
    if series_uid is None:
        _study(request, study_uid)
    else:
        _series(request, study_uid, series_uid)
    return list(_instances(request, study_uid, series_uid))


def _opened(request: HttpRequest, instances: list[Instance], via: str) -> list[Instance]:
    """Audit the opening of a study's or series' images (once per series and request, not per frame:
    frames, renders and thumbnails are what clients cache and prefetch)."""
    series = Series.objects.filter(pk__in={i.series_id for i in instances}).select_related("study__participant")
    series_opened(actor=_user(request), series=series, via=via)
    return instances


# --- QIDO-RS ------------------------------------------------------------------------------------------


def _dicom_json(request: HttpRequest, owner: Study | Series | Instance, ds: Dataset,
                includefield: set[str] | None = None) -> dict[str, Any]:
    del includefield  # every attribute the archive keeps for this level is always returned
    return dict(sorted(dataset_for_user(_user(request), owner, ds).to_json_dict().items()))


JSON_MEDIA = ("application/dicom+json", "application/json")


def _require_json(request: HttpRequest) -> None:
    """Search results and metadata are served as DICOM JSON only: any other Accept (XML) is a 406."""
    for accepted in _accept(request):
        if not accepted.multipart and any(media.media_matches(accepted.type, m) for m in JSON_MEDIA):
            return
    raise DicomWebError(406, "Search results and metadata are available as application/dicom+json only "
                             "(the XML representation is not offered).")


def _search_response(results: list[dict[str, Any]], query: qido.Query, more: bool) -> HttpResponse:
    # PS3.18 8.3.4.4: a search that matches nothing answers 204 No Content.
    response = HttpResponse(json.dumps(results), content_type=DICOM_JSON) if results else HttpResponse(status=204)
    warnings = list(query.warnings)
    if more:
        warnings.append('299 ICTMS "There are more results: use offset to page through them"')
    if warnings:
        response["Warning"] = ", ".join(warnings)
    return response


def _matching_page(request: HttpRequest, qs: QuerySet, query: qido.Query, matchers: dict[str, qido.Matcher],
                   order: tuple[str, ...], study_of: Callable[[Any], Study]) -> tuple[list[Any], bool]:
    """The page of `qs` matching `query`; keys a blinded user sees changed are matched on shown values.

    See imaging.dicomweb.qido: for a user with a blinded role anywhere, PatientID, PatientName
    and StudyDate are matched against each row's study attributes after blinding.
    """
    user = _user(request)
    hidden = qido.blinded_matches(query)
    if not hidden or not blinded_anywhere(user):
        return qido.page(qido.apply_matches(qs, query, matchers).order_by(*order), query)
    qs = qido.apply_matches(qs, query, matchers, skip=hidden).order_by(*order)
    verdicts: dict[int, bool] = {}

    def keep(row: Any) -> bool:
        study = study_of(row)
        if study.pk not in verdicts:
            shown = dataset_for_user(user, study, qido.study_attributes(Dataset(), study))
            verdicts[study.pk] = qido.shown_matches(shown, hidden)
        return verdicts[study.pk]

    return qido.page_where(qs, query, keep)


@dicomweb_view
def search_studies(request: HttpRequest) -> HttpResponse:
    """QIDO-RS GET /dicomweb/studies"""
    _require_json(request)
    query = qido.parse_query(request.GET)
    qs = study_list_for_user(user=_user(request)).select_related("participant")
    studies, more = _matching_page(request, qs, query, qido.STUDY_MATCHERS, ("study_date", "id"), lambda s: s)
    counts = qido.study_counts(studies)
    results = []
    for study in studies:
        modalities, n_series, n_instances = counts[study.pk]
        ds = qido.study_dataset(study, modalities=modalities, series_count=n_series, instance_count=n_instances,
                                url=_study_url(request, study.study_uid))
        results.append(_dicom_json(request, study, ds, query.includefield))
    return _search_response(results, query, more)


@dicomweb_view
def search_series(request: HttpRequest, study_uid: str | None = None) -> HttpResponse:
    """QIDO-RS GET /dicomweb/series and /dicomweb/studies/{study}/series"""
    _require_json(request)
    query = qido.parse_query(request.GET)
    qs = series_list_for_user(user=_user(request)).select_related("study__participant")
    if study_uid is not None:
        _study(request, study_uid)
        qs = qs.filter(study__study_uid=study_uid)
    rows, more = _matching_page(request, qs, query, qido.SERIES_MATCHERS, ("study_id", "series_number", "id"),
                                lambda series: series.study)
    results = [
        _dicom_json(request, series, qido.series_dataset(
            series, instance_count=series.instance_count, include_study=study_uid is None,
            url=_series_url(request, series.study.study_uid, series.series_uid)), query.includefield)
        for series in rows
    ]
    return _search_response(results, query, more)


@dicomweb_view
def search_instances(request: HttpRequest, study_uid: str | None = None, series_uid: str | None = None) -> HttpResponse:
    """QIDO-RS GET /dicomweb/instances, /studies/{study}/instances, /studies/{study}/series/{series}/instances"""
    _require_json(request)
    query = qido.parse_query(request.GET)
    qs = instance_list_for_user(user=_user(request)).select_related("series__study__participant")
    if series_uid is not None:
        assert study_uid is not None
        _series(request, study_uid, series_uid)
        qs = qs.filter(series__series_uid=series_uid, series__study__study_uid=study_uid)
    elif study_uid is not None:
        _study(request, study_uid)
        qs = qs.filter(series__study__study_uid=study_uid)
    rows, more = _matching_page(request, qs, query, qido.INSTANCE_MATCHERS,
                                ("series__study_id", "series_id", "instance_number", "id"),
                                lambda instance: instance.series.study)
    results = [
        _dicom_json(request, instance, qido.instance_dataset(
            instance, url=_instance_url(request, instance), include_parents=series_uid is None), query.includefield)
        for instance in rows
    ]
    return _search_response(results, query, more)


# --- WADO-RS: instances ---------------------------------------------------------------------------


def _accept(request: HttpRequest) -> list[media.MediaRange]:
    # PS3.18 8.3.3.1: a query parameter `accept` may stand in for the header (links in browsers).
    return media.parse_accept(request.GET.get("accept") or request.META.get("HTTP_ACCEPT"))


def _dicom_offers(instance: Instance) -> list[media.Offer]:
    stored = instance.transfer_syntax_uid
    offers = [media.Offer("application/dicom", stored)]
    if stored not in (media.EXPLICIT_VR_LITTLE_ENDIAN, "1.2.840.10008.1.2.2"):
        offers.append(media.Offer("application/dicom", media.EXPLICIT_VR_LITTLE_ENDIAN, transcode=True))
    return offers


def _explicit_little_endian(data: bytes) -> bytes:
    """The file re-encoded as Explicit VR Little Endian (decompressed when it was compressed)."""
    ds = dcmread(io.BytesIO(data))
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax.is_compressed:
        try:
            # Keep the SOP Instance UID: it is the de-identified identity of the image everywhere.
            ds.decompress(generate_instance_uid=False)
        except (NotImplementedError, RuntimeError, ValueError) as exc:
            raise DicomWebError(406, f"This instance cannot be transcoded: {exc}") from exc
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _retrieve(request: HttpRequest, instances: list[Instance]) -> HttpResponse:
    accepted = _accept(request)
    chosen = []
    for instance in instances:
        offer = media.choose(accepted, _dicom_offers(instance))
        if offer is None:
            raise DicomWebError(406, "None of the accepted media types / transfer syntaxes can be produced "
                                     f"(stored as {instance.transfer_syntax_uid}; try transfer-syntax=*).")
        chosen.append((instance, offer))
    user = _user(request)
    boundary = media.new_boundary()

    def parts() -> Iterator[tuple[bytes, str]]:
        for instance, offer in chosen:
            data = instance_bytes_for_user(user, instance, instance_path(instance.storage_key, instance.sha256))
            if offer.transcode:
                data = _explicit_little_endian(data)
            yield data, f"application/dicom; transfer-syntax={offer.transfer_syntax}"

    response = StreamingHttpResponse(media.multipart_body(parts(), boundary),
                                     content_type=media.multipart_content_type("application/dicom", boundary))
    response["Cache-Control"] = "private, no-store"
    return response


@dicomweb_view
def retrieve_study(request: HttpRequest, study_uid: str) -> HttpResponse:
    return _retrieve(request, _opened(request, _all_instances(request, study_uid), "DICOMweb retrieve"))


@dicomweb_view
def retrieve_series(request: HttpRequest, study_uid: str, series_uid: str) -> HttpResponse:
    return _retrieve(request, _opened(request, _all_instances(request, study_uid, series_uid), "DICOMweb retrieve"))


@dicomweb_view
def retrieve_instance(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str) -> HttpResponse:
    return _retrieve(request, [_instance(request, study_uid, series_uid, sop_uid)])


# --- WADO-RS: metadata ------------------------------------------------------------------------------


def instance_metadata(request: HttpRequest, instance: Instance) -> dict[str, Any]:
    """The instance's header as DICOM JSON: long binary values (and pixel data) as BulkDataURIs."""
    path = instance_path(instance.storage_key, instance.sha256)
    ds = dataset_for_user(_user(request), instance, dcmread(path, stop_before_pixels=True))
    bulk_base = f"{_instance_url(request, instance)}/bulkdata"
    out: dict[str, Any] = {}
    syntax = instance.transfer_syntax_uid
    out["00020010"] = {"vr": "UI", "Value": [syntax]}
    for elem in ds:
        key = f"{elem.tag:08X}"
        if elem.VR in _BULK_VRS and elem.value is not None and len(elem.value) > BULK_DATA_THRESHOLD:
            out[key] = {"vr": elem.VR, "BulkDataURI": f"{bulk_base}/{key}"}
            continue
        try:
            out[key] = elem.to_json_dict(None, BULK_DATA_THRESHOLD)
        except (ValueError, TypeError, OverflowError):
            continue  # a malformed vendor value: leave it out rather than fail the whole header
    out["00083002"] = {"vr": "UI", "Value": [syntax]}
    if instance.rows and instance.columns:
        bits = int(ds.get("BitsAllocated") or 16)
        vr = "OB" if syntax not in media.NATIVE_SYNTAXES or bits <= 8 else "OW"
        out["7FE00010"] = {"vr": vr, "BulkDataURI": f"{bulk_base}/7FE00010"}
    return dict(sorted(out.items()))


def _metadata_response(request: HttpRequest, instances: list[Instance]) -> HttpResponse:
    _require_json(request)
    body = [instance_metadata(request, instance) for instance in instances]
    response = HttpResponse(json.dumps(body), content_type=DICOM_JSON)
    response["Cache-Control"] = "private, no-store"
    return response


@dicomweb_view
def metadata_study(request: HttpRequest, study_uid: str) -> HttpResponse:
    # DICOMweb viewers (OHIF) open a series through its metadata, then fetch frames.
    return _metadata_response(request, _opened(request, _all_instances(request, study_uid), "DICOMweb metadata"))


@dicomweb_view
def metadata_series(request: HttpRequest, study_uid: str, series_uid: str) -> HttpResponse:
    return _metadata_response(request, _opened(request, _all_instances(request, study_uid, series_uid),
                                               "DICOMweb metadata"))


@dicomweb_view
def metadata_instance(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str) -> HttpResponse:
    return _metadata_response(request, [_instance(request, study_uid, series_uid, sop_uid)])


# --- WADO-RS: frames and bulk data -------------------------------------------------------------------


def _frame_numbers(text: str, frames: int) -> list[int]:
    numbers = [int(part) for part in text.split(",") if part]
    if not numbers:
        raise DicomWebError(400, "Give at least one frame number.")
    bad = [n for n in numbers if not 1 <= n <= frames]
    if bad:
        raise DicomWebError(404, f"Frame(s) {bad} do not exist: the instance has {frames}, counted from 1.")
    return numbers


def _frame_offers(instance: Instance) -> list[media.Offer]:
    stored = instance.transfer_syntax_uid
    if stored in media.NATIVE_SYNTAXES:
        return [media.Offer("application/octet-stream", media.EXPLICIT_VR_LITTLE_ENDIAN
                            if stored != "1.2.840.10008.1.2.2" else stored)]
    offers = []
    compressed_type = media.FRAME_MEDIA_TYPES.get(stored)
    if compressed_type:
        offers.append(media.Offer(compressed_type, stored))
    # As stored but labelled octet-stream: what OHIF asks for (type=application/octet-stream;
    # transfer-syntax=*), decoding the bytes itself by the transfer syntax in the metadata.
    offers.append(media.Offer("application/octet-stream", stored))
    offers.append(media.Offer("application/octet-stream", media.EXPLICIT_VR_LITTLE_ENDIAN, transcode=True))
    return offers


def frame_payloads(ds: Dataset, numbers: list[int], offer: media.Offer) -> list[bytes]:
    """The bytes of frames `numbers` (1-based) of a fully read data set, as `offer` describes."""
    frames = max(int(ds.get("NumberOfFrames") or 1), 1)
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if offer.transcode:
        out = []
        for number in numbers:
            try:
                arr = pixel_array(ds, index=number - 1)
            except (NotImplementedError, RuntimeError, ValueError) as exc:
                raise DicomWebError(406, f"The frame cannot be decoded on the server: {exc}") from exc
            out.append(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        return out
    if syntax.is_compressed:
        fragments = list(generate_frames(ds.PixelData, number_of_frames=frames))
        return [fragments[n - 1] for n in numbers]
    data = ds.PixelData
    bits = int(ds.get("BitsAllocated") or 8)
    if bits == 1:  # packed bits: frames are not byte aligned, hand out the whole value once
        return [bytes(data)] * len(numbers)
    rows, columns, samples = int(ds.Rows), int(ds.Columns), int(ds.get("SamplesPerPixel") or 1)
    per_frame = rows * columns * samples * bits // 8
    return [bytes(data[(n - 1) * per_frame : n * per_frame]) for n in numbers]


def _frames_response(request: HttpRequest, instance: Instance, numbers: list[int]) -> HttpResponse:
    offer = media.choose(_accept(request), _frame_offers(instance))
    if offer is None:
        raise DicomWebError(406, "None of the accepted media types / transfer syntaxes can be produced "
                                 f"(stored as {instance.transfer_syntax_uid}).")
    path = instance_path(instance.storage_key, instance.sha256)
    ds = dataset_for_user(_user(request), instance, dcmread(path))
    payloads = frame_payloads(ds, numbers, offer)
    content_type = f"{offer.media_type}; transfer-syntax={offer.transfer_syntax}"
    boundary = media.new_boundary()
    body = b"".join(media.multipart_body(((p, content_type) for p in payloads), boundary))
    response = HttpResponse(body, content_type=media.multipart_content_type(offer.media_type, boundary))
    response["Cache-Control"] = CACHE_CONTROL
    response["Vary"] = "Cookie, Authorization, Accept"
    return response


@dicomweb_view
def frames(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str, frame_list: str) -> HttpResponse:
    """WADO-RS GET .../instances/{sop}/frames/{1,2,...}"""
    instance = _instance(request, study_uid, series_uid, sop_uid)
    return _frames_response(request, instance, _frame_numbers(frame_list, instance.number_of_frames))


@dicomweb_view
def bulkdata(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str, tag: str) -> HttpResponse:
    """The BulkDataURI targets of the metadata: top-level binary elements, and the pixel data."""
    instance = _instance(request, study_uid, series_uid, sop_uid)
    element_tag = Tag(int(tag, 16))
    if element_tag == _PIXEL_TAG:
        return _frames_response(request, instance, list(range(1, instance.number_of_frames + 1)))
    path = instance_path(instance.storage_key, instance.sha256)
    ds = dataset_for_user(_user(request), instance, dcmread(path, stop_before_pixels=True))
    elem = ds.get(element_tag)
    if elem is None or elem.VR not in _BULK_VRS or elem.value is None:
        raise DicomWebError(404, "No such bulk data element.")
    boundary = media.new_boundary()
    body = b"".join(media.multipart_body([(bytes(elem.value), "application/octet-stream")], boundary))
    return HttpResponse(body, content_type=media.multipart_content_type("application/octet-stream", boundary))


# --- WADO-RS: rendered and thumbnails ----------------------------------------------------------------


def _rendered_params(request: HttpRequest, instance: Instance) -> RenderParams:
    fmt = None
    for wanted in _accept(request):
        for candidate, name in (("image/jpeg", "jpeg"), ("image/png", "png")):
            if media.media_matches(wanted.type, candidate):
                fmt = name
                break
        if fmt:
            break
    if fmt is None:
        raise DicomWebError(406, "Rendered images are available as image/jpeg or image/png.")
    center = width = None
    function = None
    window = request.GET.get("window")
    if window:
        parts = window.split(",")
        try:
            center, width = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise DicomWebError(400, "window is center,width[,function].") from None
        if not (math.isfinite(center) and math.isfinite(width)) or width <= 0:
            raise DicomWebError(400, "window width must be a positive number.")
        if len(parts) > 2 and parts[2].strip():
            function = {"linear": "LINEAR", "linear-exact": "LINEAR_EXACT", "sigmoid": "SIGMOID"}.get(
                parts[2].strip().lower().replace("_", "-"))
            if function is None:
                raise DicomWebError(400, "window function is linear, linear-exact or sigmoid.")
    size = None
    viewport = request.GET.get("viewport")
    if viewport:
        try:
            vw, vh = (int(v) for v in viewport.split(",")[:2])
        except ValueError:
            raise DicomWebError(400, "viewport is width,height.") from None
        if vw < 1 or vh < 1:
            raise DicomWebError(400, "viewport sizes must be positive.")
        if instance.rows and instance.columns:
            scale = min(vw / instance.columns, vh / instance.rows)
            size = max(1, math.floor(max(instance.columns, instance.rows) * scale))
        else:
            size = min(vw, vh)
    quality = request.GET.get("quality")
    try:
        quality_value = int(quality) if quality else 85
    except ValueError:
        raise DicomWebError(400, "quality is a number from 1 to 100.") from None
    if not 1 <= quality_value <= 100:
        raise DicomWebError(400, "quality is a number from 1 to 100.")
    return RenderParams(center, width, None, size, fmt, quality_value, function)


def _rendered(request: HttpRequest, instance: Instance, frame: int) -> HttpResponse:
    params = _rendered_params(request, instance)
    etag = frame_etag(instance.sha256, frame, params)
    if etag_matches(request, etag):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    return rendered_response(instance, frame, params, etag)


@dicomweb_view
def rendered_instance(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str) -> HttpResponse:
    """WADO-RS GET .../instances/{sop}/rendered (the first frame)"""
    return _rendered(request, _instance(request, study_uid, series_uid, sop_uid), 0)


@dicomweb_view
def rendered_frames(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str, frame_list: str) -> HttpResponse:
    """WADO-RS GET .../instances/{sop}/frames/{n}/rendered (one frame: the first one listed)"""
    instance = _instance(request, study_uid, series_uid, sop_uid)
    numbers = _frame_numbers(frame_list, instance.number_of_frames)
    return _rendered(request, instance, numbers[0] - 1)


@dicomweb_view
def thumbnail_instance(request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str) -> HttpResponse:
    return thumbnail_response(request, _instance(request, study_uid, series_uid, sop_uid))


@dicomweb_view
def thumbnail_series(request: HttpRequest, study_uid: str, series_uid: str) -> HttpResponse:
    instances = _all_instances(request, study_uid, series_uid)
    if not instances:
        raise DicomWebError(404, "The series has no instances.")
    instances.sort(key=lambda i: (i.instance_number is None, i.instance_number or 0, i.pk))
    return thumbnail_response(request, instances[len(instances) // 2])
