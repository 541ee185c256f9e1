"""Rectangles of pixel data to blank, and the rules (per manufacturer, model and image size) that name them."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PIXEL_RULES_PATH", "PixelRule", "RedactionRegion", "rules_for", "shipped_rules"]

PIXEL_RULES_PATH = Path(__file__).with_name("data") / "pixel_rules.json"


@dataclass(frozen=True)
class RedactionRegion:
    """A rectangle of an image in pixels: columns x..x+width-1, rows y..y+height-1.

    `frame` is the 1-based frame number it was found on, or 0 for "every
    frame" (rules, and what QC adds); a region is blanked in every frame
    whatever its frame, because burned-in text of a cine stays in place.
    `source` is "ocr", "rule" or "qc"; `rule` names the rule or holds the
    recognised text's length and confidence for OCR (never the text itself:
    it may be the patient's name).
    """

    x: int
    y: int
    width: int
    height: int
    frame: int = 0
    source: str = "rule"
    rule: str = ""

    def __post_init__(self) -> None:
        if self.x < 0 or self.y < 0 or self.width <= 0 or self.height <= 0 or self.frame < 0:
            raise ValueError("a region needs x, y >= 0, a positive width and height and a frame >= 0")
        if self.source not in ("ocr", "rule", "qc"):
            raise ValueError("a region's source is ocr, rule or qc")

    def clipped(self, rows: int, columns: int) -> RedactionRegion | None:
        """This region inside an image of rows x columns, or None if it lies outside."""
        right, bottom = min(self.x + self.width, columns), min(self.y + self.height, rows)
        if self.x >= columns or self.y >= rows or right <= self.x or bottom <= self.y:
            return None
        return RedactionRegion(self.x, self.y, right - self.x, bottom - self.y, self.frame, self.source, self.rule)

    def as_dict(self) -> dict[str, object]:
        return {"frame": self.frame, "x": self.x, "y": self.y, "w": self.width, "h": self.height,
                "source": self.source, "rule": self.rule}


@dataclass(frozen=True)
class PixelRule:
    """Regions known to hold burned-in text on images of one device and size.

    `manufacturer` and `model` are regular expressions matched (case
    insensitive, whole value) against Manufacturer and ManufacturerModelName;
    an empty one matches anything. `rows`/`columns` of 0 match any size.
    `modality` (empty: any) is matched against Modality.
    """

    name: str
    regions: tuple[RedactionRegion, ...]
    manufacturer: str = ""
    model: str = ""
    modality: str = ""
    rows: int = 0
    columns: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        for pattern in (self.manufacturer, self.model):
            re.compile(pattern)
        if not self.name.strip() or not self.regions:
            raise ValueError("a pixel rule needs a name and at least one region")

    def matches(self, *, manufacturer: str, model: str, modality: str, rows: int, columns: int) -> bool:
        def same(pattern: str, value: str) -> bool:
            return not pattern or re.fullmatch(pattern, value.strip(), re.IGNORECASE) is not None

        return (
            same(self.manufacturer, manufacturer)
            and same(self.model, model)
            and (not self.modality or self.modality.upper() == modality.strip().upper())
            and (not self.rows or self.rows == rows)
            and (not self.columns or self.columns == columns)
        )


def _rule_from(record: dict[str, object]) -> PixelRule:
    regions = tuple(
        RedactionRegion(int(box["x"]), int(box["y"]), int(box["w"]), int(box["h"]), 0, "rule", str(record["name"]))
        for box in record["regions"]  # type: ignore[attr-defined]
    )
    return PixelRule(
        name=str(record["name"]), regions=regions, manufacturer=str(record.get("manufacturer", "")),
        model=str(record.get("model", "")), modality=str(record.get("modality", "")),
        rows=int(record.get("rows", 0)), columns=int(record.get("columns", 0)),  # type: ignore[call-overload]
    )


@functools.cache
def shipped_rules() -> tuple[PixelRule, ...]:
    """The rules of data/pixel_rules.json (read once per process)."""
    document = json.loads(PIXEL_RULES_PATH.read_text(encoding="utf-8"))
    return tuple(_rule_from(record) for record in document["rules"])


def rules_for(
    extra: tuple[PixelRule, ...], *, manufacturer: str, model: str, modality: str, rows: int, columns: int
) -> list[PixelRule]:
    """The shipped rules and the trial's own (`extra`) that match an image."""
    return [
        rule for rule in shipped_rules() + extra
        if rule.matches(manufacturer=manufacturer, model=model, modality=modality, rows=rows, columns=columns)
    ]
