"""DICOMweb through the test client: QIDO-RS search, WADO-RS retrieve/metadata/frames/rendered, scoping."""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless
from rest_framework.authtoken.models import Token

from imaging.archive.storage import read_instance_bytes
from tests.imaging import render_samples as samples
from tests.imaging.factories import make_series
from tests.imaging.qido import results
from tests.trials.factories import PASSWORD, visit

pytestmark = pytest.mark.django_db

DICOM_JSON = "application/dicom+json"


def parts(response) -> list[tuple[str, bytes]]:
    """(Content-Type, body) of each part of a multipart/related response."""
    content_type = response["Content-Type"]
    assert content_type.startswith("multipart/related")
    boundary = re.search(r"boundary=([^;]+)", content_type).group(1).strip('"').encode()
    body = b"".join(response.streaming_content) if response.streaming else response.content
    out = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        out.append((head.decode().split("Content-Type:")[1].strip(), data[:-2]))
    return out


def values(result: dict, tag: str):
    return result.get(tag, {}).get("Value")


@pytest.fixture
def ct(world):
    return make_series(visit(world.participant, "BL"), n=3, spacing=0.7, description="CHEST CT")


def study_url(series) -> str:
    return f"/dicomweb/studies/{series.study.study_uid}"


def series_url(series) -> str:
    return f"{study_url(series)}/series/{series.series_uid}"


def instance_url(instance) -> str:
    return f"{series_url(instance.series)}/instances/{instance.sop_uid}"


# --- QIDO-RS ---------------------------------------------------------------------------------------


def test_studies_are_searched_with_their_summary_attributes(world, page_client, ct):
    make_series(visit(world.participant, "BL"), n=2, modality="MR")
    response = page_client(world.qc).get("/dicomweb/studies")
    assert response.status_code == 200 and response["Content-Type"] == DICOM_JSON
    [study] = response.json()
    assert values(study, "0020000D") == [ct.study.study_uid]
    assert values(study, "00100020") == ["101-001"]
    assert values(study, "00080061") == ["CT", "MR"]
    assert values(study, "00201206") == [2] and values(study, "00201208") == [5]
    assert values(study, "00081190") == [f"http://testserver{study_url(ct)}"]
    assert list(study) == sorted(study)


@pytest.mark.parametrize("query,found", [
    ("PatientID=101-001", True), ("PatientID=101*", True), ("PatientID=102*", False),
    ("00100020=101-00?", True), ("ModalitiesInStudy=CT", True), ("ModalitiesInStudy=MR", False),
    ("Modality=CT", True), ("StudyDescription=ct*", True), ("StudyDate=20200101-", False),
    ("AccessionNumber=*", True), ("AccessionNumber=A1", False),
])
def test_study_matching(world, page_client, ct, query, found):
    ct.study.study_date = dt.date(2019, 5, 1)
    ct.study.save()
    response = page_client(world.qc).get(f"/dicomweb/studies?{query}")
    assert bool(results(response)) is found


def test_wildcards_are_bounded(world, page_client, ct):
    """Each '*' multiplies the database's matching work: repeated stars collapse, more than four or a pattern
    longer than any matched value is refused with 400 (#19)."""
    client = page_client(world.qc)
    assert client.get("/dicomweb/studies?PatientID=1**0**1*").json()  # three stars once collapsed
    for value in ("*A" * 10, "1" * 65 + "*"):
        response = client.get(f"/dicomweb/studies?StudyDescription={value}")
        assert response.status_code == 400, value
        assert "at most 64 characters with at most 4 '*'" in response.json()["detail"]


@pytest.mark.parametrize("value,found", [
    ("CHEST*", True), ("*EST C?", True), ("c?est*", True), ("CHEST_CT", False), ("CHEST%", False), ("%", False),
    ("_HEST CT", False), ("*\\*", False), ("CHEST?", False), ("*CT", True), ("?*", True),
])
def test_wildcards_are_dicom_wildcards_and_sql_wildcards_are_literal(world, page_client, ct, value, found):
    # * and ? are the only wildcards (PS3.4 C.2.2.2.4); LIKE's own % and _ match only themselves.
    ct.study.description = "CHEST CT"
    ct.study.save()
    response = page_client(world.qc).get("/dicomweb/studies", {"StudyDescription": value})
    assert bool(results(response)) is found, value


def test_a_literal_percent_and_underscore_match_themselves(world, page_client):
    series = make_series(visit(world.participant, "BL"), n=1, description="50%_DOSE")
    series.study.description = "50%_DOSE"
    series.study.save()
    client = page_client(world.qc)
    assert results(client.get("/dicomweb/studies", {"StudyDescription": "50%_*"}))
    assert not results(client.get("/dicomweb/studies", {"StudyDescription": "50X_*"}))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the LIKE indexes are PostgreSQL's")
def test_wildcard_searches_with_a_fixed_beginning_use_an_index(world, ct):
    from imaging.dicomweb.qido import STUDY_MATCHERS
    from imaging.models import Study

    for keyword, index in (("PatientID", "trials_participant_subject_code_upper_like"),
                           ("StudyDescription", "imaging_study_description_upper_like")):
        qs = Study.objects.filter(STUDY_MATCHERS[keyword]("10*" if keyword == "PatientID" else "CHE*"))
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny: ask whether it *can*
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET LOCAL enable_seqscan = on")
        assert index in plan, plan


def test_uid_list_matching_and_paging(world, page_client, ct):
    other = make_series(visit(world.participant, "W8"), n=1)
    client = page_client(world.qc)
    both = client.get(f"/dicomweb/studies?StudyInstanceUID={ct.study.study_uid},{other.study.study_uid}").json()
    assert len(both) == 2
    first = client.get("/dicomweb/studies?limit=1")
    assert len(first.json()) == 1 and "more results" in first["Warning"]
    second = client.get("/dicomweb/studies?limit=1&offset=1")
    assert values(second.json()[0], "0020000D") != values(first.json()[0], "0020000D")
    assert "Warning" not in second


def test_bad_or_unsupported_query_keys(world, page_client, ct):
    client = page_client(world.qc)
    assert client.get("/dicomweb/studies?NotAKeyword=1").status_code == 400
    assert client.get("/dicomweb/studies?limit=0").status_code == 400
    assert client.get("/dicomweb/studies?StudyDate=yesterday").status_code == 400
    ignored = client.get("/dicomweb/studies?PatientAge=064Y&fuzzymatching=true&includefield=all")
    assert ignored.status_code == 200 and len(ignored.json()) == 1
    assert "PatientAge" in ignored["Warning"] and "fuzzymatching" in ignored["Warning"]


def test_series_and_instances_are_searched_at_every_level(world, page_client, ct):
    make_series(visit(world.participant, "BL"), n=1, modality="MR")
    client = page_client(world.qc)
    in_study = client.get(f"{study_url(ct)}/series").json()
    assert [values(s, "00080060")[0] for s in in_study] == ["CT", "MR"]
    assert values(in_study[0], "00201209") == [3] and values(in_study[0], "0008103E") == ["CHEST CT"]
    assert len(client.get("/dicomweb/series?Modality=MR").json()) == 1
    everywhere = client.get(f"/dicomweb/series?SeriesInstanceUID={ct.series_uid}").json()
    assert values(everywhere[0], "00100020") == ["101-001"]  # study attributes outside a study
    instances = client.get(f"{series_url(ct)}/instances").json()
    assert [values(i, "00200013")[0] for i in instances] == [1, 2, 3]
    assert values(instances[0], "00280010") == [64] and values(instances[0], "00083002") == [ExplicitVRLittleEndian]
    assert len(client.get(f"{study_url(ct)}/instances").json()) == 4
    sop = ct.instances.first().sop_uid
    assert len(client.get(f"/dicomweb/instances?SOPInstanceUID={sop}").json()) == 1
    assert client.get("/dicomweb/instances?InstanceNumber=2&Modality=CT").json()[0]["00200013"]["Value"] == [2]


# --- WADO-RS -----------------------------------------------------------------------------------------


def test_an_instance_is_retrieved_as_stored_with_transfer_syntax_star(world, page_client, ct):
    instance = ct.instances.first()
    response = page_client(world.qc).get(instance_url(instance),
                                         HTTP_ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=*')
    [(content_type, data)] = parts(response)
    assert content_type == f"application/dicom; transfer-syntax={ExplicitVRLittleEndian}"
    assert data == read_instance_bytes(instance.storage_key)


def test_a_compressed_instance_is_transcoded_unless_any_syntax_is_accepted(world, page_client):
    ds = samples.mr_unsigned()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    instance = make_series(visit(world.participant, "BL"), datasets=[ds]).instances.get()
    client = page_client(world.qc)
    default = parts(client.get(instance_url(instance), HTTP_ACCEPT='multipart/related; type="application/dicom"'))
    decoded = dcmread(io.BytesIO(default[0][1]))
    assert decoded.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert decoded.SOPInstanceUID == instance.sop_uid
    assert np.array_equal(decoded.pixel_array, samples.mr_unsigned().pixel_array)
    star = parts(client.get(instance_url(instance) + "?accept=" + "multipart/related%3B%20type%3D%22application/dicom%22"
                                                                  "%3B%20transfer-syntax%3D*"))
    assert dcmread(io.BytesIO(star[0][1])).file_meta.TransferSyntaxUID == JPEG2000Lossless
    refused = client.get(instance_url(instance), HTTP_ACCEPT='multipart/related; type="application/dicom"; '
                                                            'transfer-syntax=1.2.840.10008.1.2.4.50')
    assert refused.status_code == 406


def test_series_and_studies_are_retrieved_whole(world, page_client, ct):
    client = page_client(world.qc)
    series_parts = parts(client.get(series_url(ct), HTTP_ACCEPT='multipart/related; type="application/dicom"'))
    assert sorted(dcmread(io.BytesIO(d)).SOPInstanceUID for _, d in series_parts) == sorted(
        ct.instances.values_list("sop_uid", flat=True))
    assert len(parts(client.get(study_url(ct)))) == 3


def test_metadata_has_the_header_and_bulk_data_uris(world, page_client, ct):
    instance = ct.instances.first()
    client = page_client(world.qc)
    [meta] = client.get(instance_url(instance) + "/metadata").json()
    assert values(meta, "00080018") == [instance.sop_uid]
    assert values(meta, "00020010") == [ExplicitVRLittleEndian]
    assert meta["7FE00010"]["BulkDataURI"] == f"http://testserver{instance_url(instance)}/bulkdata/7FE00010"
    pixel_parts = parts(client.get(meta["7FE00010"]["BulkDataURI"].replace("http://testserver", "")))
    assert pixel_parts[0][1] == dcmread(io.BytesIO(read_instance_bytes(instance.storage_key))).PixelData
    assert len(client.get(series_url(ct) + "/metadata").json()) == 3
    assert len(client.get(study_url(ct) + "/metadata").json()) == 3


def test_long_binary_elements_are_bulk_data(world, page_client):
    ds = samples.mr_unsigned()
    ds.add_new(0x00091010, "OB", bytes(range(256)) * 10)
    ds.add_new(0x00090010, "LO", "ICTMS TEST")
    instance = make_series(visit(world.participant, "BL"), datasets=[ds]).instances.get()
    client = page_client(world.qc)
    [meta] = client.get(instance_url(instance) + "/metadata").json()
    uri = meta["00091010"]["BulkDataURI"]
    [(content_type, data)] = parts(client.get(uri.replace("http://testserver", "")))
    assert content_type == "application/octet-stream" and data == bytes(range(256)) * 10
    assert client.get(instance_url(instance) + "/bulkdata/00100020").status_code == 404


def test_native_frames_are_octet_streams(world, page_client):
    ds, _ = samples.us_rgb_cine(frames=3)
    expected = ds.pixel_array
    instance = make_series(visit(world.participant, "BL"), datasets=[ds]).instances.get()
    response = page_client(world.qc).get(instance_url(instance) + "/frames/3,1",
                                         HTTP_ACCEPT='multipart/related; type="application/octet-stream"')
    (type3, frame3), (_, frame1) = parts(response)
    assert type3 == f"application/octet-stream; transfer-syntax={ExplicitVRLittleEndian}"
    assert frame3 == expected[2].tobytes() and frame1 == expected[0].tobytes()
    assert page_client(world.qc).get(instance_url(instance) + "/frames/4").status_code == 404


def test_compressed_frames_as_stored_or_decoded(world, page_client):
    ds = samples.ct_signed()
    ds.compress(RLELossless, encoding_plugin="pydicom")
    fragment = next(generate_frames(ds.PixelData, number_of_frames=1))
    instance = make_series(visit(world.participant, "BL"), datasets=[ds]).instances.get()
    client = page_client(world.qc)
    url = instance_url(instance) + "/frames/1"
    stored = parts(client.get(url, HTTP_ACCEPT='multipart/related; type="application/octet-stream"; transfer-syntax=*'))
    assert stored == [(f"application/octet-stream; transfer-syntax={RLELossless}", fragment)]
    rle = parts(client.get(url, HTTP_ACCEPT='multipart/related; type="image/dicom-rle"'))
    assert rle[0][1] == fragment and rle[0][0].startswith("image/dicom-rle")
    native = parts(client.get(url, HTTP_ACCEPT='multipart/related; type="application/octet-stream"'))
    assert native[0][1] == samples.ct_signed().pixel_array.astype("<i2").tobytes()
    assert client.get(url, HTTP_ACCEPT='multipart/related; type="image/jp2"').status_code == 406


def test_rendered_frames_follow_accept_window_and_viewport(world, page_client):
    instance = make_series(visit(world.participant, "BL"), datasets=[samples.ct_signed()]).instances.get()
    client = page_client(world.qc)
    jpeg = client.get(instance_url(instance) + "/rendered")
    assert jpeg.status_code == 200 and jpeg["Content-Type"] == "image/jpeg"
    png = client.get(instance_url(instance) + "/frames/1/rendered?window=-600,1500&viewport=32,32",
                     HTTP_ACCEPT="image/png")
    assert png["Content-Type"] == "image/png" and png["X-Window-Center"] == "-600"
    assert np.asarray(Image.open(io.BytesIO(png.content))).shape == (20, 32)  # 40 x 64 fitted into 32 x 32
    assert client.get(instance_url(instance) + "/rendered", HTTP_ACCEPT="image/gif").status_code == 406
    assert client.get(instance_url(instance) + "/rendered?window=1").status_code == 400
    assert client.get(instance_url(instance) + "/rendered?window=40,400,sepia").status_code == 400


def test_thumbnails(world, page_client, ct):
    client = page_client(world.qc)
    assert client.get(series_url(ct) + "/thumbnail")["Content-Type"] == "image/jpeg"
    assert client.get(instance_url(ct.instances.first()) + "/thumbnail").status_code == 200


# --- scoping and authentication ---------------------------------------------------------------------


def every_url(series) -> list[str]:
    instance = series.instances.first()
    return [
        study_url(series), study_url(series) + "/metadata", study_url(series) + "/series",
        study_url(series) + "/instances", series_url(series), series_url(series) + "/metadata",
        series_url(series) + "/instances", series_url(series) + "/thumbnail", instance_url(instance),
        instance_url(instance) + "/metadata", instance_url(instance) + "/frames/1",
        instance_url(instance) + "/rendered", instance_url(instance) + "/frames/1/rendered",
        instance_url(instance) + "/thumbnail", instance_url(instance) + "/bulkdata/7FE00010",
    ]


@pytest.mark.parametrize("persona", ["admin", "qc", "coordinator", "sponsor", "auditor"])
def test_people_who_see_the_site_browse_its_images(world, page_client, ct, persona):
    client = page_client(world.user(persona))
    assert len(client.get("/dicomweb/studies").json()) == 1
    for url in every_url(ct):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["other_coordinator", "coordinator_b", "admin_b", "reader", "adjudicator", "outsider"])
def test_other_sites_trials_blinded_readers_and_outsiders_find_nothing(world, page_client, ct, persona):
    client = page_client(world.user(persona))
    for url in ("/dicomweb/studies", "/dicomweb/series", "/dicomweb/instances",
                f"/dicomweb/studies?StudyInstanceUID={ct.study.study_uid}"):
        response = client.get(url)
        assert response.status_code == 204 and not response.content, url
    for url in every_url(ct):
        assert client.get(url).status_code == 404, url


def test_anonymous_clients_are_challenged(world, ct):
    client = Client()
    for url in ["/dicomweb/studies", *every_url(ct)]:
        response = client.get(url)
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic"), url


def test_tokens_bearer_tokens_and_basic_authentication_work(world, ct):
    token = Token.objects.create(user=world.qc).key
    basic = base64.b64encode(f"qc_a:{PASSWORD}".encode()).decode()
    for header in (f"Token {token}", f"Bearer {token}", f"Basic {basic}"):
        assert len(Client(HTTP_AUTHORIZATION=header).get("/dicomweb/studies").json()) == 1
    wrong = base64.b64encode(b"qc_a:wrong-password").decode()
    assert Client(HTTP_AUTHORIZATION=f"Basic {wrong}").get("/dicomweb/studies").status_code == 401


def test_search_query_counts_do_not_grow(world, page_client):
    v = visit(world.participant, "BL")
    s = make_series(v, n=2)
    client = page_client(world.qc)
    urls = ["/dicomweb/studies", "/dicomweb/series", f"{study_url(s)}/series", "/dicomweb/instances",
            f"{series_url(s)}/instances"]
    for url in urls:
        client.get(url)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    small = {url: count(url) for url in urls}
    make_series(v, n=3)
    make_series(visit(world.participant, "W8"), n=2)
    make_series(visit(world.participant, "W16"), n=2)
    large = {url: count(url) for url in urls}
    assert large == small
    assert len(json.loads(client.get("/dicomweb/studies").content)) == 3


# --- PS3.18 details -----------------------------------------------------------------------------------


def test_a_search_that_finds_nothing_answers_204(world, page_client, ct):
    response = page_client(world.qc).get("/dicomweb/studies", {"PatientID": "999-999"})
    assert response.status_code == 204 and response.content == b""


def test_head_answers_the_get_headers_without_a_body(world, page_client, ct):
    client = page_client(world.qc)
    for url in ("/dicomweb/studies", study_url(ct) + "/metadata", instance_url(ct.instances.first()) + "/rendered"):
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code == 200, url
        assert head["Content-Type"] == get["Content-Type"], url
        body = b"".join(head.streaming_content) if head.streaming else head.content
        assert body == b"", url
    assert client.head("/dicomweb/studies", {"PatientID": "999-999"}).status_code == 204
    assert client.post("/dicomweb/studies/1.2.3/metadata").status_code == 405


def test_every_response_varies_on_accept(world, page_client, ct):
    client = page_client(world.qc)
    for url in ("/dicomweb/studies", study_url(ct) + "/metadata", series_url(ct), "/dicomweb/studies?StudyDate=x"):
        response = client.get(url)
        assert "Accept" in response["Vary"], (url, response.status_code)


def test_unknown_dicomweb_paths_answer_json_404(world, page_client):
    for client in (page_client(world.qc), page_client(None)):
        response = client.get("/dicomweb/studies/1.2.3/nonsense")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert "No such DICOMweb resource" in response.json()["detail"]


def test_absolute_uris_keep_the_port_when_the_host_header_leaves_it_out(world, page_client, ct):
    # dicomweb-client sends "Host: name" without the port; the URIs must still reach this server.
    response = page_client(world.qc).get("/dicomweb/studies", HTTP_HOST="testserver", SERVER_PORT="8042")
    [study] = results(response)
    assert values(study, "00081190") == [f"http://testserver:8042{study_url(ct)}"]
    response = page_client(world.qc).get("/dicomweb/studies", HTTP_HOST="testserver:9000", SERVER_PORT="8042")
    assert values(results(response)[0], "00081190") == [f"http://testserver:9000{study_url(ct)}"]


def test_absolute_uris_use_the_configured_public_address(world, page_client, ct, settings):
    settings.SITE_URL, settings.SITE_URL_CONFIGURED = "https://pacs.example.org/", True
    response = page_client(world.qc).get("/dicomweb/studies", HTTP_HOST="testserver:8000")
    assert values(results(response)[0], "00081190") == [f"https://pacs.example.org{study_url(ct)}"]


def test_cross_origin_dicomweb_is_off_unless_the_origin_is_configured(world, ct, settings):
    from rest_framework.authtoken.models import Token as _Token

    key = _Token.objects.create(user=world.qc).key
    origin = "https://ohif.example.org"
    preflight = {"HTTP_ORIGIN": origin, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
                 "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization"}
    client = Client()
    assert "Access-Control-Allow-Origin" not in client.options("/dicomweb/studies", **preflight)
    assert "Access-Control-Allow-Origin" not in client.get("/dicomweb/studies", HTTP_ORIGIN=origin,
                                                           HTTP_AUTHORIZATION=f"Bearer {key}")
    settings.CORS_ALLOWED_ORIGINS = [origin]
    answer = client.options("/dicomweb/studies", **preflight)
    assert answer.status_code == 200 and answer["Access-Control-Allow-Origin"] == origin
    assert "authorization" in answer["Access-Control-Allow-Headers"].lower()
    found = client.get("/dicomweb/studies", HTTP_ORIGIN=origin, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert found.status_code == 200 and found["Access-Control-Allow-Origin"] == origin
    # Another origin, and the rest of the app, stay closed.
    assert "Access-Control-Allow-Origin" not in client.get("/dicomweb/studies", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in client.get("/api/trials/", HTTP_ORIGIN=origin)


@pytest.mark.parametrize("accept,status", [
    ("application/dicom+json", 200), ("application/json", 200), ("*/*", 200), ("application/*", 200),
    ("text/html,application/xhtml+xml,*/*;q=0.8", 200), ("application/dicom+xml", 406),
    ('multipart/related; type="application/dicom+xml"', 406), ("image/png", 406),
    ("application/dicom+xml, application/dicom+json;q=0.5", 200),
])
def test_search_and_metadata_honour_accept(world, page_client, ct, accept, status):
    client = page_client(world.qc)
    for url in ("/dicomweb/studies", f"{study_url(ct)}/series", f"{study_url(ct)}/metadata"):
        response = client.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == status, (url, accept)
        if status == 406:
            assert "application/dicom+json only" in response.json()["detail"]
    assert client.get("/dicomweb/studies", {"accept": "application/dicom+xml"}).status_code == 406


def test_qido_returns_the_stored_time_sex_photometric_and_bits_of_uploaded_files(world, api, page_client):
    from pydicom import dcmread as read

    from tests.imaging.upload_helpers import ct_files, upload_all
    from tests.trials import factories as tf

    files = ct_files(2, seed=31)
    sent = read(io.BytesIO(files[0][1]))
    result = upload_all(api(world.coordinator), tf.visit(world.participant, "BL").pk, files)
    assert result["state"] == "done"
    client = page_client(world.qc)
    [study] = results(client.get("/dicomweb/studies"))
    time = values(study, "00080030")[0]
    assert len(time) >= 4 and time.isdigit()  # shifted with the dates, never empty
    assert values(study, "00100040") == [sent.PatientSex]
    instances = results(client.get(f"/dicomweb/studies/{values(study, '0020000D')[0]}/instances"))
    assert {values(i, "00280004")[0] for i in instances} == {sent.PhotometricInterpretation}
    assert {values(i, "00280100")[0] for i in instances} == {sent.BitsAllocated}
