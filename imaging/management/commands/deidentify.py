"""De-identify a folder of DICOM files with the code path uploads use (site pre-scrubbing, validation)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from imaging.deid import DeidOptions, LocalContextFactory, load_local_secret
from imaging.deid.folder import iter_deidentify_folder
from imaging.deid.report import Tally, print_outcome
from imaging.intake.deid_inputs import trial_context_factory
from trials.models import Participant, Trial


class Command(BaseCommand):
    help = (
        "De-identify every DICOM file under IN_DIR into OUT_DIR/<study>/<series>/<instance>.dcm (PS3.15 Basic "
        "Profile + the trial's options). Prints per file what was refused, flagged or redacted. Exit status 1 if "
        "any file was rejected; with --strict also if an image was flagged and not redacted."
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
        parser.add_argument("--strict", action="store_true", help="exit 1 also on a flagged, unredacted image")

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
            factory = LocalContextFactory(secret=load_local_secret(options.get("secret_file")), options=DeidOptions())
        write = self.stdout.write
        started = time.perf_counter()
        tally = Tally()
        for outcome in iter_deidentify_folder(in_dir, out_dir, factory, workers=options["workers"]):
            tally.add(outcome)
            if not options["quiet"]:
                print_outcome(outcome, as_json=options["json"], write=write)
        sys.stderr.write(tally.summary(time.perf_counter() - started) + "\n")
        status = tally.exit_status(strict=options["strict"])
        if status:
            raise CommandError(
                f"{tally.counts['rejected']} file(s) rejected, {tally.review} flagged and not redacted", returncode=status
            )
