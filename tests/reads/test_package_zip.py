"""Streaming package zip, manifest.json, verify_package and `manage.py verify_package`: tamper tests and streaming."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tracemalloc
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reads.package.build import document_paths, write_read_documents
from reads.package.manifest import MANIFEST_NAME, Mismatch, verify_package, write_manifest
from reads.package.zipwriter import PackageZipWriter
from tests.reads.package_trial import build_trial

ROOT = Path(__file__).resolve().parents[2]
CREATED = datetime(2024, 7, 2, 12, 0, tzinfo=UTC)
FILES = {
    "images/101-001/screening/2/IMG00001.dcm": b"DICM" + bytes(range(256)) * 40,
    "images/101-001/screening/2/IMG00002.dcm": b"DICM" + b"\x01" * 5000,
    "reads/results.csv": b"subject,visit\n101-001,SCREENING\n" * 50,
    "audit/audit.csv": b"at,actor,action\n2024-07-01,RADIOLOGIST 1,read.sign\n",
}


def _write(target, files=FILES, **kwargs) -> list:
    seen = []
    with PackageZipWriter(target, date_time=(2024, 7, 2, 12, 0, 0), on_file=seen.append, **kwargs) as writer:
        for path, data in files.items():
            writer.add_stream(path, io.BytesIO(data), size=len(data))
        write_manifest(writer, trial="ONC-301", cutoff=date(2024, 6, 30), created_at=CREATED, created_by="SPONSOR",
                       software_version="0.1.0")
    return seen


@pytest.fixture
def package(tmp_path) -> Path:
    path = tmp_path / "package.zip"
    with path.open("wb") as handle:
        _write(handle)
    return path


def _rewrite(source: Path, target: Path, *, change=None, drop=None, add=None) -> Path:
    """Copy a package entry by entry, changing one file's bytes, dropping one or adding one (manifest untouched)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename == drop:
                continue
            data = old.read(info)
            if info.filename == change:
                data = data[:-1] + bytes([data[-1] ^ 1])
            new.writestr(info, data)
        if add:
            new.writestr(add, b"not in the manifest")
    return target


def test_manifest_lists_every_file_with_size_and_sha256_but_not_itself(package):
    with zipfile.ZipFile(package) as archive:
        manifest = json.loads(archive.read(MANIFEST_NAME))
        assert list(manifest) == ["trial", "cutoff", "created_at", "created_by", "software_version", "files"]
        assert (manifest["trial"], manifest["cutoff"], manifest["created_at"]) == ("ONC-301", "2024-06-30", CREATED.isoformat())
        assert [f["path"] for f in manifest["files"]] == list(FILES)
        for entry in manifest["files"]:
            data = FILES[entry["path"]]
            assert entry == {"path": entry["path"], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            assert archive.read(entry["path"]) == data
        assert archive.namelist()[-1] == MANIFEST_NAME


def test_dicom_is_stored_and_text_deflated(package):
    with zipfile.ZipFile(package) as archive:
        kinds = {i.filename: i.compress_type for i in archive.infolist()}
    assert kinds["images/101-001/screening/2/IMG00001.dcm"] == zipfile.ZIP_STORED
    assert kinds["reads/results.csv"] == zipfile.ZIP_DEFLATED
    assert kinds[MANIFEST_NAME] == zipfile.ZIP_DEFLATED


def test_an_intact_package_verifies(package):
    assert verify_package(package) is None


def test_a_changed_file_is_found(package, tmp_path):
    tampered = _rewrite(package, tmp_path / "changed.zip", change="reads/results.csv")
    mismatch = verify_package(tampered)
    assert (mismatch.kind, mismatch.path) == ("changed", "reads/results.csv")
    assert "SHA-256" in mismatch.detail


def test_a_missing_file_is_found(package, tmp_path):
    tampered = _rewrite(package, tmp_path / "missing.zip", drop="images/101-001/screening/2/IMG00002.dcm")
    assert verify_package(tampered) == Mismatch(
        "missing", "images/101-001/screening/2/IMG00002.dcm", "listed in the manifest but not in the zip")


def test_an_extra_file_is_found(package, tmp_path):
    tampered = _rewrite(package, tmp_path / "extra.zip", add="images/101-001/extra.dcm")
    mismatch = verify_package(tampered)
    assert (mismatch.kind, mismatch.path) == ("extra", "images/101-001/extra.dcm")


def test_the_first_mismatch_in_manifest_order_is_reported(package, tmp_path):
    changed = _rewrite(package, tmp_path / "a.zip", change="audit/audit.csv")
    both = _rewrite(changed, tmp_path / "b.zip", drop="images/101-001/screening/2/IMG00002.dcm")
    assert verify_package(both).path == "images/101-001/screening/2/IMG00002.dcm"


@pytest.mark.parametrize(("manifest", "message"), [
    (None, "manifest.json is missing"),
    (b"{not json", "not JSON"),
    (json.dumps({"trial": "X", "files": []}).encode(), "exactly the keys"),
    (json.dumps({"trial": "X", "cutoff": None, "created_at": "", "created_by": "", "software_version": "",
                 "files": [{"path": "../etc/passwd", "size": 1, "sha256": "0"}]}).encode(), "not a clean package path"),
    (json.dumps({"trial": "X", "cutoff": None, "created_at": "", "created_by": "", "software_version": "",
                 "files": [{"path": "manifest.json", "size": 1, "sha256": "0"}]}).encode(), "the manifest itself"),
])
def test_a_missing_or_malformed_manifest_is_reported(tmp_path, manifest, message):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("reads/results.csv", b"x")
        if manifest is not None:
            archive.writestr(MANIFEST_NAME, manifest)
    mismatch = verify_package(path)
    assert mismatch.kind == "manifest" and message in mismatch.detail


def test_a_file_that_is_not_a_zip_is_reported(tmp_path):
    path = tmp_path / "not.zip"
    path.write_bytes(b"hello")
    assert verify_package(path).kind == "manifest"


def test_progress_is_reported_per_file_and_the_manifest_is_not_counted(tmp_path):
    with (tmp_path / "p.zip").open("wb") as handle:
        seen = _write(handle)
    assert [e.path for e in seen] == list(FILES)


class Unseekable(io.RawIOBase):
    """A write-only sink like a socket or pipe: no seek, no tell."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        return len(data)

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("unseekable")

    def seek(self, *args) -> int:
        raise OSError("unseekable")


def test_writing_to_an_unseekable_stream_gives_a_valid_package(tmp_path):
    sink = Unseekable()
    _write(sink)
    path = tmp_path / "streamed.zip"
    path.write_bytes(bytes(sink.buffer))
    assert verify_package(path) is None


def test_same_input_gives_the_same_bytes():
    first, second = io.BytesIO(), io.BytesIO()
    _write(first)
    _write(second)
    assert first.getvalue() == second.getvalue()


class Counting(io.RawIOBase):
    """A sink that only counts bytes, so memory measured is the writer's own."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False


def test_memory_stays_flat_while_streaming_a_large_file():
    """64 MB of DICOM in 1 MB chunks: the writer holds a chunk at a time, not the file."""
    chunk = b"\x00\x01" * (512 * 1024)
    sink = Counting()
    tracemalloc.start()
    try:
        with PackageZipWriter(sink) as writer:
            entry = writer.add_stream("images/big.dcm", (chunk for _ in range(64)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry.size == 64 * len(chunk)
    assert sink.size > entry.size
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_stream_of_unknown_size_is_written_as_zip64(tmp_path):
    path = tmp_path / "z.zip"
    with path.open("wb") as handle, PackageZipWriter(handle) as writer:
        writer.add_stream("images/a.dcm", [b"abc", b"def"])
        write_manifest(writer, trial="T", cutoff=None, created_at=CREATED, created_by="ADMIN", software_version="")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("images/a.dcm")
        assert archive.read(info) == b"abcdef"
    local_header_extra = path.read_bytes()[30 + len("images/a.dcm"):][:2]
    assert local_header_extra == b"\x01\x00"  # the ZIP64 extended information extra field
    assert verify_package(path) is None


@pytest.mark.parametrize("bad", ["/abs.csv", "../up.csv", "a//b.csv", "a/./b.csv", "back\\slash.csv", ""])
def test_unclean_paths_are_refused(bad):
    with PackageZipWriter(io.BytesIO()) as writer, pytest.raises(ValueError, match="path"):
        writer.add_bytes(bad, b"x")


def test_a_path_twice_and_a_wrong_announced_size_are_refused():
    with PackageZipWriter(io.BytesIO()) as writer:
        writer.add_bytes("reads/a.csv", b"x")
        with pytest.raises(ValueError, match="already in the package"):
            writer.add_bytes("reads/a.csv", b"y")
        with pytest.raises(ValueError, match="announced 10 bytes but 3"):
            writer.add_stream("reads/b.csv", io.BytesIO(b"abc"), size=10)


def test_the_read_documents_of_a_trial_build_a_package_that_verifies(tmp_path):
    trial, images = build_trial()
    path = tmp_path / "reads.zip"
    with path.open("wb") as handle, PackageZipWriter(handle) as writer:
        write_read_documents(writer, trial, evidence=lambda s, v: images.for_visit(s.code, v), created_at=CREATED)
        assert [e.path for e in writer.entries] == document_paths(trial)
        write_manifest(writer, trial=trial.studyid, cutoff=None, created_at=CREATED, created_by="SPONSOR", software_version="")
    assert verify_package(path) is None
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {"sdtm/tu.xpt", "sdtm/tr.csv", "sdtm/define.xml", "reads/lesions.csv",
            "sr/101-001/week-16/radiologist-2.dcm", "sr/101-002/week-8/radiologist-1.dcm"} <= names


def test_verify_package_command_passes_an_intact_package(package, capsys):
    call_command("verify_package", str(package))
    assert "OK" in capsys.readouterr().out


def test_verify_package_command_names_the_first_mismatch(package, tmp_path):
    tampered = _rewrite(package, tmp_path / "changed.zip", change="audit/audit.csv")
    with pytest.raises(CommandError, match=r"changed file: audit/audit.csv"):
        call_command("verify_package", str(tampered))


def test_verify_package_command_exits_non_zero(package, tmp_path):
    tampered = _rewrite(package, tmp_path / "extra.zip", add="extra.txt")
    out = subprocess.run([sys.executable, "manage.py", "verify_package", str(tampered)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "extra file: extra.txt" in out.stderr
