"""Benchmark: the de-identification command against a plain pydicom loop, dcmanon and dicognito, as whole commands.

Generates a synthetic CT series (default 400 slices of 512 x 512, 16-bit)
full of fake PHI, then runs, interleaved and repeated (median of
--repeats), these commands over the same folder, interpreter start-up
included:

- ours: `python -m imaging.deid IN OUT` (or --command), the full profile
  (vocabulary descriptors, times shifted, Clean Pixel Data), every core;
- manage: `python manage.py deidentify IN OUT` (outside a trial it runs the
  same engine without Django's start-up);
- plain: a pydicom loop that reads each file, changes one attribute and
  writes it (no de-identification at all, one process);
- dcmanon: the Rust de-identifier from PyPI, its default profile, in a
  process pool as wide as ours;
- dicognito: its Anonymizer on each file, one process.

With --us N it also times ours on N ultrasound images with burned-in text
(OCR and redaction) and prints files/s.

For each it prints files/s, MB/s (input bytes), CPU seconds per file and
the peak resident memory of the largest process of the command (its
worker processes included, from wait4), then the files/s ratio. Finally it scans every output file of our
command for the planted values and prints CLEAN or LEAK. With --scaling it
also runs ours on a quarter of the files to show that peak memory does not
grow with the number of files.

    .venv/bin/python benchmarks/deid_throughput.py [--slices 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from tests.imaging import synthetic  # noqa: E402  (after the path set-up, so the script runs from anywhere)

PLAIN_LOOP = '''\
"""Plain pydicom loop: read each file, change one attribute, write it."""
import os
import sys

import pydicom

source, target = sys.argv[1], sys.argv[2]
for directory, _, names in os.walk(source):
    for name in sorted(names):
        relative = os.path.relpath(os.path.join(directory, name), source)
        os.makedirs(os.path.dirname(os.path.join(target, relative)), exist_ok=True)
        ds = pydicom.dcmread(os.path.join(directory, name))
        ds.PatientName = "ANONYMOUS"
        ds.save_as(os.path.join(target, relative))
'''


DCMANON = '''\
"""dcmanon (Rust) with its default profile, one process per CPU, like ours."""
import concurrent.futures
import os
import sys

from dcmanon import Anonymizer

source, target = sys.argv[1], sys.argv[2]
anonymizer = None


def one(relative):
    global anonymizer
    if anonymizer is None:
        anonymizer = Anonymizer()
    data = anonymizer.anonymize(os.path.join(source, relative))
    path = os.path.join(target, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


if __name__ == "__main__":
    names = [os.path.relpath(os.path.join(d, n), source) for d, _, files in os.walk(source) for n in sorted(files)]
    with concurrent.futures.ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(one, names, chunksize=8))
'''

DICOGNITO = '''\
"""dicognito: its Anonymizer on each file, one process."""
import os
import sys

import pydicom
from dicognito.anonymizer import Anonymizer

source, target = sys.argv[1], sys.argv[2]
anonymizer = Anonymizer()
for directory, _, names in os.walk(source):
    for name in sorted(names):
        relative = os.path.relpath(os.path.join(directory, name), source)
        os.makedirs(os.path.dirname(os.path.join(target, relative)), exist_ok=True)
        ds = pydicom.dcmread(os.path.join(directory, name))
        anonymizer.anonymize(ds)
        ds.save_as(os.path.join(target, relative))
'''


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    files_out: int


# Timed commands are started from this small launcher, not from the benchmark itself: on Linux a
# child's peak RSS starts at its parent's size at fork time, and the benchmark holds the
# generator's memory. The launcher is a few MB, the same floor for both commands.
LAUNCHER = """
import json, os, subprocess, sys, time
command = json.loads(sys.argv[1])
started = time.perf_counter()
process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
errors = process.stderr.read().decode(errors="replace")
_, status, usage = os.wait4(process.pid, 0)  # includes the processes it waited for (its workers)
print(json.dumps({"seconds": time.perf_counter() - started, "status": os.waitstatus_to_exitcode(status),
                  "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss, "errors": errors[-2000:]}))
"""


def run_command(command: list[str], output: Path, env: dict[str, str]) -> Run:
    """Run one command to completion; measure wall time, CPU and peak RSS of it and its children."""
    shutil.rmtree(output, ignore_errors=True)
    launched = subprocess.run([sys.executable, "-c", LAUNCHER, json.dumps(command)], cwd=REPOSITORY, env=env,
                              capture_output=True, text=True, check=True)
    report = json.loads(launched.stdout)
    if report["status"] != 0:
        raise SystemExit(f"command failed ({report['status']}): {shlex.join(command)}\n{report['errors']}")
    files_out = sum(1 for path in output.rglob("*") if path.is_file())
    return Run(report["seconds"], report["cpu"], report["maxrss_kb"] / 1024, files_out)


def summarize(name: str, runs: list[Run], files: int, megabytes: float) -> float:
    seconds = statistics.median(run.seconds for run in runs)
    cpu = statistics.median(run.cpu_seconds for run in runs)
    peak = max(run.peak_rss_mb for run in runs)
    rate = files / seconds
    print(f"{name:6s} {rate:9.1f} files/s {megabytes / seconds:8.1f} MB/s {cpu / files * 1000:8.2f} ms CPU/file "
          f"{peak:8.1f} MB peak RSS   (median of {len(runs)}: {', '.join(f'{run.seconds:.2f}' for run in runs)} s)")
    return rate


def ultrasound_rate(workdir: Path, count: int, env: dict[str, str]) -> None:
    """Files/s of ours on ultrasound images with burned-in text (OCR + redaction), whole command."""
    sys.path.insert(0, str(REPOSITORY))
    from tests.imaging.test_deid_ocr import ultrasound_with_text

    source, output = workdir / "in-us", workdir / "out-us"
    source.mkdir(exist_ok=True)
    for index in range(count):
        ds, _, _ = ultrasound_with_text()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{index + 1}"
        (source / f"us{index:04d}.dcm").write_bytes(synthetic.to_bytes(ds))
    command = [sys.executable, "-m", "imaging.deid", str(source), str(output), "--quiet", "--secret-file",
               str(workdir / "secret")]
    run = run_command(command, output, env)
    print(f"US     {count / run.seconds:9.2f} files/s with OCR and redaction ({count} images of 640 x 480, "
          f"{run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB peak RSS)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="passed to the default command")
    parser.add_argument("--command", default=None,
                        help='our command with {input} and {output}, e.g. '
                             '"python manage.py deidentify {input} {output}"')
    parser.add_argument("--workdir", default=None, help="where to generate (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--scaling", action="store_true", help="also run ours on a quarter of the files")
    parser.add_argument("--us", type=int, default=0, help="also time ours on this many ultrasound images with text")
    parser.add_argument("--no-others", action="store_true", help="only ours, manage and plain")
    arguments = parser.parse_args()

    workdir = Path(arguments.workdir or tempfile.mkdtemp(prefix="deid-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source, ours_out, plain_out = workdir / "in", workdir / "out-ours", workdir / "out-plain"
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY), "PYTHONWARNINGS": "ignore"}
    env.pop("ICTMS_DEID_SECRET", None)
    try:
        print(f"generating {arguments.slices} slices of {arguments.rows} x {arguments.rows} with fake PHI in {source}")
        started = time.perf_counter()
        series = synthetic.write_ct_series(source, arguments.slices, rows=arguments.rows, cols=arguments.rows,
                                           phi=True, lesions=[synthetic.Lesion((30.0, 20.0, 100.0), 20.0)])
        files = sorted(path for path in source.rglob("*") if path.is_file())
        megabytes = sum(path.stat().st_size for path in files) / 1e6
        print(f"  {len(files)} files, {megabytes:.1f} MB, {len(series.planted)} planted values, "
              f"{time.perf_counter() - started:.1f} s")

        plain_script = workdir / "plain_loop.py"
        plain_script.write_text(PLAIN_LOOP)
        plain = [sys.executable, str(plain_script), str(source), str(plain_out)]
        (workdir / "dcmanon_pool.py").write_text(DCMANON)
        (workdir / "dicognito_loop.py").write_text(DICOGNITO)
        outputs = {"ours": ours_out, "plain": plain_out, "manage": workdir / "out-manage",
                   "dcmanon": workdir / "out-dcmanon", "dicognito": workdir / "out-dicognito"}
        commands = {
            "plain": plain,
            "manage": [sys.executable, str(REPOSITORY / "manage.py"), "deidentify", str(source),
                       str(outputs["manage"]), "--quiet", "--secret-file", str(workdir / "secret")],
            "dcmanon": [sys.executable, str(workdir / "dcmanon_pool.py"), str(source), str(outputs["dcmanon"])],
            "dicognito": [sys.executable, str(workdir / "dicognito_loop.py"), str(source), str(outputs["dicognito"])],
        }
        if arguments.no_others:
            commands = {name: commands[name] for name in ("plain", "manage")}
        if arguments.command:
            ours = shlex.split(arguments.command.format(input=source, output=ours_out))
        else:
            ours = [sys.executable, "-m", "imaging.deid", str(source), str(ours_out), "--quiet",
                    "--secret-file", str(workdir / "secret")]
            if arguments.workers:
                ours += ["--workers", str(arguments.workers)]
        commands = {"ours": ours, **commands}
        for name, command in commands.items():
            print(f"{name + ':':10s} {shlex.join(command)}")
        print(f"CPUs: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

        results: dict[str, list[Run]] = {name: [] for name in commands}
        names = list(commands)
        for repeat in range(arguments.repeats):
            # Interleaved, the order turned each round, so load from other processes hits all alike.
            order = names if repeat % 2 == 0 else list(reversed(names))
            for name in order:
                results[name].append(run_command(commands[name], outputs[name], env))
        print()
        rates = {name: summarize(name, results[name], len(files), megabytes) for name in names}
        plain_rate = rates["plain"]
        print(f"ratio  ours {rates['ours'] / plain_rate:.2f}x, manage.py {rates['manage'] / plain_rate:.2f}x "
              f"the plain loop's files/s (target >= 1.5x)")
        if "dcmanon" in rates:
            print(f"ratio  ours {rates['ours'] / rates['dcmanon']:.2f}x, manage.py {rates['manage'] / rates['dcmanon']:.2f}x "
                  f"dcmanon's files/s (target for manage.py >= 1.0x)")
        if "dicognito" in rates:
            print(f"ratio  ours {rates['ours'] / rates['dicognito']:.2f}x dicognito's files/s")

        leaks = []
        written = sorted(path for path in ours_out.rglob("*") if path.is_file())
        for path in written:
            leaks.extend(synthetic.find_planted(path.read_bytes(), series.planted))
        if len(written) != len(files):
            print(f"LEAK? the command wrote {len(written)} files for {len(files)} inputs")
        print(f"PHI    {'CLEAN' if not leaks else 'LEAK'}: {len({leak.token for leak in leaks})} planted values found "
              f"in {len(written)} output files")

        if arguments.us:
            ultrasound_rate(workdir, arguments.us, env)

        if arguments.scaling:
            quarter = workdir / "in-quarter"
            shutil.rmtree(quarter, ignore_errors=True)
            quarter.mkdir()
            for path in files[: max(1, len(files) // 4)]:
                os.link(path, quarter / path.name)
            small = [part if part != str(source) else str(quarter) for part in ours]
            run_small = run_command(small, ours_out, env)
            run_large = run_command(ours, ours_out, env)
            print(f"memory {run_small.peak_rss_mb:.1f} MB peak for {len(files) // 4} files, "
                  f"{run_large.peak_rss_mb:.1f} MB for {len(files)}")
        return 1 if leaks else 0
    finally:
        if not arguments.keep and not arguments.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
