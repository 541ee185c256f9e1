"""Command line: python -m imaging.deid IN_DIR OUT_DIR — de-identify a folder outside any trial.

This is the same code path as `manage.py deidentify` without --trial (which
runs this module directly, without starting Django): the subject code and
the date and time shift of each patient are derived from a local secret (see
context.load_local_secret), so two runs with the same secret give the same
output. Prints one line per file (unless --quiet): what was refused and why,
what was flagged as possibly carrying burned-in text and whether it was
redacted; then a summary. The exit status is 1 when a file was refused, and
with --strict also when an image was flagged and not redacted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .context import DeidOptions, LocalContextFactory, load_local_secret
from .folder import iter_deidentify_folder
from .report import Tally, print_outcome


def build_parser(prog: str = "python -m imaging.deid") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("in_dir", help="folder to read (nested folders, a CD export with DICOMDIR)")
    parser.add_argument("out_dir", help="folder to write: OUT_DIR/<study>/<series>/<instance>.dcm")
    parser.add_argument("--workers", type=int, default=None, help="processes to use (default: every CPU)")
    parser.add_argument("--secret-file", default=None, help="local secret file (default: ~/.config/ictms/deid-secret)")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file instead of text")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 also when an image may carry burned-in text and was not redacted")
    parser.add_argument("--descriptors", choices=("vocabulary", "clean"), default="vocabulary",
                        help="descriptor policy (default: vocabulary)")
    parser.add_argument("--keep-times", action="store_true", help="keep times of day (dates still move by whole days)")
    parser.add_argument("--no-clean-pixels", action="store_true", help="do not search or blank burned-in text")
    parser.add_argument("--subject", help=argparse.SUPPRESS)  # manage.py's option, meaningful with --trial only
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m imaging.deid") -> int:
    parser = build_parser(prog)
    arguments = parser.parse_args(argv)
    if arguments.subject:
        parser.error("--subject needs --trial")
    options = DeidOptions(descriptor_policy=arguments.descriptors, keep_times=arguments.keep_times,
                          clean_pixel_data=not arguments.no_clean_pixels)
    factory = LocalContextFactory(secret=load_local_secret(arguments.secret_file), options=options)
    started = time.perf_counter()
    tally = Tally()
    write = sys.stdout.write
    for outcome in iter_deidentify_folder(arguments.in_dir, arguments.out_dir, factory, workers=arguments.workers):
        tally.add(outcome)
        if not arguments.quiet:
            print_outcome(outcome, as_json=arguments.json, write=lambda text: write(text + "\n"))
    sys.stdout.flush()
    print(tally.summary(time.perf_counter() - started), file=sys.stderr)
    return tally.exit_status(strict=arguments.strict)


if __name__ == "__main__":
    sys.exit(main())
