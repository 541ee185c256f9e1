"""manifest.json of a read package and `verify_package`, which checks a package zip against it (pure, no Django).

manifest.json, exactly as reads.md fixes it: `{"trial", "cutoff", "created_at", "created_by",
"software_version", "files": [{"path", "size", "sha256"}, ...]}`, paths relative to the package
root, in the order written, and it does not list itself. The Django layer passes the trial
code, the cut-off date (or None), the creation time, who requested the package as it may
appear in the package (a role pseudonym such as "SPONSOR", never a name) and the software
version; the files come from `PackageZipWriter.entries`.

`verify_package(path_or_file)` re-reads every file and returns the first `Mismatch`, or None
when the package is intact. Order of checks: the manifest is present and well formed; then
each listed file in manifest order (missing, then size and SHA-256); then files in the zip
the manifest does not list (extra), in archive order.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO, Literal

from .zipwriter import CHUNK, FileEntry, PackageZipWriter, check_package_path

__all__ = ["MANIFEST_NAME", "Mismatch", "manifest_bytes", "manifest_dict", "verify_package", "write_manifest"]

MANIFEST_NAME = "manifest.json"
_KEYS = ("trial", "cutoff", "created_at", "created_by", "software_version", "files")


def manifest_dict(
    *,
    trial: str,
    cutoff: date | None,
    created_at: datetime,
    created_by: str,
    software_version: str,
    files: list[FileEntry],
) -> dict[str, Any]:
    if any(f.path == MANIFEST_NAME for f in files):
        raise ValueError("the manifest does not list itself")
    return {
        "trial": trial,
        "cutoff": cutoff.isoformat() if cutoff else None,
        "created_at": created_at.isoformat(),
        "created_by": created_by,
        "software_version": software_version,
        "files": [f.to_dict() for f in files],
    }


def manifest_bytes(**fields: Any) -> bytes:
    return (json.dumps(manifest_dict(**fields), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_manifest(
    writer: PackageZipWriter,
    *,
    trial: str,
    cutoff: date | None,
    created_at: datetime,
    created_by: str,
    software_version: str,
) -> FileEntry:
    """Add manifest.json, listing every file written so far, as the package's last entry."""
    data = manifest_bytes(trial=trial, cutoff=cutoff, created_at=created_at, created_by=created_by,
                          software_version=software_version, files=writer.entries)
    return writer.add_bytes(MANIFEST_NAME, data, record=False)


@dataclass(frozen=True)
class Mismatch:
    kind: Literal["manifest", "missing", "changed", "extra", "duplicate"]
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} file: {self.path} ({self.detail})" if self.kind != "manifest" else f"manifest: {self.detail}"


def _read_manifest(archive: zipfile.ZipFile) -> list[dict[str, Any]] | Mismatch:
    try:
        raw = archive.read(MANIFEST_NAME)
    except KeyError:
        return Mismatch("manifest", MANIFEST_NAME, "manifest.json is missing")
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return Mismatch("manifest", MANIFEST_NAME, f"manifest.json is not JSON: {error}")
    if not isinstance(manifest, dict) or list(manifest) != list(_KEYS) or not isinstance(manifest["files"], list):
        return Mismatch("manifest", MANIFEST_NAME, f"manifest.json must have exactly the keys {', '.join(_KEYS)}")
    files = manifest["files"]
    seen: set[str] = set()
    for item in files:
        if (not isinstance(item, dict) or set(item) != {"path", "size", "sha256"} or not isinstance(item["path"], str)
                or not isinstance(item["size"], int) or not isinstance(item["sha256"], str)):
            return Mismatch("manifest", MANIFEST_NAME, f"a malformed file entry: {item!r}")
        try:
            check_package_path(item["path"])
        except ValueError as error:
            return Mismatch("manifest", MANIFEST_NAME, str(error))
        if item["path"] in seen or item["path"] == MANIFEST_NAME:
            return Mismatch("manifest", MANIFEST_NAME, f"{item['path']} is listed twice or is the manifest itself")
        seen.add(item["path"])
    return files


def verify_package(source: str | os.PathLike[str] | BinaryIO) -> Mismatch | None:
    """The first difference between the package and its manifest, or None when every file matches."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        return Mismatch("manifest", str(source), f"not a readable zip: {error}")
    with archive:
        names = archive.namelist()
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            return Mismatch("duplicate", duplicate, "the zip holds two entries with this name")
        files = _read_manifest(archive)
        if isinstance(files, Mismatch):
            return files
        for item in files:
            path = item["path"]
            try:
                info = archive.getinfo(path)
            except KeyError:
                return Mismatch("missing", path, "listed in the manifest but not in the zip")
            digest = hashlib.sha256()
            size = 0
            try:
                with archive.open(info) as handle:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError) as error:
                return Mismatch("changed", path, f"cannot be read back: {error}")
            if size != item["size"]:
                return Mismatch("changed", path, f"size {size} bytes, the manifest says {item['size']}")
            if digest.hexdigest() != item["sha256"]:
                return Mismatch("changed", path, f"SHA-256 {digest.hexdigest()}, the manifest says {item['sha256']}")
        listed = {item["path"] for item in files}
        for name in names:
            if name != MANIFEST_NAME and name not in listed:
                return Mismatch("extra", name, "in the zip but not in the manifest")
    return None
