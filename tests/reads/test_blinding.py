"""Blinded image access (reads.md "Cases and blinding"): every response a reader can reach is blinded.

A double-read case with stored DICOM at baseline and week 8, headers planted with what identifies
the participant (site name, site number, subject code, arm, operator, stored and real dates). As
the reader, every viewer API and DICOMweb response is searched byte for byte; the blinded values
(case code, dates moved to 2000-01-01) must be there instead. Then the sequence rule (week 8 stays
closed until the baseline is signed), measurements (own only, on open reads only), and the
unblinded QC analyst, a reader of another trial and an anonymous client.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from audit.transitions import transition
from ictms import phantom
from imaging.archive.read_access import Blinding
from imaging.archive.storage import read_instance_bytes
from imaging.dicomweb.blinding import Identifying, blind_dataset
from imaging.models import Instance, Measurement, Series
from reads.choices import READ_TASK_MACHINE
from reads.models import ReadCase, ReadTask
from tests.imaging import factories as imaging_factories
from tests.imaging.factories import make_series, make_study
from tests.imaging.qido import results
from tests.reads.factories import accept, double_read
from tests.trials import factories as f
from trials.choices import Role

pytestmark = pytest.mark.django_db

SITE_NAME = "Klinikum Nordwest Hamburg"
ARM = "ARM-B-PEMBROLIZUMAB"
OPERATOR = "TECHNICIAN^RADIOGRAPHER"
REAL_BL, REAL_W8 = dt.date(2024, 3, 4), dt.date(2024, 4, 29)  # the visits' scan dates (56 days apart)
STORED_BL = dt.date(2021, 6, 8)  # the de-identified (shifted) study dates in the archive
STORED_W8 = STORED_BL + (REAL_W8 - REAL_BL)
BLINDED_BL, BLINDED_W8 = "20000101", "20000226"  # 2000-01-01 and 56 days later
DICOM_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
DCIODVFY = "/usr/bin/dciodvfy"
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


# --- the case ---------------------------------------------------------------------------------------

def planted_slices(n: int, study_date: dt.date, subject: str) -> list[Dataset]:
    """Phantom slices whose headers carry everything a reader must never see."""
    out = []
    for ds in phantom.iter_ct_series(n, study_date=study_date, rows=32, cols=32):
        day = study_date.strftime("%Y%m%d")
        for keyword in ("InstanceCreationDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            setattr(ds, keyword, day)
        ds.AcquisitionDateTime = f"{day}101300.000000+0100"
        ds.InstitutionName = SITE_NAME
        ds.InstitutionAddress = f"{SITE_NAME}, Site 101"
        ds.OperatorsName = OPERATOR
        ds.PerformedProcedureStepDescription = ARM
        ds.ImageComments = f"subject {subject} scanned {study_date.isoformat()}"
        ds.TimezoneOffsetFromUTC = "+0100"
        ds.ClinicalTrialSponsorName = "ACME Oncology"
        ds.ClinicalTrialProtocolID = "TRIAL-A"
        ds.ClinicalTrialSiteID = "101"
        ds.ClinicalTrialSiteName = SITE_NAME
        ds.ClinicalTrialSubjectID = subject
        ds.ClinicalTrialTimePointID = "W8" if study_date == STORED_W8 else "BL"
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "ICTMS de-identification"
        block = ds.private_block(0x0009, "ACME SITE", create=True)
        block.add_new(0x01, "LO", SITE_NAME)
        ds.file_meta.SourceApplicationEntityTitle = "PACS101"
        out.append(ds)
    return out


@dataclass
class Case:
    code: str
    bl_series: Series
    w8_series: Series
    bl: list[Instance]
    w8: list[Instance]
    task_bl: ReadTask  # reader_a's
    task_w8: ReadTask
    other_series: Series  # another participant of the trial (not read by reader_a)

    @property
    def all_series(self) -> list[Series]:
        return [self.bl_series, self.w8_series]


@pytest.fixture
def case(world, monkeypatch) -> Case:
    # Store the planted headers as they are (the factory would strip some of them).
    monkeypatch.setattr(imaging_factories, "_IDENTIFYING", ())
    world.site.name = SITE_NAME
    world.site.save()
    world.participant.arm = ARM
    world.participant.save()
    double_read(world)
    subject = world.participant.subject_code
    bl_visit = accept(f.visit(world.participant, "BL"), actor=world.qc, scan_date=REAL_BL)
    w8_visit = accept(f.visit(world.participant, "W8"), actor=world.qc, scan_date=REAL_W8)
    bl_series = make_series(bl_visit, study=make_study(bl_visit, study_date=STORED_BL),
                            datasets=planted_slices(2, STORED_BL, subject), description=f"AX CHEST {subject}")
    w8_series = make_series(w8_visit, study=make_study(w8_visit, study_date=STORED_W8),
                            datasets=planted_slices(2, STORED_W8, subject), description="AX CHEST")
    Series.objects.filter(pk=bl_series.pk).update(qc_comment=f"Fine scan from {SITE_NAME} on {REAL_BL}",
                                                  qc_by=world.qc, qc_reason="meets_protocol")
    other_series = make_series(f.visit(world.other_participant, "BL"), n=1)
    read_case = ReadCase.objects.get(participant=world.participant)
    tasks = {t.visit_id: t for t in ReadTask.objects.filter(assignment__case=read_case,
                                                           assignment__reader=world.reader)}
    return Case(
        code=read_case.code, bl_series=bl_series, w8_series=w8_series,
        bl=list(bl_series.instances.order_by("instance_number")), w8=list(w8_series.instances.order_by("instance_number")),
        task_bl=tasks[bl_visit.pk], task_w8=tasks[w8_visit.pk], other_series=other_series,
    )


def sign_baseline(world, case: Case) -> None:
    """Reader A reads and signs the baseline; week 8 is then the next timepoint to read."""
    transition(READ_TASK_MACHINE, case.task_bl, "in_progress", actor=world.reader, trial=world.trial)
    transition(READ_TASK_MACHINE, case.task_bl, "signed", actor=world.reader, trial=world.trial)
    case.task_w8.refresh_from_db()
    if case.task_w8.state == "waiting":
        transition(READ_TASK_MACHINE, case.task_w8, "ready", actor=world.reader, trial=world.trial)


# --- what must never show -----------------------------------------------------------------------------

def forbidden(world) -> list[bytes]:
    dates = [REAL_BL, REAL_W8, STORED_BL, STORED_W8, dt.date(1960, 1, 1)]  # 1960: the phantom's birth date
    texts = [world.participant.subject_code, SITE_NAME, ARM, OPERATOR, "TECHNICIAN", "PACS101", "ACME", "Site 101"]
    texts += [d.strftime("%Y%m%d") for d in dates] + [d.isoformat() for d in dates]
    return [t.lower().encode() for t in texts]


def assert_clean(world, body: bytes, where: str, *, json_body: bool = False) -> None:
    lowered = body.lower()
    shown = [t.decode() for t in forbidden(world) if t in lowered]
    assert not shown, f"{where} shows {shown}"
    if json_body:
        assert b'"101"' not in body, f"{where} shows the site number"


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content


def multipart(response: Any) -> list[tuple[str, bytes]]:
    content_type = response["Content-Type"]
    assert content_type.startswith("multipart/related"), content_type
    found = re.search(r"boundary=([^;]+)", content_type)
    assert found is not None, content_type
    boundary = found.group(1).strip('"').encode()
    out = []
    for chunk in body_of(response).split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        out.append((head.decode().split("Content-Type:")[1].strip(), data[:-2]))
    return out


def walk(ds: Dataset) -> Iterator[Any]:
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value or []:
                yield from walk(item)


def assert_blinded_file(world, data: bytes, case: Case, where: str) -> Dataset:
    """A retrieved Part 10 file: blinded header, reduced file meta, nothing identifying anywhere."""
    assert_clean(world, data, where)
    assert data[:128] == b"\0" * 128 and data[128:132] == b"DICM"
    ds = dcmread(io.BytesIO(data))
    assert {int(e.tag) for e in ds.file_meta} <= {0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010,
                                                  0x00020012, 0x00020013}, where
    assert "SourceApplicationEntityTitle" not in ds.file_meta
    assert ds.PatientID == case.code and str(ds.PatientName) == case.code
    for elem in walk(ds):
        assert elem.tag.group != 0x0012 or int(elem.tag) in (0x00120062, 0x00120063, 0x00120064), where
        assert not elem.tag.is_private, f"{where}: private {elem.tag}"
        if elem.VR not in ("OB", "OW", "SQ", "UN"):
            assert str(elem.value) != "101", f"{where}: {elem.keyword} holds the site number"
    assert ds.InstitutionName in ("", None) and ds.OperatorsName in ("", None)
    assert ds.PatientIdentityRemoved == "YES"
    return ds


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        chunks.append(data[at + 4:at + 8])
        at += 12 + length
    return chunks


def jpeg_markers(data: bytes) -> list[int]:
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while at < len(data):
        assert data[at] == 0xFF
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        at += 2 + length
    return markers


def assert_bare_image(response: Any, where: str) -> None:
    """A rendered frame or thumbnail with no metadata (text chunks, EXIF, comments) at all."""
    data = body_of(response)
    if response["Content-Type"] == "image/png":
        assert set(png_chunks(data)) <= {b"IHDR", b"PLTE", b"IDAT", b"IEND"}, where
    else:
        assert response["Content-Type"] == "image/jpeg", where
        markers = jpeg_markers(data)
        assert 0xFE not in markers and not any(0xE1 <= m <= 0xEF for m in markers), f"{where}: {markers}"


def values(result: dict, tag: str) -> Any:
    return result.get(tag, {}).get("Value")


def study_url(series: Series) -> str:
    return f"/dicomweb/studies/{series.study.study_uid}"


def series_url(series: Series) -> str:
    return f"{study_url(series)}/series/{series.series_uid}"


def instance_url(instance: Instance) -> str:
    return f"{series_url(instance.series)}/instances/{instance.sop_uid}"


def reader_urls(case: Case) -> list[tuple[str, dict[str, str]]]:
    """Every GET a reader's viewer or DICOMweb client makes for the case's images (with headers)."""
    urls: list[tuple[str, dict[str, str]]] = [
        ("/api/series/", {}), (f"/api/series/?visit={case.bl_series.study.visit_id}", {}),
        ("/api/measurements/", {}),
        ("/dicomweb/studies", {}), ("/dicomweb/series", {}), ("/dicomweb/instances", {}),
        ("/dicomweb/studies?includefield=all", {}),
    ]
    for series in case.all_series:
        urls += [
            (f"/api/series/{series.pk}/", {}), (f"/api/series/{series.pk}/thumbnail", {}),
            (f"/api/instances/?series={series.pk}", {}), (f"/api/measurements/?series={series.pk}", {}),
            (f"{study_url(series)}/series", {}), (f"{study_url(series)}/instances", {}),
            (f"{series_url(series)}/instances", {}),
            (study_url(series), {"HTTP_ACCEPT": DICOM_ACCEPT}), (series_url(series), {"HTTP_ACCEPT": DICOM_ACCEPT}),
            (f"{study_url(series)}/metadata", {}), (f"{series_url(series)}/metadata", {}),
            (f"{series_url(series)}/thumbnail", {"HTTP_ACCEPT": "image/jpeg"}),
        ]
    for instance in case.bl + case.w8:
        urls += [
            (f"/api/instances/{instance.pk}/", {}), (f"/api/instances/{instance.pk}/header/", {}),
            (f"/api/instances/{instance.pk}/thumbnail", {}),
            (f"/api/instances/{instance.pk}/frames/0/rendered", {}),
            (f"/api/instances/{instance.pk}/frames/0/rendered?format=jpeg", {}),
            (instance_url(instance), {"HTTP_ACCEPT": DICOM_ACCEPT}),
            (instance_url(instance), {"HTTP_ACCEPT": 'multipart/related; type="application/dicom"'}),
            (f"{instance_url(instance)}/metadata", {}),
            (f"{instance_url(instance)}/frames/1", {"HTTP_ACCEPT": FRAME_ACCEPT}),
            (f"{instance_url(instance)}/bulkdata/7FE00010", {"HTTP_ACCEPT": FRAME_ACCEPT}),
            (f"{instance_url(instance)}/rendered", {"HTTP_ACCEPT": "image/png"}),
            (f"{instance_url(instance)}/frames/1/rendered", {"HTTP_ACCEPT": "image/jpeg"}),
            (f"{instance_url(instance)}/thumbnail", {"HTTP_ACCEPT": "image/jpeg"}),
        ]
    return urls


# --- everything a reader can reach is blinded --------------------------------------------------------

def test_every_response_a_reader_can_reach_is_blinded(world, api, page_client, case):
    measured = api(world.reader).post("/api/measurements/", {"instance": case.bl[0].pk, "points": [[2, 2], [20, 20]],
                                                             "label": "target 1"}, format="json")
    assert measured.status_code == 201, measured.content
    sign_baseline(world, case)
    client = page_client(world.reader)
    dicom_files = 0
    for url, headers in reader_urls(case):
        response = client.get(url, **headers)
        assert response.status_code == 200, f"{url}: {response.status_code} {body_of(response)[:200]!r}"
        where = f"GET {url}"
        assert_clean(world, str(sorted(response.items())).encode(), f"{where} (headers)")
        content_type = response["Content-Type"]
        if content_type.startswith(("application/json", "application/dicom+json")):
            assert_clean(world, body_of(response), where, json_body=True)
        elif content_type.startswith("image/"):
            assert_clean(world, body_of(response), where)
            assert_bare_image(response, where)
        else:
            for part_type, data in multipart(response):
                if part_type.startswith("application/dicom"):
                    assert_blinded_file(world, data, case, where)
                    dicom_files += 1
                else:
                    assert_clean(world, data, where)
    assert dicom_files == 2 * 4 + 2 * 4  # study + series retrieves, and each instance twice

    # The blinded values are there instead.
    header = {r["keyword"]: r["value"] for r in client.get(f"/api/instances/{case.bl[0].pk}/header/").json()["rows"]}
    assert header["PatientID"] == header["PatientName"] == case.code
    assert header["StudyDate"] == header["ContentDate"] == BLINDED_BL
    assert header["AcquisitionDateTime"] == f"{BLINDED_BL}101300.000000"  # time kept, UTC offset gone
    assert header["InstitutionName"] == header["OperatorsName"] == header["ImageComments"] == ""
    assert header["PatientIdentityRemoved"] == "YES" and "ClinicalTrialSiteID" not in header
    w8_header = {r["keyword"]: r["value"] for r in client.get(f"/api/instances/{case.w8[0].pk}/header/").json()["rows"]}
    assert w8_header["StudyDate"] == BLINDED_W8 and w8_header["PatientID"] == case.code

    studies = client.get("/dicomweb/studies").json()
    assert [(values(s, "00100020"), values(s, "00080020")) for s in studies] == [
        ([case.code], [BLINDED_BL]), ([case.code], [BLINDED_W8])]
    [metadata] = client.get(f"{instance_url(case.w8[1])}/metadata").json()
    assert values(metadata, "00100010") == [{"Alphabetic": case.code}] and values(metadata, "00080020") == [BLINDED_W8]
    [(_, data)] = multipart(client.get(instance_url(case.w8[0]), HTTP_ACCEPT=DICOM_ACCEPT))
    retrieved = dcmread(io.BytesIO(data))
    assert retrieved.StudyDate == BLINDED_W8 and retrieved.SeriesDate == BLINDED_W8

    series = {s["id"]: s for s in client.get("/api/series/").json()["results"]}
    assert set(series) == {case.bl_series.pk, case.w8_series.pk}  # never the other participant's
    bl = series[case.bl_series.pk]
    assert bl["qc_comment"] == bl["qc_by"] == bl["burned_in_reason"] == "" and bl["qc_at"] is None
    assert bl["findings"] == [] and bl["description"] == ""  # it named the subject
    assert series[case.w8_series.pk]["description"] == "AX CHEST" and bl["timepoint_label"] == "Baseline"


@pytest.mark.parametrize("query,expected", [
    ("PatientID=101-001", []), ("PatientID=101*", []), ("00100020=101-00?", []), ("PatientName=101*", []),
    ("PatientID={code}", ["BL", "W8"]), ("PatientID={lower_prefix}*", ["BL", "W8"]), ("PatientName={code}", ["BL", "W8"]),
    (f"StudyDate={STORED_BL:%Y%m%d}", []), (f"StudyDate={REAL_BL:%Y%m%d}", []),
    (f"StudyDate={STORED_BL:%Y%m%d}-{STORED_W8:%Y%m%d}", []),
    (f"StudyDate={BLINDED_BL}", ["BL"]), (f"StudyDate={BLINDED_BL}-20000301", ["BL", "W8"]),
    ("StudyDate=20000201-", ["W8"]), ("StudyDate=-20000101", ["BL"]),
    ("StudyDate={blinded_bl}&PatientID={code}", ["BL"]), ("StudyDate=yesterday", 400),
])
def test_a_reader_matches_on_what_they_are_shown(world, page_client, case, query, expected):
    sign_baseline(world, case)
    query = query.format(code=case.code, lower_prefix=case.code[:4].lower(), blinded_bl=BLINDED_BL)
    client = page_client(world.reader)
    dates = {BLINDED_BL: "BL", BLINDED_W8: "W8"}
    for url in ("/dicomweb/studies", "/dicomweb/series", "/dicomweb/instances"):
        response = client.get(f"{url}?{query}")
        if expected == 400:
            assert response.status_code == 400
            continue
        found = sorted({dates[values(r, "00080020")[0]] for r in results(response)})
        assert found == expected, f"{url}?{query}"


def test_paging_works_while_matching_on_shown_values(world, page_client, case):
    sign_baseline(world, case)
    client = page_client(world.reader)
    first = client.get(f"/dicomweb/instances?PatientID={case.code}&limit=3")
    assert len(first.json()) == 3 and "more results" in first["Warning"]
    rest = client.get(f"/dicomweb/instances?PatientID={case.code}&limit=3&offset=3")
    assert len(rest.json()) == 1 and "Warning" not in rest
    uids = {values(r, "00080018")[0] for r in first.json() + rest.json()}
    assert uids == {i.sop_uid for i in case.bl + case.w8}


def test_unblinded_qc_still_matches_and_sees_stored_values(world, page_client, case):
    client = page_client(world.qc)
    assert len(results(client.get("/dicomweb/studies?PatientID=101-001"))) == 2
    assert len(results(client.get(f"/dicomweb/studies?StudyDate={STORED_BL:%Y%m%d}"))) == 1
    assert results(client.get(f"/dicomweb/studies?PatientID={case.code}")) == []
    header = {r["keyword"]: r["value"] for r in client.get(f"/api/instances/{case.bl[0].pk}/header/").json()["rows"]}
    assert header["PatientID"] == "101-001" and header["InstitutionName"] == SITE_NAME
    assert header["StudyDate"] == f"{STORED_BL:%Y%m%d}" and header["ClinicalTrialSiteID"] == "101"
    assert header["OperatorsName"] == OPERATOR and header["SourceApplicationEntityTitle"] == "PACS101"
    [(_, data)] = multipart(client.get(instance_url(case.bl[0]), HTTP_ACCEPT=DICOM_ACCEPT))
    assert data == read_instance_bytes(case.bl[0].storage_key)  # the stored file, byte for byte
    series = client.get(f"/api/series/{case.bl_series.pk}/").json()
    assert SITE_NAME in series["qc_comment"] and series["qc_by"] == "qc_a"
    assert series["description"] == "AX CHEST 101-001"


# --- what a reader may open, and when ---------------------------------------------------------------

def test_week_8_opens_only_once_the_baseline_is_signed(world, page_client, case):
    client = page_client(world.reader)
    w8 = case.w8[0]
    closed = [
        f"/api/series/{case.w8_series.pk}/", f"/api/series/{case.w8_series.pk}/thumbnail",
        f"/api/instances/{w8.pk}/", f"/api/instances/{w8.pk}/header/", f"/api/instances/{w8.pk}/thumbnail",
        f"/api/instances/{w8.pk}/frames/0/rendered", f"/api/series/?visit={case.w8_series.study.visit_id}",
        study_url(case.w8_series), f"{study_url(case.w8_series)}/metadata", f"{study_url(case.w8_series)}/series",
        f"{series_url(case.w8_series)}/metadata", f"{instance_url(w8)}/metadata", f"{instance_url(w8)}/frames/1",
        f"{instance_url(w8)}/rendered", f"{instance_url(w8)}/thumbnail",
    ]
    for url in closed:
        assert client.get(url).status_code == 404, url
    assert {s["id"] for s in client.get("/api/series/").json()["results"]} == {case.bl_series.pk}
    assert client.get(f"/api/instances/?series={case.w8_series.pk}").json()["results"] == []
    assert [values(s, "0020000D")[0] for s in client.get("/dicomweb/studies").json()] == [case.bl_series.study.study_uid]
    assert len(client.get("/dicomweb/instances").json()) == len(case.bl)

    sign_baseline(world, case)
    for url in closed:
        response = client.get(url, HTTP_ACCEPT="*/*")
        assert response.status_code == 200, url
    assert {s["id"] for s in client.get("/api/series/").json()["results"]} == {case.bl_series.pk, case.w8_series.pk}
    assert len(client.get("/dicomweb/instances").json()) == len(case.bl) + len(case.w8)


def test_reader_measures_only_on_open_reads_and_sees_only_their_own(world, api, case):
    reader_a, reader_b = api(world.reader), api(world.reader2)

    def measure(client: Any, instance: Instance) -> Any:
        return client.post("/api/measurements/", {"instance": instance.pk, "points": [[1, 1], [10, 1]]}, format="json")

    mine = measure(reader_a, case.bl[0])
    assert mine.status_code == 201, mine.content
    theirs = measure(reader_b, case.bl[0])
    assert theirs.status_code == 201, theirs.content
    qc_own = api(world.qc).post("/api/measurements/", {"instance": case.bl[0].pk, "points": [[3, 3], [9, 9]]},
                                format="json")
    assert qc_own.status_code == 201
    listed = reader_a.get("/api/measurements/").json()["results"]
    assert [m["id"] for m in listed] == [mine.json()["id"]]
    assert reader_a.get(f"/api/measurements/{theirs.json()['id']}/").status_code == 404
    assert reader_a.get(f"/api/measurements/?instance={case.bl[0].pk}").json()["count"] == 1
    assert reader_a.patch(f"/api/measurements/{theirs.json()['id']}/", {"label": "x"}, format="json").status_code == 404
    # Not on a later timepoint (not open yet), nor on another participant's images.
    assert measure(reader_a, case.w8[0]).status_code == 404
    assert measure(reader_a, case.other_series.instances.first()).status_code == 404

    sign_baseline(world, case)
    # A signed read is final: no new measurement there, and their own stays as it was.
    assert measure(reader_a, case.bl[0]).status_code == 403
    moved = reader_a.patch(f"/api/measurements/{mine.json()['id']}/", {"points": [[1, 1], [20, 1]]}, format="json")
    assert moved.status_code == 403
    assert reader_a.delete(f"/api/measurements/{mine.json()['id']}/").status_code == 403
    assert Measurement.objects.get(pk=mine.json()["id"]).points == [[1.0, 1.0], [10.0, 1.0]]
    assert [m["id"] for m in reader_a.get("/api/measurements/").json()["results"]] == [mine.json()["id"]]
    # The next timepoint is now being read: measuring there works.
    assert measure(reader_a, case.w8[0]).status_code == 201
    # Reader B's read of the baseline is still open.
    assert measure(reader_b, case.bl[1]).status_code == 201


def test_outsiders_see_nothing(world, api, page_client, case):
    sign_baseline(world, case)
    other_reader = f.member(world.other_trial, Role.READER, username="reader_trial_b")
    instance = case.bl[0]
    urls = [f"/api/series/{case.bl_series.pk}/", f"/api/instances/{instance.pk}/",
            f"/api/instances/{instance.pk}/header/", f"/api/instances/{instance.pk}/frames/0/rendered",
            f"/api/instances/{instance.pk}/thumbnail", study_url(case.bl_series), f"{instance_url(instance)}/metadata",
            f"{instance_url(instance)}/frames/1", f"{instance_url(instance)}/rendered"]
    for user in (other_reader, world.adjudicator, world.outsider):
        client = page_client(user)
        for url in urls:
            assert client.get(url, HTTP_ACCEPT="*/*").status_code == 404, (user.username, url)
        assert client.get("/api/series/").json()["results"] == []
        assert client.get("/api/measurements/").json()["results"] == []
        for level in ("studies", "series", "instances"):
            assert results(client.get(f"/dicomweb/{level}")) == [], (user.username, level)
        assert results(client.get("/dicomweb/studies?PatientID=101-001")) == []
    assert api(other_reader).post("/api/measurements/", {"instance": instance.pk, "points": [[1, 1], [5, 5]]},
                                  format="json").status_code == 404
    anonymous = page_client(None)
    for url in urls:
        assert anonymous.get(url).status_code in (401, 403), url
    assert anonymous.get("/dicomweb/studies").status_code == 401
    assert anonymous.get("/api/series/").status_code in (401, 403)


# --- the blinding itself ----------------------------------------------------------------------------

def test_blind_dataset_shifts_nested_dates_and_withholds_what_identifies():
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    meta.MediaStorageSOPInstanceUID = UID("1.2.3.4")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "SITEPACS"
    meta.SendingApplicationEntityTitle = "SITESEND"
    ds = FileDataset("x.dcm", Dataset(), file_meta=meta, preamble=b"II*\0" + b"S" * 124)
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "101-001"
    ds.PatientID = "101-001"
    ds.StudyDate = "20210608"
    ds.StudyTime = "101010"
    ds.DateOfLastCalibration = ["20210101", "20210201"]
    ds.AcquisitionDateTime = "20210608101300.250000+0100"
    ds.InstitutionName = "Klinikum"
    ds.ReferringPhysicianName = "WHO^REFERRED"
    ds.StudyDescription = "CT for 101-001"
    ds.SeriesDescription = "AX CHEST"
    inner = Dataset()
    inner.RadiopharmaceuticalStartDateTime = "20210608093000"
    deeper = Dataset()
    deeper.InterventionDrugStartTime = "093000"
    deeper.ContentDate = "20210607"
    deeper.PatientID = "101-001"
    deeper.VerifyingObserverName = "DOE^JOHN"
    inner.InterventionSequence = Sequence([deeper])
    ds.RadiopharmaceuticalInformationSequence = Sequence([inner])
    ds.ClinicalTrialSponsorName = "ACME"
    ds.ClinicalTrialSiteID = "101"
    ds.ClinicalTrialSubjectID = "101-001"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "ICTMS"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113100", "DCM", "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    ds.private_block(0x0011, "ACME", create=True).add_new(0x01, "LO", "Klinikum")

    out = blind_dataset(ds, Blinding(code="C-TEST01", day_shift=-100),
                        Identifying(within=("101-001", "klinikum"), whole=("101",)))
    assert out is ds
    assert ds.PatientName == ds.PatientID == "C-TEST01"
    assert ds.StudyDate == "20210228" and ds.StudyTime == "101010"
    assert list(ds.DateOfLastCalibration) == ["20200923", "20201024"]
    assert ds.AcquisitionDateTime == "20210228101300.250000"  # time kept, UTC offset withheld
    item = ds.RadiopharmaceuticalInformationSequence[0]
    assert item.RadiopharmaceuticalStartDateTime == "20210228093000"
    nested = item.InterventionSequence[0]
    assert nested.ContentDate == "20210227" and nested.InterventionDrugStartTime == "093000"
    assert nested.PatientID == "C-TEST01" and not nested.VerifyingObserverName
    assert not ds.InstitutionName and "ReferringPhysicianName" in ds and not ds.ReferringPhysicianName  # type 2 stays
    assert ds.StudyDescription in ("", None) and ds.SeriesDescription == "AX CHEST"
    assert sorted(f"{int(e.tag):08X}" for e in ds if e.tag.group == 0x0012) == ["00120062", "00120063", "00120064"]
    assert not [e for e in ds if e.tag.is_private]
    assert "SourceApplicationEntityTitle" not in ds.file_meta and "SendingApplicationEntityTitle" not in ds.file_meta
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.preamble == b"\0" * 128

    undated = Dataset()
    undated.StudyDate = "20210608"
    undated.AcquisitionDateTime = "20210608101300"
    blind_dataset(undated, Blinding(code="BLINDED", day_shift=None))
    assert undated.StudyDate == "" and undated.AcquisitionDateTime == ""


def _dciodvfy_errors(path: Any) -> set[str]:
    result = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    return {re.sub(r"<[^>]*>", "<>", line) for line in lines if line.startswith("Error")}


@pytest.mark.skipif(not Path(DCIODVFY).exists(), reason="dciodvfy (dicom3tools) is not installed")
def test_blinding_adds_no_dciodvfy_errors(tmp_path):
    source = get_testdata_file("CT_small.dcm")
    assert isinstance(source, str)
    ds = dcmread(source)
    assert ds.preamble is not None and ds.preamble[:4] == b"II*\0"  # a TIFF header hides in this preamble
    blind_dataset(ds, Blinding(code="C-7K3Q2M", day_shift=-1500))
    blinded = tmp_path / "blinded.dcm"
    ds.save_as(blinded, enforce_file_format=True)
    again = dcmread(blinded)
    assert again.PatientID == "C-7K3Q2M" and again.StudyDate == "19991211" and not again.InstitutionName
    assert _dciodvfy_errors(blinded) <= _dciodvfy_errors(source)
    assert json.dumps(again.to_json_dict()).count("CLUNIE") == 0
