"""Command line: python -m imaging.deid IN_DIR OUT_DIR — de-identify a folder outside any trial.

This is the same code path as `manage.py deidentify` without --trial: the
subject code and the date shift of each patient are derived from a local
secret (see context.load_local_secret), so two runs with the same secret
give the same output. Prints one line per file (unless --quiet) and a
summary; the exit status is 1 when a file was rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Sequence

from .context import LocalContextFactory, load_local_secret
from .folder import REJECTED, FileOutcome, deidentify_folder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m imaging.deid", description=__doc__.splitlines()[0])
    parser.add_argument("in_dir", help="folder to read (nested folders, a CD export with DICOMDIR)")
    parser.add_argument("out_dir", help="folder to write: OUT_DIR/<study>/<series>/<instance>.dcm")
    parser.add_argument("--workers", type=int, default=None, help="processes to use (default: every CPU)")
    parser.add_argument("--secret-file", default=None, help="local secret file (default: ~/.config/ictms/deid-secret)")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file instead of text")
    return parser


def _print_outcome(outcome: FileOutcome, as_json: bool) -> None:
    if as_json:
        record = {
            "source": outcome.source, "status": outcome.status, "reason": outcome.reason, "output": outcome.output
        }
        print(json.dumps(record), flush=False)
    else:
        detail = outcome.output if outcome.status == "ok" else outcome.reason
        print(f"{outcome.status:9s} {outcome.source}  {detail}", flush=False)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    factory = LocalContextFactory(secret=load_local_secret(arguments.secret_file))
    started = time.perf_counter()
    callback = None if arguments.quiet else (lambda outcome: _print_outcome(outcome, arguments.json))
    summary = deidentify_folder(
        arguments.in_dir, arguments.out_dir, factory,
        workers=arguments.workers, on_outcome=callback, keep_outcomes=False,
    )
    elapsed = time.perf_counter() - started
    counts = ", ".join(f"{summary.counts[status]} {status}" for status in ("ok", "duplicate", "skipped", "rejected"))
    rate = summary.files / elapsed if elapsed > 0 else 0.0
    print(f"{summary.files} files: {counts} in {elapsed:.2f} s ({rate:.1f} files/s)", file=sys.stderr)
    return 1 if summary.counts[REJECTED] else 0


if __name__ == "__main__":
    sys.exit(main())
