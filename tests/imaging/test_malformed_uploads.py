"""Malformed uploads (#19): each file a crafted input breaks is refused on its own in plain words; the
rest of the submission is stored, the submission finishes, nothing answers 500 and no file stays
"received" for ever."""
from __future__ import annotations

import io
import struct
import zipfile

import pytest

from imaging.intake import services as intake
from imaging.models import Instance, SubmissionFile
from tests.imaging.upload_helpers import ct_files, upload_all
from tests.trials import factories as f

pytestmark = pytest.mark.django_db

def _patched(data: bytes, name: str, *, method: int | None = None, corrupt: bool = False) -> bytes:
    """The zip with member `name` given another compression method in both headers, or a byte of its
    data flipped (its CRC no longer matches)."""
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    local = info.header_offset
    name_length, extra_length = struct.unpack_from("<HH", raw, local + 26)
    data_start = local + 30 + name_length + extra_length
    if corrupt:
        raw[data_start + info.compress_size // 2] ^= 0xFF
    if method is not None:
        struct.pack_into("<H", raw, local + 8, method)
        central = bytes(raw).find(b"PK\x01\x02")
        while central != -1:
            length = struct.unpack_from("<H", raw, central + 28)[0]
            if bytes(raw[central + 46:central + 46 + length]).decode() == name:
                struct.pack_into("<H", raw, central + 10, method)
            central = bytes(raw).find(b"PK\x01\x02", central + 4)
    return bytes(raw)


def _zip(files, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def _outcomes(submission_id: int) -> dict[str, tuple[str, str]]:
    return {row.display_name: (row.status, row.reason)
            for row in SubmissionFile.objects.filter(submission_id=submission_id, parent__isnull=False)}


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_damaged_member_is_refused_and_the_rest_of_the_archive_is_stored(world, api, compression):
    files = ct_files(4, seed=21)
    archive = _patched(_zip(files, compression), "IM0002.dcm", corrupt=True)
    visit = f.visit(world.participant, "BL")
    result = upload_all(api(world.coordinator), visit.pk, [("CD0001.zip", archive)])
    assert result["state"] == "done"
    outcomes = _outcomes(result["id"])
    status, reason = outcomes["CD0001.zip/IM0002.dcm"]
    assert status == "rejected" and "damaged inside the archive" in reason
    assert Instance.objects.count() == 3


def test_a_member_compressed_with_deflate64_is_refused_by_name(world, api):
    files = ct_files(3, seed=22)
    archive = _patched(_zip(files), "IM0003.dcm", method=9)
    visit = f.visit(world.participant, "BL")
    result = upload_all(api(world.coordinator), visit.pk, [("CD0001.zip", archive)])
    assert result["state"] == "done"
    status, reason = _outcomes(result["id"])["CD0001.zip/IM0003.dcm"]
    assert status == "rejected" and "Deflate64" in reason and "standard Deflate" in reason
    assert Instance.objects.count() == 2


def test_a_member_that_inflates_beyond_its_declared_size_is_refused_without_inflating_it(world, api):
    """The 'declares 1,000 bytes, inflates to megabytes' member: unpacking stops at the declared size,
    the checksum fails, and that member alone is refused."""
    big = ct_files(1, rows=256, cols=256, seed=23)
    archive = bytearray(_zip([*big, ("IM0002.dcm", ct_files(1, seed=24)[0][1])], zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as zf:
        info = zf.getinfo("IM0001.dcm")
    struct.pack_into("<L", archive, info.header_offset + 22, 1000)  # declared uncompressed size
    central = bytes(archive).find(b"PK\x01\x02")
    struct.pack_into("<L", archive, central + 24, 1000)
    visit = f.visit(world.participant, "BL")
    result = upload_all(api(world.coordinator), visit.pk, [("CD0001.zip", bytes(archive))])
    assert result["state"] == "done"
    status, reason = _outcomes(result["id"])["CD0001.zip/IM0001.dcm"]
    assert status == "rejected" and "damaged inside the archive" in reason
    assert Instance.objects.count() == 1


def test_a_file_with_thousands_of_nested_sequences_is_refused_and_the_others_stored(world, api):
    from tests.imaging import synthetic
    from tests.imaging.test_deid_inputs import _ct_without_pixels, _undefined_length_nesting

    crafted = synthetic.to_bytes(_ct_without_pixels()) + _undefined_length_nesting(5000)
    visit = f.visit(world.participant, "BL")
    result = upload_all(api(world.coordinator), visit.pk, [*ct_files(2, seed=25), ("IM9999.dcm", crafted)])
    assert result["state"] == "done"
    row = SubmissionFile.objects.get(submission_id=result["id"], display_name="IM9999.dcm")
    assert row.status == "rejected" and "nested more than" in row.reason
    assert Instance.objects.count() == 2


def test_an_unexpected_failure_refuses_that_file_alone_and_the_submission_finishes(world, api, monkeypatch):
    real = intake.deidentify_file
    calls = {"n": 0}

    def sometimes_broken(source, output, context):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("a bug the crafted file found")
        return real(source, output, context)

    monkeypatch.setattr(intake, "deidentify_file", sometimes_broken)
    logged = []
    monkeypatch.setattr(intake.log, "exception", lambda *args, **kwargs: logged.append(args))
    visit = f.visit(world.participant, "BL")
    result = upload_all(api(world.coordinator), visit.pk, ct_files(3, seed=26))
    assert result["state"] == "done"
    rejected = SubmissionFile.objects.get(submission_id=result["id"], status="rejected")
    assert rejected.reason == intake.UNEXPECTED_WORDS and rejected.reason_code == "unreadable"
    assert Instance.objects.count() == 2
    assert not SubmissionFile.objects.filter(status__in=("received", "uploading")).exists()
    assert logged and "Processing file" in logged[0][0]


def test_a_file_that_needs_more_cpu_than_its_budget_is_refused_and_the_others_stored(world, api, monkeypatch, settings):
    # Whatever slips past the structural bounds still meets the per-file CPU budget (imaging.deid.budget).
    settings.INTAKE_FILE_CPU_SECONDS = 1
    real = intake.deidentify_file

    def endless_on_the_second(source, output, context):
        if source.read_bytes().find(b"SPIN") != -1:
            while True:
                sum(range(10_000))
        return real(source, output, context)

    monkeypatch.setattr(intake, "deidentify_file", endless_on_the_second)
    files = ct_files(3, seed=27)
    files[1] = (files[1][0], files[1][1] + b"SPIN")
    visit = f.visit(world.participant, "BL")
    result = upload_all(api(world.coordinator), visit.pk, files)
    assert result["state"] == "done"
    row = SubmissionFile.objects.get(submission_id=result["id"], display_name=files[1][0])
    assert row.status == "rejected" and "took more than 1 s of processing" in row.reason
    assert Instance.objects.count() == 2


def test_the_cpu_budget_is_disarmed_after_each_file():
    import signal

    from imaging.deid.budget import cpu_budget

    before = signal.getsignal(signal.SIGPROF)
    with cpu_budget(5):
        assert signal.getitimer(signal.ITIMER_PROF)[0] > 0
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGPROF) == before
