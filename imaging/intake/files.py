"""Submitted files before de-identification: PHI-safe display names and safe zip expansion.

File and folder names written by sites often carry the patient's name ("SMITH_JOHN/CT1").
Only name components that look like machine-made names (IM0001, SE000002, DICOM)
are kept for display; any other component becomes "…" (digit-only names too: they may be a
record number, a date or an original UID). The full names stay in the browser.
"""
from __future__ import annotations

import lzma
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Machine-made names only: a short letter prefix and a counter (IM0001, SE000002, PA000000).
# Digit-only names are not kept: they may be a medical record number, a date or an original UID.
_SAFE_COMPONENT = re.compile(r"^(?:[A-Za-z]{1,6}[0-9]{3,8}|DICOM|DICOMDIR)(?:\.(?:dcm|dicom|ima|img|zip))?$", re.IGNORECASE)
_SYSTEM_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
# The side files of a PACS or CD export, next to the images: the disc's index and lock files, its
# read-me, the autorun of the CD viewer and the viewer's own files, web pages and reports.
# They are skipped (not images), never rejected, so QC does not report them as unreadable.
_SIDE_NAMES = {"dicomdir", "lockfile", "version", "autorun.inf", "readme"} | _SYSTEM_NAMES
_SIDE_SUFFIXES = {".txt", ".htm", ".html", ".pdf", ".exe", ".dll", ".ini", ".inf"}
SIDE_FILE_FLAG = "side_file"  # SubmissionFile.flags: the file's name, seen once, says it is a side file
# Fixed side-file names carry no one's name: they are shown as they are (the others as "…" + suffix).
_SAFE_SIDE_NAME = re.compile(r"^(?:dicomdir|lockfile|version|autorun\.inf|readme(?:\.txt)?|thumbs\.db|\.ds_store|"
                             r"desktop\.ini|__macosx)$", re.IGNORECASE)
_KEEP_SUFFIX = {".dcm", ".zip", ".ima", ".dicom"} | _SIDE_SUFFIXES


def safe_display_name(path: str, *, fallback: str = "") -> str:
    """A display name that cannot carry a name or ID: unknown components become '…'."""
    parts = [p for p in re.split(r"[\\/]+", path or "") if p and p not in (".", "..")]
    shown = [p if _SAFE_COMPONENT.match(p) or _SAFE_SIDE_NAME.match(p) else "…" for p in parts[-4:]]
    collapsed: list[str] = []
    for part in shown:
        if not (part == "…" and collapsed and collapsed[-1] == "…"):
            collapsed.append(part)
    suffix = PurePosixPath(parts[-1]).suffix.lower() if parts else ""
    if collapsed and collapsed[-1] == "…" and suffix in _KEEP_SUFFIX:
        collapsed[-1] = f"…{suffix}"
    name = "/".join(collapsed)
    return (name or fallback)[:255]


def is_system_file(path: str) -> bool:
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    return name in _SYSTEM_NAMES or name.startswith("._") or "__macosx/" in path.lower().replace("\\", "/") + "/"


def is_side_file(path: str) -> bool:
    """A known side file of an export (README*, *.TXT, DICOMDIR, LOCKFILE, a CD viewer's files, OS files)."""
    if is_system_file(path):
        return True
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    return name in _SIDE_NAMES or name.startswith("readme") or PurePosixPath(name).suffix in _SIDE_SUFFIXES


def looks_like_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head in (b"PK\x03\x04", b"PK\x05\x06")  # local file header, or an empty archive


class ArchiveRefused(Exception):
    """The whole archive is refused; `reason` is in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MemberRefused(Exception):
    """One file of the archive cannot be taken out of it; the rest of the archive is used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# What Python's zipfile unpacks; Deflate64 (9), PPMd, implode... are refused member by member.
_UNPACKABLE = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "Deflate", zipfile.ZIP_BZIP2: "BZIP2",
               zipfile.ZIP_LZMA: "LZMA"}
_METHOD_NAMES = {6: "implode", 9: "Deflate64", 93: "Zstandard", 95: "XZ", 97: "WavPack", 98: "PPMd"}
# What a damaged member makes zipfile and the decompressors raise (checksum, stream, end of data).
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError)


@dataclass(frozen=True)
class ArchiveMember:
    index: int
    name: str  # the member's path inside the archive (not stored: may carry PHI)
    size: int
    is_nested_archive: bool
    is_system_file: bool


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int
    max_members: int
    max_ratio: int
    max_member_bytes: int


def _unsafe(name: str) -> bool:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        return True
    return any(part == ".." for part in normalized.split("/"))


def inspect_archive(path: Path, limits: ArchiveLimits) -> list[ArchiveMember]:
    """Check the archive before anything is extracted; raise ArchiveRefused with a plain reason."""
    try:
        archive = zipfile.ZipFile(path)
    # A damaged central directory makes zipfile raise more than BadZipFile: NotImplementedError for a version
    # field it does not know, UnicodeDecodeError (a ValueError) for a name flagged UTF-8 that is not.
    except (*_DAMAGED, OSError, ValueError):
        raise ArchiveRefused("not a readable zip archive (damaged or incomplete)") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            raise ArchiveRefused(f"the archive holds more than {limits.max_members} files")
        if any(_unsafe(i.filename) for i in archive.infolist()):
            raise ArchiveRefused("the archive contains unsafe paths (../ or absolute); nothing from it was used")
        if any(stat.S_ISLNK(i.external_attr >> 16) for i in infos):
            raise ArchiveRefused("the archive contains symbolic links; nothing from it was used")
        if any(i.flag_bits & 0x1 for i in infos):
            raise ArchiveRefused("the archive is password-protected; send it without encryption")
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise ArchiveRefused(f"the archive expands to more than {limits.max_total_bytes // 2**20} MB")
        for info in infos:
            if info.file_size > limits.max_member_bytes:
                raise ArchiveRefused(f"a file in the archive is larger than the {limits.max_member_bytes // 2**20} MB limit")
            if info.compress_size and info.file_size / info.compress_size > limits.max_ratio and info.file_size > 2**20:
                raise ArchiveRefused("the archive expands suspiciously much (a possible zip bomb); nothing from it was used")
        members = []
        for index, info in enumerate(infos):
            nested = info.filename.lower().endswith((".zip", ".7z", ".rar", ".tar", ".gz", ".tgz"))
            members.append(ArchiveMember(index, info.filename, info.file_size, nested, is_system_file(info.filename)))
        return members


def extract_member(path: Path, member: ArchiveMember, destination: Path, limits: ArchiveLimits) -> bool:
    """Stream one member to `destination`. Returns True if it is itself a zip (nested archives are refused).

    The declared size in a zip can lie; the byte count is enforced while copying, so a
    bomb is stopped at the limit whatever the header says (ArchiveRefused: nothing of the archive
    is used). A member that is damaged or compressed with a method zipfile lacks raises
    MemberRefused: that file is refused, the others are used.
    """
    written = 0
    cap = min(member.size, limits.max_member_bytes)
    with zipfile.ZipFile(path) as archive:
        info = [i for i in archive.infolist() if not i.is_dir()][member.index]
        if info.compress_type not in _UNPACKABLE:
            method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise MemberRefused(f"compressed in the archive with {method}, which cannot be unpacked here; re-create "
                                "the zip with the standard Deflate method")
        try:
            with open(destination, "wb") as out:
                for block in _member_blocks(archive, info):
                    written += len(block)
                    if written > cap:
                        raise ArchiveRefused("the archive expands beyond its declared size (a possible zip bomb); "
                                             "nothing from it was used")
                    out.write(block)
        except MemberRefused:
            destination.unlink(missing_ok=True)
            raise
    with open(destination, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _member_blocks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's data in blocks of 1 MB; MemberRefused when the archive cannot give it.

    Reading errors of the archive mean a damaged member: a bad checksum or stream, or an offset
    that points outside the file (zipfile then seeks before its start: OSError). Errors writing
    the destination are not the member's fault and are not caught here.
    """
    try:
        with archive.open(info) as src:
            while block := src.read(1 << 20):
                yield block
    except (*_DAMAGED, OSError):
        raise MemberRefused("damaged inside the archive (its data is corrupt or does not match its checksum); "
                            "please send it again") from None


def iter_blocks(stream, length: int, block: int = 1 << 20) -> Iterator[bytes]:
    """Read exactly `length` bytes from a file-like stream in blocks (never the whole body)."""
    remaining = length
    while remaining > 0:
        data = stream.read(min(block, remaining))
        if not data:
            break
        remaining -= len(data)
        yield data
