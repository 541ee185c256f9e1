"""De-identify a folder of DICOM files with the code path uploads use (site pre-scrubbing, validation)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from imaging.deid import LocalContextFactory, load_local_secret
from imaging.deid.folder import REJECTED, FileOutcome, deidentify_folder
from imaging.deid_context import trial_context_factory
from trials.models import Participant, Trial


class Command(BaseCommand):
    help = (
        "De-identify every DICOM file under IN_DIR into OUT_DIR/<study>/<series>/<instance>.dcm (PS3.15 Basic "
        "Profile + the trial's options). Exit status 1 if any file was rejected."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("in_dir")
        parser.add_argument("out_dir")
        parser.add_argument("--trial", help="trial code: use its secret, options and known participants (as uploads do)")
        parser.add_argument("--subject", help="with --trial: treat every file as this participant's")
        parser.add_argument("--workers", type=int, default=None, help="processes (default: every CPU)")
        parser.add_argument("--secret-file", help="without --trial: the local secret file")
        parser.add_argument("--json", action="store_true", help="one JSON line per file")
        parser.add_argument("--quiet", action="store_true", help="only the summary")

    def handle(self, *args: Any, in_dir: str, out_dir: str, **options: Any) -> None:
        if not Path(in_dir).is_dir():
            raise CommandError(f"{in_dir} is not a folder")
        if options["trial"]:
            trial = Trial.objects.filter(code=options["trial"]).first()
            if trial is None:
                raise CommandError(f"No trial {options['trial']}")
            try:
                factory = trial_context_factory(trial, options.get("subject"))
            except Participant.DoesNotExist as exc:
                raise CommandError(str(exc)) from exc
        else:
            if options.get("subject"):
                raise CommandError("--subject needs --trial")
            factory = LocalContextFactory(secret=load_local_secret(options.get("secret_file")))
        write = self.stdout.write

        def report(outcome: FileOutcome) -> None:
            if options["json"]:
                write(json.dumps({"source": outcome.source, "status": outcome.status, "reason": outcome.reason,
                                  "output": outcome.output}))
            else:
                write(f"{outcome.status:9s} {outcome.source}  {outcome.output if outcome.status == 'ok' else outcome.reason}")

        started = time.perf_counter()
        summary = deidentify_folder(in_dir, out_dir, factory, workers=options["workers"],
                                    on_outcome=None if options["quiet"] else report, keep_outcomes=False)
        elapsed = time.perf_counter() - started
        counts = ", ".join(f"{summary.counts[s]} {s}" for s in ("ok", "duplicate", "skipped", "rejected"))
        rate = summary.files / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(f"{summary.files} files: {counts} in {elapsed:.2f} s ({rate:.1f} files/s)\n")
        if summary.counts[REJECTED]:
            raise CommandError(f"{summary.counts[REJECTED]} file(s) rejected", returncode=1)
