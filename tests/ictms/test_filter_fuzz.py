"""Every list API and DICOMweb search answers garbage filter values with 400 (or an ordinary, maybe
empty, list), never 500 (#19): non-numeric, huge, negative, fractional, NUL, quotes, bad dates."""
from __future__ import annotations

import pytest

from audit.api.urls import router as audit_router
from imaging.api_urls import router as imaging_router
from imaging.viewer.api_urls import router as viewer_router
from reads.api_urls import router as reads_router
from trials.api.urls import router as trials_router

pytestmark = pytest.mark.django_db

GARBAGE = ["abc", "9" * 40, "-1", "1.5", "1e400", "0x10", "%00", "\x00", "'", "%", "2026-13-45", "*" * 300, " "]
PAGING = ["page", "page_size", "limit", "offset", "ordering", "cursor"]


def _list_routes():
    for prefix, router in (("", trials_router), ("", imaging_router), ("", viewer_router), ("", reads_router),
                           ("", audit_router)):
        for entry_prefix, viewset, _basename in router.registry:
            if not hasattr(viewset, "list"):
                continue
            filterset = getattr(viewset, "filterset_class", None)
            names = list(filterset.base_filters) if filterset is not None else []
            yield f"/api/{prefix}{entry_prefix}/", [*names, *PAGING]


ROUTES = list(_list_routes())


def _status(client, url, params) -> int | str:
    """The answer's status, or the exception the test client re-raised instead of a 500."""
    try:
        return client.get(url, params).status_code
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:60]}"


@pytest.mark.parametrize(("url", "names"), ROUTES, ids=[url for url, _ in ROUTES])
def test_garbage_filter_values_never_answer_500(world, api, url, names):
    failures = []
    for user in (world.admin, world.coordinator):
        client = api(user)
        for name in names:
            for value in GARBAGE:
                status = _status(client, url, {name: value, "trial": "TRIAL-A"})
                if not isinstance(status, int) or status >= 500:
                    failures.append((user.username, name, value, status))
    assert not failures, failures[:20]


DICOMWEB = ["/dicomweb/studies", "/dicomweb/series", "/dicomweb/instances"]
QIDO_KEYS = ["limit", "offset", "StudyDate", "StudyTime", "PatientName", "StudyDescription", "Modality",
             "SeriesNumber", "InstanceNumber", "StudyInstanceUID", "includefield", "fuzzymatching"]


@pytest.mark.parametrize("url", DICOMWEB)
def test_garbage_dicomweb_search_values_never_answer_500(world, page_client, url):
    client = page_client(world.qc)
    failures = []
    for key in QIDO_KEYS:
        for value in GARBAGE:
            status = _status(client, url, {key: value})
            if not isinstance(status, int) or status >= 500:
                failures.append((key, value, status))
    assert not failures, failures[:20]
