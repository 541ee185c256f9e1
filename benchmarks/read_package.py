"""A whole read-package build against `zip -r` of the same DICOM files (issue 13: >= 0.5x zip).

    .venv/bin/python benchmarks/read_package.py [--subjects 10] [--slices 100] [--size 256] [--repeats 3]

Set-up (not timed), in a throwaway embedded instance (SQLite and storage under a temporary
ICTMS_VAR_DIR): a double-read trial shaped like the demo's, scaled up: `--subjects` participants,
each with a baseline and a week-8 visit holding one stored CT series of `--slices` slices of
`--size`² pixels (10 x 2 x 100 = 2,000 instances, about 260 MB at 256²), both readers' signed reads
(a target at baseline, re-measured at week 8, agreeing: final), then one queued package per round
and one of a quarter of the subjects.

Timed, interleaved with the order rotated every round so that load from other processes and a warm
page cache favour none (median of `--repeats`):

- **ours**: `python -c` that sets Django up and runs `reads.packages.read_package_build` on a queued
  package, as a worker would: the included instances read from Django storage and written stored
  (not deflated) with SHA-256, the SDTM / SR / CSV / Define-XML documents, the audit extract, the
  manifest, then the zip hashed and put into storage. Interpreter and Django start-up included;
  the build alone is printed too.
- **zip -r** (deflate, zip's default) and **zip -r -0** (store) of the same DICOM files, laid out
  as the package's images/ folder (hard links to the stored files).

It prints MB/s of each (DICOM bytes / seconds), ours as a ratio of both, and ours' peak RSS for the
full package and for the quarter package: equal peaks show memory does not grow with the package.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.package_zip import run_child  # noqa: E402

SETUP = r"""
import json, sys
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("migrate", verbosity=0)
from imaging.models import Instance
from reads.models import ReadPackage
from tests.conftest import build_world
from tests.reads.factories import double_read
from tests.reads.package_world import imaged_subject
from tests.reads.test_adjudication import _read

subjects, slices, size, repeats = (int(a) for a in sys.argv[1:5])
world = build_world()
double_read(world)
codes = []
for n in range(subjects):
    code = f"101-{100 + n:03d}"
    case = imaged_subject(world, code, slices=slices, size=size)
    _read(world, case, world.reader, 20)
    _read(world, case, world.reader2, 22)
    codes.append(code)
full = [ReadPackage.objects.create(trial=world.trial, requested_by=world.sponsor, subjects=codes).pk
        for _ in range(repeats)]
quarter = ReadPackage.objects.create(trial=world.trial, requested_by=world.sponsor,
                                     subjects=codes[: max(1, subjects // 4)]).pk
files = {}
for inst in Instance.objects.filter(series__study__visit__participant__subject_code__in=codes).select_related(
        "series__study__visit__participant", "series__study__visit__timepoint"):
    visit = inst.series.study.visit
    name = f"images/{visit.participant.subject_code}/{visit.timepoint.code}/{inst.series.series_number}/{inst.sop_uid}.dcm"
    files[name] = str(settings.MEDIA_ROOT / inst.storage_key)
print(json.dumps({"full": full, "quarter": quarter, "files": files}))
"""

BUILD = r"""
import sys, time
import django
django.setup()
from reads.packages import read_package_build
start = time.perf_counter()
package = read_package_build(package_id=int(sys.argv[1]))
assert package.state == "ready", package.error
print(f"{time.perf_counter() - start:.3f} {package.size} {package.files_total}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--slices", type=int, default=100, help="slices per visit (two visits per subject)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("zip") is None:
        raise SystemExit("zip is not installed (apt-get install zip)")
    with tempfile.TemporaryDirectory(prefix="ictms-bench-package-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(DJANGO_SETTINGS_MODULE="ictms.settings", ICTMS_VAR_DIR=str(work / "var"), PYTHONPATH=str(ROOT))
        print(f"setting up {args.subjects} subjects x 2 visits x {args.slices} slices of {args.size}² ...", flush=True)
        started = time.perf_counter()
        _, _, out = run_child([sys.executable, "-c", SETUP, str(args.subjects), str(args.slices), str(args.size),
                          str(args.repeats)], env, ROOT)
        setup = json.loads(out.strip().splitlines()[-1])
        images = work / "tree"
        for name, source in setup["files"].items():
            target = images / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
        total = sum(Path(p).stat().st_size for p in setup["files"].values())
        print(f"{len(setup['files'])} instances, {total / 1e6:.0f} MB of DICOM (set-up {time.perf_counter() - started:.0f} s)")

        times: dict[str, list[float]] = {"ours": [], "zip -r": [], "zip -r -0": []}
        builds: list[float] = []
        rss_full = 0
        package_size = 0
        queued = list(setup["full"])
        names = list(times)
        for round_ in range(args.repeats):
            for name in names[round_ % 3:] + names[: round_ % 3]:
                if name == "ours":
                    elapsed, rss, out = run_child([sys.executable, "-c", BUILD, str(queued.pop(0))], env, ROOT)
                    build, size, _files = out.split()
                    builds.append(float(build))
                    package_size = int(size)
                    rss_full = max(rss_full, rss)
                else:
                    target = work / "out.zip"
                    target.unlink(missing_ok=True)
                    flags = ["-r", "-q"] + (["-0"] if name.endswith("-0") else [])
                    elapsed, _, _ = run_child(["zip", *flags, str(target), "images"], env, images)
                times[name].append(elapsed)
        _, rss_quarter, _ = run_child([sys.executable, "-c", BUILD, str(setup["quarter"])], env, ROOT)

        rates = {name: total / 1e6 / statistics.median(values) for name, values in times.items()}
        for name, rate in rates.items():
            print(f"{name:10s} {rate:8.1f} MB/s (median {statistics.median(times[name]):.2f} s)")
        print(f"ours, build alone: {total / 1e6 / statistics.median(builds):.1f} MB/s "
              f"(median {statistics.median(builds):.2f} s; package {package_size / 1e6:.0f} MB)")
        print(f"ours / zip -r = {rates['ours'] / rates['zip -r']:.2f}x (target >= 0.5x), "
              f"ours / zip -r -0 = {rates['ours'] / rates['zip -r -0']:.2f}x")
        print(f"ours peak RSS: {rss_full / 1024:.0f} MB for all subjects, {rss_quarter / 1024:.0f} MB for a quarter")


if __name__ == "__main__":
    main()
