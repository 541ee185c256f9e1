"""Subject-code formats: the common one (site number, a separator, digits) as a choice, any other as a regex.

Pure functions, no Django: the trial form builds the pattern from the choice and reads a stored
pattern back into it; the enrolment page and errors show an example code instead of a regex.
"""
from __future__ import annotations

import re

SITE = "{site}"  # stands for the site number in a pattern
# Separator -> its text in a pattern (escaped where a regex would read it otherwise).
SEPARATORS: dict[str, str] = {"-": "-", "_": "_", ".": r"\.", "/": "/", "": ""}
SEPARATOR_CHOICES = [("-", "hyphen: 101-001"), ("_", "underscore: 101_001"), (".", "full stop: 101.001"),
                     ("/", "slash: 101/001"), ("", "none: 101001")]
MAX_DIGITS = 8
_BUILT = re.compile(r"^\{site\}(?P<sep>-|_|\\\.|/|\\-|)\\d\{(?P<n>[1-9])\}$")


def build_pattern(separator: str, digits: int) -> str:
    """The pattern of site number + `separator` + `digits` digits, e.g. {site}-\\d{3}."""
    if separator not in SEPARATORS:
        raise ValueError(f"Unknown separator {separator!r}.")
    if not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"Between 1 and {MAX_DIGITS} digits.")
    return f"{SITE}{SEPARATORS[separator]}\\d{{{digits}}}"


def parse_pattern(pattern: str) -> tuple[str, int] | None:
    """(separator, digits) when `pattern` is one build_pattern makes, else None (an own regex)."""
    found = _BUILT.match(pattern)
    if not found:
        return None
    separator = {"\\.": ".", "\\-": "-"}.get(found["sep"], found["sep"])
    return separator, int(found["n"])


def example(pattern: str, site_number: str) -> str | None:
    """A code of site `site_number` that the pattern takes (e.g. 101-001), or None for an own regex."""
    parsed = parse_pattern(pattern)
    if parsed is None:
        return None
    separator, digits = parsed
    return f"{site_number}{separator}{'1'.zfill(digits)}"
