"""Benchmark: the de-identification command against a plain pydicom loop, as whole commands.

Generates a synthetic CT series (default 400 slices of 512 x 512, 16-bit)
full of fake PHI, then runs, interleaved and repeated (median of
--repeats), two commands over the same folder:

- ours: `python -m imaging.deid IN OUT` (or --command, e.g. the Django
  `manage.py deidentify {input} {output}`), the full profile, every core;
- plain: a pydicom loop that reads each file, changes one attribute and
  writes it (no de-identification at all, one process).

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

from imaging import synthetic  # noqa: E402  (after the path set-up, so the script runs from anywhere)

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
        if arguments.command:
            ours = shlex.split(arguments.command.format(input=source, output=ours_out))
        else:
            ours = [sys.executable, "-m", "imaging.deid", str(source), str(ours_out), "--quiet",
                    "--secret-file", str(workdir / "secret")]
            if arguments.workers:
                ours += ["--workers", str(arguments.workers)]
        print(f"ours:  {shlex.join(ours)}")
        print(f"plain: {shlex.join(plain)}")
        print(f"CPUs: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

        results: dict[str, list[Run]] = {"ours": [], "plain": []}
        for repeat in range(arguments.repeats):
            order = ("ours", "plain") if repeat % 2 == 0 else ("plain", "ours")
            for name in order:
                command, output = (ours, ours_out) if name == "ours" else (plain, plain_out)
                results[name].append(run_command(command, output, env))
        print()
        ours_rate = summarize("ours", results["ours"], len(files), megabytes)
        plain_rate = summarize("plain", results["plain"], len(files), megabytes)
        print(f"ratio  {ours_rate / plain_rate:.2f}x the plain loop's files/s (target >= 1.0x)")

        leaks = []
        written = sorted(path for path in ours_out.rglob("*") if path.is_file())
        for path in written:
            leaks.extend(synthetic.find_planted(path.read_bytes(), series.planted, allow_kinds=("time",)))
        if len(written) != len(files):
            print(f"LEAK? the command wrote {len(written)} files for {len(files)} inputs")
        print(f"PHI    {'CLEAN' if not leaks else 'LEAK'}: {len({leak.token for leak in leaks})} planted values found "
              f"in {len(written)} output files (times of day are kept by design)")

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
