#!/usr/bin/env python
"""Django's command-line utility for ICTMS."""
import os
import sys


def main() -> None:
    arguments = sys.argv[1:]
    if arguments[:1] == ["deidentify"] and not any(arg == "--trial" or arg.startswith("--trial=") for arg in arguments):
        # A folder run outside any trial needs no database: the pure engine's
        # command line does the same without Django's start-up (~1 s).
        from imaging.deid.__main__ import main as deidentify

        sys.exit(deidentify(arguments[1:], prog="manage.py deidentify"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ictms.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
