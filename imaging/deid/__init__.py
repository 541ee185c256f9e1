"""De-identification of DICOM per PS3.15 Annex E (pure: pydicom, no Django).

Public API:
- DeidOptions, DeidContext, PrivateTagRule, LocalContextFactory: what to do.
- PixelRule, RedactionRegion: where burned-in text sits (Clean Pixel Data).
- deidentify_file(), deidentify_bytes(), prepare(): one file, giving a DeidResult
  (its `burned_in` PixelReport and `cleaned_descriptors` are what QC reviews).
- deidentify_folder(), iter_deidentify_folder(): a folder tree, in parallel, one
  FileOutcome per file (refused and why, or the result).
- participant_date_offset(), participant_time_offset(), patient_key(), remap_uid(),
  load_local_secret().
- DeidError and its subclasses, SkippedFile: why a file was refused or skipped.
"""

from .context import (
    ContextFactory,
    DeidContext,
    DeidOptions,
    LocalContextFactory,
    PrivateTagRule,
    load_local_secret,
    participant_date_offset,
    participant_time_offset,
    patient_key,
)
from .engine import DeidResult, PreparedFile, deidentify_bytes, deidentify_file, prepare, remap_uid
from .errors import (
    DeidError,
    EmptyFileError,
    NotDicomError,
    SkippedFile,
    TooComplexError,
    TruncatedError,
    UnsupportedError,
)
from .folder import FileOutcome, FolderSummary, deidentify_folder, iter_deidentify_folder
from .pixels import PixelReport
from .regions import PixelRule, RedactionRegion

__all__ = [
    "ContextFactory",
    "DeidContext",
    "DeidError",
    "DeidOptions",
    "DeidResult",
    "EmptyFileError",
    "FileOutcome",
    "FolderSummary",
    "LocalContextFactory",
    "NotDicomError",
    "PixelReport",
    "PixelRule",
    "PreparedFile",
    "PrivateTagRule",
    "RedactionRegion",
    "SkippedFile",
    "TooComplexError",
    "TruncatedError",
    "UnsupportedError",
    "deidentify_bytes",
    "deidentify_file",
    "deidentify_folder",
    "iter_deidentify_folder",
    "load_local_secret",
    "participant_date_offset",
    "participant_time_offset",
    "patient_key",
    "prepare",
    "remap_uid",
]
