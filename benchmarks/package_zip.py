"""The read package zip writer against `zip -r` on the same DICOM files (issue 13's target: >= 0.5x zip).

    .venv/bin/python benchmarks/package_zip.py [--instances 2000] [--size 256] [--repeats 3]

Writes `--instances` synthetic CT slices (`imaging.synthetic`, `--size` x `--size` pixels, so
2,000 x 256² is about 260 MB) under a temporary folder laid out as a package's images/, then
times, interleaved with the order rotated every round so that load from other processes and a
warm page cache favour none (median of `--repeats`):

- ours: `reads.package.zipwriter.PackageZipWriter` in a child process, every file streamed
  with `add_file` (ZIP_STORED for .dcm, SHA-256 while writing) plus manifest.json;
- `zip -r -q` (deflate, zip's default) and `zip -r -q -0` (store) of the same folder.

It prints MB/s of each and ours as a ratio of both, and ours' peak RSS at the full size and at
a quarter of the files: equal peaks show memory does not grow with the package. The real
package build (`benchmarks/read_package.py`, on the Django side) adds storage reads and the
generated documents; this isolates the zip stage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OURS = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from reads.package.manifest import write_manifest
from reads.package.zipwriter import PackageZipWriter
root, target, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
files = sorted(p for p in root.rglob("*.dcm"))[:limit]
with open(target, "wb") as handle, PackageZipWriter(handle) as writer:
    for path in files:
        writer.add_file(path.relative_to(root).as_posix(), path)
    write_manifest(writer, trial="BENCH", cutoff=None, created_at=datetime.now(UTC), created_by="SYSTEM",
                   software_version="bench")
"""


def run_child(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, int, str]:
    """Seconds, peak RSS (KiB) and stdout of a child process (its stderr passes through)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE)
    out = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:3]} failed")
    return elapsed, usage.ru_maxrss, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("zip") is None:
        raise SystemExit("zip is not installed (apt-get install zip)")
    from tests.imaging.synthetic import write_ct_series

    with tempfile.TemporaryDirectory(prefix="ictms-bench-zip-") as tmp:
        work = Path(tmp)
        images = work / "images"
        per_series = 200
        for number in range(0, args.instances, per_series):
            count = min(per_series, args.instances - number)
            folder = images / f"S{number // per_series:03d}" / "week-8" / "2"
            write_ct_series(folder, count, rows=args.size, cols=args.size, seed=number)
        total = sum(p.stat().st_size for p in images.rglob("*.dcm"))
        print(f"{args.instances} instances of {args.size}x{args.size}, {total / 1e6:.0f} MB")
        times: dict[str, list[float]] = {"ours": [], "zip -r": [], "zip -r -0": []}
        rss_full = 0
        names = list(times)
        for round_ in range(args.repeats):
            # Rotate who goes first, so page-cache warmth and load spikes do not favour one contender.
            for name in names[round_ % 3:] + names[: round_ % 3]:
                measured = times[name]
                target = work / "out.zip"
                target.unlink(missing_ok=True)
                if name == "ours":
                    elapsed, rss, _ = run_child([sys.executable, "-c", OURS, str(images), str(target), str(args.instances)],
                                               cwd=ROOT)
                    rss_full = max(rss_full, rss)
                else:
                    flags = ["-r", "-q"] + (["-0"] if name.endswith("-0") else [])
                    elapsed, _, _ = run_child(["zip", *flags, str(target), "."], cwd=images)
                measured.append(elapsed)
        _, rss_quarter, _ = run_child([sys.executable, "-c", OURS, str(images), str(work / "q.zip"), str(args.instances // 4)],
                                   cwd=ROOT)
        rates = {name: total / 1e6 / statistics.median(values) for name, values in times.items()}
        for name, rate in rates.items():
            print(f"{name:10s} {rate:8.1f} MB/s (median {statistics.median(times[name]):.2f} s)")
        print(f"ours / zip -r = {rates['ours'] / rates['zip -r']:.2f}x (target >= 0.5x), "
              f"ours / zip -r -0 = {rates['ours'] / rates['zip -r -0']:.2f}x")
        print(f"ours peak RSS: {rss_full / 1024:.0f} MB for all files, {rss_quarter / 1024:.0f} MB for a quarter")


if __name__ == "__main__":
    main()
