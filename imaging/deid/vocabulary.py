"""The "vocabulary" descriptor policy: a descriptor keeps only imaging words, numbers and units.

Scrubbing removes the identity values the engine was told about; a name
nobody told it about (a researcher's in StudyDescription) would pass. Under
this policy every token of a descriptor that is not in data/vocabulary.txt,
not a number (optionally with a unit or an ordinal suffix) and not a short
scanner code (one to three letters, digits, at most two more letters and
digits: "B30f", "FC13", "T1", "tfl3d1", "B800") becomes "*". Tokens are runs
of letters and digits (a decimal number is one token); everything between
tokens (spaces, "_", "^", "+", "/", ...) is kept as written, so
"AX_T1_POST GAD Dr Smith" becomes "AX_T1_POST GAD * *".
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

__all__ = ["VOCABULARY_PATH", "is_vocabulary_token", "restrict_to_vocabulary", "vocabulary"]

VOCABULARY_PATH = Path(__file__).with_name("data") / "vocabulary.txt"
MASK = "*"

_TOKEN = re.compile(r"\d+(?:[.,]\d+)?[^\W_]*|[^\W_]+")
_NUMBER_WITH_SUFFIX = re.compile(r"(\d+(?:[.,]\d+)?)([^\W\d_]*)")
_SCANNER_CODE = re.compile(r"[A-Za-z]{1,3}\d{1,4}[A-Za-z]{0,2}\d{0,2}")
_ORDINALS = frozenset({"ST", "ND", "RD", "TH", "X", "D"})  # 1st, 2nd, 3rd, 4th, 2x, 3D
# Units after a number ("200mA", "5s"): allowed there even when the letters alone are not a vocabulary
# word ("MA" is also a surname, so it is not one).
_UNITS = frozenset({"MA", "MAS", "KV", "KVP", "MM", "CM", "M", "S", "MS", "SEC", "MIN", "H", "HR", "T", "HZ", "KHZ",
                    "MHZ", "DEG", "ML", "MG", "MBQ", "MCI", "GBQ", "MSV", "MGY", "GY", "CGY", "KEV", "MEV", "BPM",
                    "FPS", "DB", "CC", "G", "KG"})


@functools.cache
def vocabulary() -> frozenset[str]:
    """The words of data/vocabulary.txt, upper case (read once per process)."""
    words = set()
    for number, raw_line in enumerate(VOCABULARY_PATH.read_text(encoding="utf-8").splitlines(), 1):
        word = raw_line.split("#", 1)[0].strip()
        if not word:
            continue
        if not re.fullmatch(r"[A-Z0-9]+", word):
            raise ValueError(f"vocabulary.txt line {number}: {word!r} is not an upper-case token")
        words.add(word)
    return frozenset(words)


def is_vocabulary_token(token: str) -> bool:
    """Whether a descriptor token may stay under the vocabulary policy."""
    upper = token.upper()
    words = vocabulary()
    if upper in words:
        return True
    if len(token) == 1 and token.isalpha():
        return True  # orientation letters, "C" for contrast, "W/O"
    number = _NUMBER_WITH_SUFFIX.fullmatch(token)
    if number is not None:
        suffix = number[2].upper()
        return not suffix or suffix in words or suffix in _ORDINALS or suffix in _UNITS
    return _SCANNER_CODE.fullmatch(token) is not None


def _masked(match: re.Match[str]) -> str:
    token = match[0]
    return token if is_vocabulary_token(token) else MASK


@functools.lru_cache(maxsize=4096)  # descriptors repeat in every file of a series
def restrict_to_vocabulary(text: str) -> str:
    """Return `text` with every token that is not imaging vocabulary, a number or a code replaced by "*"."""
    return _TOKEN.sub(_masked, text)
