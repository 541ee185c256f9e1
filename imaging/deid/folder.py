"""De-identify a folder tree of DICOM files on every core, with memory that does not grow with the file count.

Output layout: OUT_DIR/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm,
all three the de-identified UIDs. It does not mirror the input tree because
input paths are often PHI themselves (CD exports named after the patient)
and because it makes duplicates visible: the same image always lands on the
same path, so re-running over the same input reports duplicates instead of
writing copies.

Files are handed to worker processes in small batches, with a bounded
number of batches in flight; each worker streams the pixel data from the
input to the output, so no process ever holds more than one file's header
and a 1 MB copy buffer. A file is written to a temporary name beside its
final path and then hard-linked into place, which is atomic and refuses to
overwrite: two workers finishing the same image cannot both "win".
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .engine import ContextLike, DeidResult, prepare
from .errors import DeidError, SkippedFile

__all__ = ["FileOutcome", "FolderSummary", "deidentify_folder", "iter_deidentify_folder", "iter_input_files"]

OK, DUPLICATE, REJECTED, SKIPPED = "ok", "duplicate", "rejected", "skipped"


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input file. `source` is relative to the input folder, `output` to the output folder.

    `reason` is plain words without PHI. Note that `source` is the input
    file's own path, which a site may have named after the patient: show it
    to the site, do not store it with the de-identified data.
    """

    source: str
    status: str
    reason: str = ""
    output: str = ""
    result: DeidResult | None = None


@dataclass
class FolderSummary:
    counts: Counter[str] = field(default_factory=Counter)
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(self.counts.values())


def iter_input_files(in_dir: str | os.PathLike[str], *, exclude: str | os.PathLike[str] | None = None) -> Iterator[str]:
    """Yield file paths under `in_dir` relative to it, in a stable order, lazily (a 100,000-file tree is fine)."""
    root = os.path.abspath(in_dir)
    excluded = os.path.abspath(exclude) if exclude is not None else None
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            name for name in subdirectories if os.path.join(directory, name) != excluded
        )
        for name in sorted(files):
            yield os.path.relpath(os.path.join(directory, name), root)


# --------------------------------------------------------------------------- one file


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def deidentify_into_tree(
    in_dir: str, relative: str, out_dir: str, context: ContextLike, made: set[str] | None = None
) -> FileOutcome:
    """De-identify one input file into the output tree; never raises for a bad file."""
    source = os.path.join(in_dir, relative)
    try:
        with open(source, "rb") as fp:
            prepared = prepare(fp, os.fstat(fp.fileno()).st_size, context)
            output = os.path.join(
                prepared.study_instance_uid, prepared.series_instance_uid, f"{prepared.sop_instance_uid}.dcm"
            )
            final = os.path.join(out_dir, output)
            directory = os.path.dirname(final)
            if made is None or directory not in made:
                os.makedirs(directory, exist_ok=True)
                if made is not None:
                    made.add(directory)
            partial = os.path.join(directory, f".{prepared.sop_instance_uid}.{os.getpid()}.part")
            try:
                with open(partial, "wb") as out:
                    result = prepared.write(fp, out)
                return _publish(partial, final, relative, output, result)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    except DeidError as error:
        return FileOutcome(relative, REJECTED, error.reason)
    except SkippedFile as skipped:
        return FileOutcome(relative, SKIPPED, skipped.reason)
    except OSError:
        # The message would carry the path; the caller already knows which file.
        return FileOutcome(relative, REJECTED, "the file could not be read or written")
    # One odd file must not stop a folder of thousands. The exception's
    # message may quote the file, so only its type is reported.
    except Exception as error:  # noqa: BLE001 - one odd file must not stop the folder
        return FileOutcome(relative, REJECTED, f"could not be de-identified (internal error: {type(error).__name__})")


def _publish(partial: str, final: str, relative: str, output: str, result: DeidResult) -> FileOutcome:
    try:
        os.link(partial, final)
    except FileExistsError:
        return _duplicate(final, relative, output, result)
    except OSError:
        # File systems without hard links: a rename, after checking by hand.
        if os.path.exists(final):
            return _duplicate(final, relative, output, result)
        os.replace(partial, final)
    return FileOutcome(relative, OK, output=output, result=result)


def _duplicate(final: str, relative: str, output: str, result: DeidResult) -> FileOutcome:
    if _sha256_of(final) == result.sha256:
        return FileOutcome(relative, DUPLICATE, "already received", output=output, result=result)
    return FileOutcome(
        relative, REJECTED, "a different file with the same SOP Instance UID was already received", output=output
    )


# --------------------------------------------------------------------------- worker processes

_worker: dict[str, object] = {}


def _init_worker(in_dir: str, out_dir: str, context: ContextLike) -> None:
    _worker.update(in_dir=in_dir, out_dir=out_dir, context=context, made=set())


def _process_batch(relatives: list[str]) -> list[FileOutcome]:
    in_dir, out_dir = str(_worker["in_dir"]), str(_worker["out_dir"])
    context = _worker["context"]
    made = _worker["made"]
    return [deidentify_into_tree(in_dir, relative, out_dir, context, made) for relative in relatives]  # type: ignore[arg-type]


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def iter_deidentify_folder(
    in_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    context: ContextLike,
    *,
    workers: int | None = None,
    batch_size: int = 8,
) -> Iterator[FileOutcome]:
    """Yield one FileOutcome per input file (in completion order) while the folder is processed.

    `context` is a DeidContext (one participant) or a picklable
    ContextFactory (one context per patient found). `workers` defaults to
    the number of CPUs; 1 runs in this process (no pool).
    """
    source_root = os.path.abspath(in_dir)
    target_root = os.path.abspath(out_dir)
    os.makedirs(target_root, exist_ok=True)
    files = iter_input_files(source_root, exclude=target_root)
    workers = workers or os.cpu_count() or 1
    if workers <= 1:
        made: set[str] = set()
        for relative in files:
            yield deidentify_into_tree(source_root, relative, target_root, context, made)
        return
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(source_root, target_root, context)
    ) as pool:
        batches = _batches(files, batch_size)
        pending: set[concurrent.futures.Future[list[FileOutcome]]] = set()
        # Two batches per worker keep every core busy while one is handed over.
        limit = workers * 2
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                pending.add(pool.submit(_process_batch, batch))
            if not pending:
                return
            done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                yield from future.result()


def deidentify_folder(
    in_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    context: ContextLike,
    *,
    workers: int | None = None,
    on_outcome: Callable[[FileOutcome], None] | None = None,
    keep_outcomes: bool = True,
) -> FolderSummary:
    """De-identify every file under `in_dir` into `out_dir`; return the counts (and outcomes unless told not to).

    `on_outcome` is called for each file as it finishes (progress, printing,
    recording rows). With keep_outcomes=False the summary holds counts only,
    for very large trees.
    """
    summary = FolderSummary()
    for outcome in iter_deidentify_folder(in_dir, out_dir, context, workers=workers):
        summary.counts[outcome.status] += 1
        if keep_outcomes:
            summary.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return summary
