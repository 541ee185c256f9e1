"""Plain-words pieces of QC messages: series names, millimetres, counts, lists of regions.

Messages go to site coordinators as query text, so they name series the way the site's PACS
shows them (number and description), give numbers with units, and never print a finding code,
a UID or an absolute date (dates are shifted; see imaging.qc.rules.model).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from imaging.qc.rules.model import RequirementRules, SeriesInfo
from imaging.qc.rules.vocabulary import modality_name

_REGION_ORDER = ("HEAD", "NECK", "CHEST", "ABDOMEN", "PELVIS", "SPINE", "BREAST")


def number(value: float) -> str:
    """7 -> "7.0", 0.625 -> "0.625", 0.78125 -> "0.781": at least one decimal, at most three."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def mm(value: float) -> str:
    return f"{number(value)} mm"


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def days(n: int) -> str:
    return count(n, "day")


def join(items: Sequence[str]) -> str:
    """["a"] -> "a"; ["a", "b", "c"] -> "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def examples(values: Sequence[object], total: int, limit: int = 5) -> str:
    """The first few values in words, with how many more there are."""
    shown = [str(v) for v in values[:limit]]
    rest = total - len(shown)
    return join([*shown, f"{rest} more"]) if rest > 0 else join(shown)


def series_label(series: SeriesInfo) -> str:
    """How a site finds the series in its PACS: "Series 3 'CHEST 7mm'"."""
    description = series.description.strip()
    if series.series_number is not None and description:
        return f"Series {series.series_number} '{description}'"
    if series.series_number is not None:
        return f"Series {series.series_number} (no description)"
    if description:
        return f"Series '{description}' (no series number)"
    return f"A series with no number or description ({count(len(series.instances), 'image')})"


def series_list(series: Iterable[SeriesInfo]) -> str:
    """"series 2 'CHEST' and 5 'ABD'" for a sentence that names several series."""
    labels = []
    for item in series:
        label = series_label(item)
        labels.append(label[0].lower() + label[1:])
    return join(labels)


def region_words(regions: Iterable[str]) -> str:
    """Canonical regions in head-to-toe order, in words: "chest, abdomen and pelvis"."""
    ordered = sorted(regions, key=lambda r: (_REGION_ORDER.index(r) if r in _REGION_ORDER else len(_REGION_ORDER), r))
    return join([r.lower() for r in ordered])


def requirement_label(requirement: RequirementRules) -> str:
    """"CT of the chest/abdomen/pelvis", as the trial admin named the body region."""
    region = requirement.body_region.strip()
    kind = modality_name(requirement.modality)
    if not region:
        return kind
    return f"{kind} of the {region[0].lower() + region[1:]}"
