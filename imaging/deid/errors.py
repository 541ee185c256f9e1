"""Why a file was refused or skipped, in plain words that never contain a value from the file."""

from __future__ import annotations

__all__ = [
    "DeidError",
    "EmptyFileError",
    "NotDicomError",
    "SkippedFile",
    "TooComplexError",
    "TruncatedError",
    "UnsupportedError",
]


class DeidError(Exception):
    """A file cannot be de-identified. `reason` is safe to show, store and log (no PHI).

    Raise these with `from None`: a chained exception from pydicom may quote
    a value of the file in its message.
    """

    default_reason = "cannot be de-identified"

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or self.default_reason
        super().__init__(self.reason)


class EmptyFileError(DeidError):
    default_reason = "empty file"


class NotDicomError(DeidError):
    default_reason = "not a DICOM file"


class TruncatedError(DeidError):
    default_reason = "truncated"


class UnsupportedError(DeidError):
    default_reason = "unsupported DICOM file"


class TooComplexError(DeidError):
    """More work than any real object needs (a crafted file): nesting, inflation or element count, refused
    before the work is done."""

    default_reason = "its sequences are nested more deeply than any real DICOM object's"


class SkippedFile(Exception):
    """Not an error: the file is valid but is not an image to keep (a DICOMDIR index)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
