"""QC messages are for site coordinators: plain words, series named, numbers with units, no codes,
no UIDs and no (shifted) dates. Checked on a battery of visits that together raise every finding."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace

import pytest

from imaging.qc.rules import (
    Finding,
    FindingCode,
    RequirementRules,
    Severity,
    UnreadableFile,
    VisitContext,
    evaluate_visit,
)
from tests.imaging.qc_synthetic import (
    CORONAL,
    SCAN_DATE,
    SECONDARY_CAPTURE_STORAGE,
    US_IMAGE_STORAGE,
    changed,
    series,
    stack,
    without,
)

C = FindingCode
DAY = dt.timedelta(days=1)
WINDOW = {"window_start": SCAN_DATE - 7 * DAY, "window_end": SCAN_DATE + 7 * DAY}
STRICT = RequirementRules(
    id=1, modality="CT", body_region="Chest/abdomen/pelvis", max_slice_thickness_mm=5, min_pixel_spacing_mm=0.5,
    max_pixel_spacing_mm=0.9, min_slices=50, contrast="required", min_matrix=512, min_coverage_mm=300,
    require_contiguous_slices=True,
)


def cap(number: int = 3, description: str = "CAP 5mm", **options: object):
    options.setdefault("contrast_agent", "Iohexol")
    options.setdefault("body_part", "CAP")
    return series(number, description, **options)


def battery() -> list[tuple[str, Finding]]:
    """(scenario, finding) for visits that together raise every finding code."""
    scout = stack("2.25.scout", 1, orientation=CORONAL, first_number=61)
    visits = {
        "thick and coarse": ([cap(description="CAP 7mm", thickness=7.0, pixel_spacing=(0.98, 0.98), rows=256, columns=256)], [STRICT], {}),
        "fine": ([cap(pixel_spacing=(0.3, 0.3))], [STRICT], {}),
        "unknown thickness": ([cap(thickness=None, pixel_spacing=None)], [STRICT], {}),
        "gap": ([without(cap(), 30, 31)], [STRICT], {}),
        "gap by numbers": ([without(changed(cap(), lambda i: i.instance_number == 5, image_position=None), 40)], [STRICT], {}),
        "numbering": ([cap(instances=stack("2.25.a", 30, contrast_agent="X") + stack("2.25.b", 30, start=0.0, first_number=41, contrast_agent="X"))], [STRICT], {}),
        "irregular": ([changed(cap(), lambda i: i.instance_number == 30, image_position=(-180.0, -180.0, -3.0))], [STRICT], {}),
        "duplicates": ([replace(cap(), instances=cap().instances + stack("2.25.d", 1, start=-100.0, contrast_agent="X"))], [STRICT], {}),
        "sparse": ([cap(spacing=7.5, slices=30)], [STRICT], {}),
        "short": ([cap(slices=20)], [STRICT], {}),
        "no contrast": ([cap(contrast_agent="")], [STRICT], {}),
        "venous": ([cap(description="CAP PORTAL VENOUS", contrast_agent="")], [STRICT], {}),
        "contrast": ([cap(contrast_agent="Iomeron")], [replace(STRICT, contrast="not_allowed")], {}),
        "mixed": ([changed(replace(cap(), instances=cap().instances + scout), lambda i: i.instance_number > 55, rows=256, modality="PT", readable=False)], [STRICT], {}),
        "late": ([cap(acquisition_date=SCAN_DATE + 20 * DAY)], [STRICT], {"reported_scan_date": SCAN_DATE + 18 * DAY}),
        "undated": ([cap(acquisition_date=None)], [STRICT], {}),
        "no window": ([cap()], [STRICT], {"window_start": None, "window_end": None}),
        "two studies": ([cap(), cap(4, "CAP repeat", study_uid="2.25.2000")], [STRICT], {}),
        "missing": ([series(3, "CHEST", body_part="CHEST", contrast_agent="X")], [STRICT], {}),
        "wrong": ([series(6, "T2 AX ABDOMEN", modality="MR", body_part="ABDOMEN")], [STRICT], {}),
        "extras": ([cap(), series(8, "US LIVER", modality="US", body_part="ABDOMEN", slices=2, sop_class_uid=US_IMAGE_STORAGE, burned_in_annotation="YES"),
                    series(9, "", body_part="", modality="OT", slices=1, sop_class_uid=SECONDARY_CAPTURE_STORAGE)], [STRICT],
                   {"unreadable_files": (UnreadableFile("readme.txt", "not DICOM"),)}),
    }
    found = []
    for name, (items, requirements, visit) in visits.items():
        context = VisitContext(**{**WINDOW, **visit})
        found += [(name, f) for f in evaluate_visit(items, requirements, context).findings]
    return found


BATTERY = battery()


def test_the_battery_raises_every_finding_code():
    assert {f.code for _, f in BATTERY} == set(FindingCode)


@pytest.mark.parametrize(("scenario", "finding"), BATTERY, ids=[f"{s}:{f.code}" for s, f in BATTERY])
def test_a_message_is_plain_words_for_a_site_coordinator(scenario, finding):
    message = finding.message
    assert message[0].isupper() and message.endswith("."), message
    assert "_" not in message, "no codes or identifiers"
    assert str(finding.code) not in message
    assert "2.25." not in message, "no UIDs"
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\b20[0-9]{2}\b", message), "no dates: they are shifted"
    for decimal in re.finditer(r"\d+\.\d+", message):
        assert message[decimal.end():].startswith(" mm"), f"a measurement without its unit: {message}"
    for count in re.finditer(r"\b(\d+) (?!mm\b|%|×|different\b|of\b|and\b|'|\()(\w+)", message):
        assert count.group(2).rstrip(",.") in {
            "day", "days", "slice", "slices", "image", "images", "place", "places", "file", "files", "more",
            "position", "positions", "pixels", "apart",
            "is", "are",  # "image numbers 30 and 31 are absent": identifiers, not quantities
        } or count.group(2).isdigit(), f"a number without a unit: {count.group(0)!r} in {message}"


@pytest.mark.parametrize(("scenario", "finding"), BATTERY, ids=[f"{s}:{f.code}" for s, f in BATTERY])
def test_a_series_finding_names_the_series(scenario, finding):
    if finding.series_uid is None:
        return
    assert re.match(r"(Series \d+ ('[^']+'|\(no description\))|Series '[^']+')", finding.message), finding.message


@pytest.mark.parametrize(("scenario", "finding"), BATTERY, ids=[f"{s}:{f.code}" for s, f in BATTERY])
def test_a_blocking_message_tells_the_site_what_to_do(scenario, finding):
    if finding.severity == Severity.BLOCKING:
        assert "please" in finding.message.lower(), finding.message


@pytest.mark.parametrize(("scenario", "finding"), BATTERY, ids=[f"{s}:{f.code}" for s, f in BATTERY])
def test_details_are_json_ready(scenario, finding):
    stored = json.loads(json.dumps(finding.as_dict()))
    assert stored["code"] == str(finding.code) and stored["severity"] == str(finding.severity)


def test_measured_and_expected_values_are_given_for_the_review_page():
    details = {f.code: f.details for _, f in BATTERY}
    assert details[C.SLICE_THICKNESS_EXCEEDED]["measured_mm"] == 7.0
    assert details[C.SLICE_THICKNESS_EXCEEDED]["expected_max_mm"] == 5.0
    assert details[C.SLICE_THICKNESS_EXCEEDED]["header"] == "SliceThickness"
    assert details[C.PIXEL_SPACING_OUT_OF_RANGE]["expected_max_mm"] == 0.9
    assert details[C.SCAN_DATE_OUTSIDE_WINDOW]["days_outside"] == 13
    assert details[C.TOO_FEW_SLICES] == {"measured": 20, "expected_min": 50}


def test_a_series_without_a_number_or_description_is_described_by_its_size():
    item = replace(series(None, ""), series_number=None)
    finding = evaluate_visit([item], [], VisitContext(**WINDOW)).findings[0]
    assert finding.message.startswith("A series with no number or description (60 images)")
