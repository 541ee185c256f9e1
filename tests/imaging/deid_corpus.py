"""The public DICOM corpus for the de-identification tests: files that ship inside installed packages.

pydicom's own test and charset files, pydicom-data (`data_store`), deid-data
(`deid_data`, its two zipped cines unpacked once into a cache folder) and the
test files in pynetdicom's wheel. Nothing is downloaded: a package that is not
installed contributes no files. Also runs dciodvfy (dicom3tools) on a file and
returns its error lines, values blanked so that changed UIDs compare equal.
"""
from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / "var" / "deid-corpus"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _dicom_like(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() not in (".py", ".pyc", ".json", ".md", ".txt", ".dump", ".zip", ".gz",
                                                          ".bz2", ".xz", ".typed", ".cfg", ".toml", ".csv", ".html")


def _unzipped(archive: Path) -> list[Path]:
    target = CACHE / archive.stem
    if not target.exists():
        # Each process (pytest-xdist worker) unpacks into its own folder and renames it into
        # place; the first rename wins and the others drop their copy, so no worker ever sees
        # a half-written folder or another worker's deletion.
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".part", dir=CACHE))
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                name = Path(member.filename)
                if member.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                destination = partial / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(bundle.read(member))
        try:
            partial.rename(target)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
    return sorted(path for path in target.rglob("*") if _dicom_like(path) and not path.name.startswith("."))


@functools.cache
def corpus() -> tuple[tuple[str, Path], ...]:
    """(id, path) of every public file, sorted, ids like 'pydicom/CT_small.dcm'."""
    found: list[tuple[str, Path]] = []
    pydicom_dir = _package_dir("pydicom")
    if pydicom_dir is not None:
        for folder in ("test_files", "charset_files"):
            root = pydicom_dir / "data" / folder
            found += [(f"pydicom/{path.relative_to(root)}", path) for path in sorted(root.rglob("*")) if _dicom_like(path)]
    for package, sub in (("data_store", "data"), ("deid_data", "data"), ("pynetdicom", "tests/dicom_files")):
        base = _package_dir(package)
        if base is None or not (base / sub).is_dir():
            continue
        root = base / sub
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() == ".zip":
                found += [(f"{package}/{path.name}/{inner.name}", inner) for inner in _unzipped(path)]
            elif _dicom_like(path):
                found.append((f"{package}/{path.relative_to(root)}", path))
    return tuple(found)


def has_dciodvfy() -> bool:
    return shutil.which("dciodvfy") is not None


def dciodvfy_errors(path: Path) -> set[str]:
    """dciodvfy's error lines for `path`, with UIDs and quoted values blanked."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace", timeout=120, check=False)
    lines = {line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")}
    blanked = {re.sub(r"\b\d+(?:\.\d+)+\b", "<value>", line) for line in lines}
    # "Value invalid for this VR - (gggg,eeee) ... = <the value> - why": the value changed (and may hold a
    # line break, which cuts the line), the attribute complained about did not.
    return {re.sub(r"= <.*$", "= <value>", re.sub(r'"[^"]*"', '"<value>"', line)) for line in blanked}
