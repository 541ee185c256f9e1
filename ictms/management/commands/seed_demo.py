"""Create the demo trial DEMO-ONC-301 with a user for every role (idempotent)."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ictms.demo import USERS, DemoRefused, seed_demo

# The demo's tasks run eagerly in this process; Celery logs a line per task ("Task ... succeeded in ...").
QUIET_LOGGERS = ("celery", "celery.app.trace", "celery.task")


@contextmanager
def quiet_celery() -> Iterator[None]:
    """Keep Celery's per-task INFO lines out of the command's output (warnings and errors still show)."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Command(BaseCommand):
    help = "Create the demo trial DEMO-ONC-301, its sites, schedule, users for every role and participants."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="seed even outside development mode, DEBUG=0 (never in production)")
        parser.add_argument("--skip-images", action="store_true", help="no synthetic studies (faster; visits stay expected)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with quiet_celery():
                trial = seed_demo(force=options["force"], images=not options["skip_images"],
                                  log=lambda line: self.stdout.write("  " + line))
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Demo trial {trial.code} is ready."))
        self.stdout.write(f"Every demo user has the password: {settings.ICTMS_DEMO_PASSWORD}")
        for username, _first, _last, role, site in USERS:
            where = f" (site {site})" if site else ""
            self.stdout.write(f"  {username:<13} {role.label}{where}")
