"""Streaming zip writer for read packages: size and SHA-256 of every file computed while it is written (pure, no Django).

`PackageZipWriter(fileobj)` writes to any writable binary file object, seekable or not (a
storage file, a socket, a pipe: without seek, each entry gets a data descriptor). Every file
is streamed in chunks of `CHUNK` bytes, so memory does not grow with the package: only the
central directory (one small record per file) is kept. DICOM (`.dcm`) is stored (ZIP_STORED:
already dense, and readers can seek into it); everything else is deflated. ZIP64 is used
whenever a size or offset needs it, and forced for streams of unknown size (which could
exceed 4 GiB). Entry times are fixed (`date_time`, the package's creation time), so the same
input yields the same bytes.

The Django layer opens the package file in storage, adds files in a deterministic order
(`add_file` / `add_stream` from storage, `add_bytes` for generated text), reports progress from
`on_file`, and finishes with `manifest.write_manifest`, which adds manifest.json last.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

__all__ = ["CHUNK", "FileEntry", "PackageZipWriter", "check_package_path"]

CHUNK = 1024 * 1024
_STORED_SUFFIXES = (".dcm",)


@dataclass(frozen=True)
class FileEntry:
    """One file of the package as the manifest lists it."""

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def check_package_path(path: str) -> str:
    """A package path is relative, with forward slashes and no '.', '..' or empty parts; raises ValueError."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise ValueError(f"not a relative package path: {path!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a clean package path: {path!r}")
    return str(PurePosixPath(path))


class PackageZipWriter:
    """Write package files one by one into a zip on `fileobj`; `entries` lists what was written."""

    def __init__(
        self,
        fileobj: BinaryIO,
        *,
        date_time: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0),
        on_file: Callable[[FileEntry], None] | None = None,
    ) -> None:
        self._zip = zipfile.ZipFile(fileobj, mode="w", allowZip64=True)
        self._date_time = date_time
        self._on_file = on_file
        self._entries: list[FileEntry] = []
        self._names: set[str] = set()

    @property
    def entries(self) -> list[FileEntry]:
        return list(self._entries)

    def __enter__(self) -> PackageZipWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def _info(self, path: str, size: int | None) -> zipfile.ZipInfo:
        path = check_package_path(path)
        if path in self._names:
            raise ValueError(f"{path} is already in the package")
        info = zipfile.ZipInfo(path, date_time=self._date_time)
        info.external_attr = 0o644 << 16
        if path.lower().endswith(_STORED_SUFFIXES):
            info.compress_type = zipfile.ZIP_STORED
        else:
            info.compress_type = zipfile.ZIP_DEFLATED  # zlib's default level
        if size is not None:
            # zipfile decides on ZIP64 for the local header from the announced size.
            info.file_size = size
        return info

    def add_stream(self, path: str, chunks: Iterable[bytes] | BinaryIO, *, size: int | None = None, record: bool = True) -> FileEntry:
        """Copy a readable binary file or an iterable of byte chunks into the package under `path`."""
        info = self._info(path, size)
        digest = hashlib.sha256()
        written = 0
        source: Iterable[bytes] = iter(lambda: chunks.read(CHUNK), b"") if hasattr(chunks, "read") else chunks
        with self._zip.open(info, mode="w", force_zip64=size is None) as out:
            for chunk in source:
                if not chunk:
                    continue
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        if size is not None and written != size:
            raise ValueError(f"{path}: announced {size} bytes but {written} were read")
        entry = FileEntry(info.filename, written, digest.hexdigest())
        self._names.add(info.filename)
        if record:
            self._entries.append(entry)
            if self._on_file is not None:
                self._on_file(entry)
        return entry

    def add_bytes(self, path: str, data: bytes, *, record: bool = True) -> FileEntry:
        return self.add_stream(path, [data], size=len(data), record=record)

    def add_file(self, path: str, source: str | os.PathLike[str]) -> FileEntry:
        with open(source, "rb") as handle:
            return self.add_stream(path, handle, size=os.fstat(handle.fileno()).st_size)
