"""Each automated QC rule on a synthetic series made to fail it, and the same series fixed to pass."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from imaging.qc.rules import (
    FindingCode,
    QcResult,
    RequirementRules,
    SeriesInfo,
    Severity,
    UnreadableFile,
    VisitContext,
    evaluate_visit,
    severity_policy,
)
from tests.imaging.qc_synthetic import (
    CORONAL,
    SCAN_DATE,
    SECONDARY_CAPTURE_STORAGE,
    US_IMAGE_STORAGE,
    changed,
    every,
    series,
    stack,
    without,
)

C = FindingCode
DAY = dt.timedelta(days=1)
VISIT = VisitContext(timepoint_code="W6", window_start=SCAN_DATE - 7 * DAY, window_end=SCAN_DATE + 7 * DAY)


def chest(**rules: object) -> RequirementRules:
    return RequirementRules(id=1, modality="CT", body_region="Chest", **rules)  # type: ignore[arg-type]


def evaluate(*items: SeriesInfo, requirement: RequirementRules | None = None, visit: VisitContext = VISIT,
             **overrides: str) -> QcResult:
    return evaluate_visit(list(items), [requirement or chest()], visit, severity_overrides=overrides or None)


def codes(result: QcResult) -> list[str]:
    return result.codes()


def only(result: QcResult, code: FindingCode):
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, result.findings
    return found[0]


def test_a_compliant_series_passes_every_rule():
    requirement = chest(
        max_slice_thickness_mm=5, min_pixel_spacing_mm=0.5, max_pixel_spacing_mm=0.9, min_slices=50,
        contrast="required", min_matrix=512, min_coverage_mm=300, require_contiguous_slices=True,
    )
    result = evaluate(series(contrast_agent="Iohexol"), requirement=requirement)
    assert result.findings == ()
    assert result.matches[0].satisfied


# --------------------------------------------------------------------------- slice thickness


def test_thick_slices_are_blocking_with_the_site_message():
    finding = only(evaluate(series(description="CHEST 7mm", thickness=7.0), requirement=chest(max_slice_thickness_mm=5)),
                   C.SLICE_THICKNESS_EXCEEDED)
    assert finding.severity == Severity.BLOCKING
    assert finding.message == (
        "Series 3 'CHEST 7mm': slice thickness 7.0 mm exceeds the protocol maximum of 5.0 mm. "
        "Please re-send the thin-slice reconstruction."
    )
    assert finding.details["measured_mm"] == 7.0
    assert finding.details["expected_max_mm"] == 5.0
    assert finding.requirement_id == 1


def test_exactly_the_maximum_thickness_passes():
    assert codes(evaluate(series(thickness=5.0), requirement=chest(max_slice_thickness_mm=5))) == []


def test_a_hundredth_above_the_maximum_thickness_fails():
    assert C.SLICE_THICKNESS_EXCEEDED in codes(evaluate(series(thickness=5.01), requirement=chest(max_slice_thickness_mm=5)))


def test_a_decimal_maximum_from_the_model_is_accepted():
    from decimal import Decimal

    assert codes(evaluate(series(thickness=2.5), requirement=chest(max_slice_thickness_mm=Decimal("2.50")))) == []


def test_some_thick_images_are_counted_in_the_message():
    item = changed(series(), lambda i: i.instance_number <= 10, slice_thickness=7.0)
    finding = only(evaluate(item, requirement=chest(max_slice_thickness_mm=5)), C.SLICE_THICKNESS_EXCEEDED)
    assert "10 of its 60 images have a slice thickness of up to 7.0 mm" in finding.message


def test_missing_thickness_is_a_warning_not_a_pass():
    finding = only(evaluate(series(thickness=None), requirement=chest(max_slice_thickness_mm=5)), C.SLICE_THICKNESS_MISSING)
    assert finding.severity == Severity.WARNING


def test_thickness_is_not_checked_without_a_maximum():
    assert codes(evaluate(series(thickness=10.0))) == []


# --------------------------------------------------------------------------- pixel spacing and matrix


@pytest.mark.parametrize("spacing", [(0.5, 0.5), (0.9, 0.9), (0.5, 0.9), (0.7, 0.7)])
def test_pixel_spacing_within_the_range_or_on_its_edges_passes(spacing):
    requirement = chest(min_pixel_spacing_mm=0.5, max_pixel_spacing_mm=0.9)
    assert codes(evaluate(series(pixel_spacing=spacing), requirement=requirement)) == []


def test_pixel_spacing_above_the_maximum_fails():
    requirement = chest(min_pixel_spacing_mm=0.5, max_pixel_spacing_mm=0.9)
    finding = only(evaluate(series(pixel_spacing=(0.977, 0.977)), requirement=requirement), C.PIXEL_SPACING_OUT_OF_RANGE)
    assert finding.severity == Severity.BLOCKING
    assert "pixel spacing 0.977 mm is above the protocol maximum of 0.9 mm" in finding.message
    assert "smaller field of view" in finding.message
    assert finding.details["measured_max_mm"] == 0.977


def test_pixel_spacing_below_the_minimum_fails():
    requirement = chest(min_pixel_spacing_mm=0.5)
    finding = only(evaluate(series(pixel_spacing=(0.3, 0.3)), requirement=requirement), C.PIXEL_SPACING_OUT_OF_RANGE)
    assert "below the protocol minimum of 0.5 mm" in finding.message


def test_missing_pixel_spacing_is_a_warning():
    finding = only(evaluate(series(pixel_spacing=None), requirement=chest(max_pixel_spacing_mm=1)), C.PIXEL_SPACING_MISSING)
    assert finding.severity == Severity.WARNING


def test_a_small_matrix_fails_and_the_minimum_matrix_passes():
    requirement = chest(min_matrix=512)
    finding = only(evaluate(series(rows=256, columns=256), requirement=requirement), C.MATRIX_TOO_SMALL)
    assert "256 × 256 pixels" in finding.message
    assert codes(evaluate(series(rows=512, columns=512), requirement=requirement)) == []


# --------------------------------------------------------------------------- contrast


def test_contrast_required_but_absent_is_blocking():
    finding = only(evaluate(series(contrast_agent=""), requirement=chest(contrast="required")), C.CONTRAST_MISSING)
    assert finding.severity == Severity.BLOCKING
    assert "requires contrast" in finding.message


@pytest.mark.parametrize("agent", ["NONE", "none", "N/A", " no ", "No contrast"])
def test_an_agent_written_as_none_counts_as_absent(agent):
    assert C.CONTRAST_MISSING in codes(evaluate(series(contrast_agent=agent), requirement=chest(contrast="required")))


def test_contrast_required_and_recorded_passes():
    assert codes(evaluate(series(contrast_agent="OMNIPAQUE 350"), requirement=chest(contrast="required"))) == []


def test_a_description_saying_contrast_turns_a_missing_agent_into_a_warning():
    item = series(description="CHEST PORTAL VENOUS", contrast_agent="")
    finding = only(evaluate(item, requirement=chest(contrast="required")), C.CONTRAST_UNCERTAIN)
    assert finding.severity == Severity.WARNING


def test_a_non_contrast_description_does_not_excuse_a_missing_agent():
    item = series(description="CHEST NON-CONTRAST", contrast_agent="")
    assert C.CONTRAST_MISSING in codes(evaluate(item, requirement=chest(contrast="required")))


def test_contrast_present_when_not_allowed_is_blocking_and_absent_passes():
    requirement = chest(contrast="not_allowed")
    finding = only(evaluate(series(contrast_agent="Iomeron"), requirement=requirement), C.CONTRAST_NOT_ALLOWED)
    assert "'Iomeron'" in finding.message
    assert codes(evaluate(series(contrast_agent=""), requirement=requirement)) == []


def test_contrast_suggested_when_not_allowed_is_a_warning():
    item = series(description="CHEST C+", contrast_agent="")
    assert codes(evaluate(item, requirement=chest(contrast="not_allowed"))) == [C.CONTRAST_UNCERTAIN]


def test_either_contrast_rule_checks_nothing():
    assert codes(evaluate(series(contrast_agent="Iohexol"), requirement=chest(contrast="either"))) == []


# --------------------------------------------------------------------------- gaps, spacing, positions


def test_a_gap_in_the_slices_is_blocking_and_names_the_missing_images():
    finding = only(evaluate(without(series(), 30, 31)), C.MISSING_SLICES)
    assert finding.severity == Severity.BLOCKING
    assert finding.details["missing"] == 2
    assert finding.details["missing_instance_numbers"] == [30, 31]
    assert "2 slices appear to be missing" in finding.message
    assert "image numbers 30 and 31 are absent" in finding.message


def test_the_complete_series_after_a_re_upload_has_no_gap():
    assert codes(evaluate(series())) == []


def test_missing_end_slices_are_not_a_gap_but_shorten_coverage():
    item = without(series(), 1, 2, 3)
    assert codes(evaluate(item)) == []
    assert C.COVERAGE_TOO_SHORT in codes(evaluate(item, requirement=chest(min_coverage_mm=300)))


def test_an_instance_number_gap_with_continuous_positions_is_only_a_warning():
    # Vendor numbering that jumps: positions are continuous, so nothing is really missing.
    instances = stack("2.25.a", 30) + stack("2.25.b", 30, start=-150.0 + 30 * 5.0, first_number=1031)
    item = series(instances=instances)
    finding = only(evaluate(item), C.INSTANCE_NUMBER_GAP)
    assert finding.severity == Severity.WARNING
    assert "probably complete" in finding.message
    assert finding.details["missing"] == 1000
    assert "image numbers 31, 32, 33, 34, 35 and 995 more are absent" in finding.message


def test_a_missing_position_is_a_warning_and_numbers_are_still_checked():
    item = changed(series(), lambda i: i.instance_number == 10, image_position=None)
    finding = only(evaluate(item), C.SLICE_POSITION_MISSING)
    assert finding.severity == Severity.WARNING
    assert "1 of its 60 images records no slice position" in finding.message
    assert C.MISSING_SLICES not in codes(evaluate(item))
    gap = without(item, 40)
    assert codes(evaluate(gap)) == [C.MISSING_SLICES, C.SLICE_POSITION_MISSING]
    assert only(evaluate(gap), C.MISSING_SLICES).details["missing_instance_numbers"] == [40]


def test_positions_are_not_needed_outside_cross_sectional_modalities():
    xray = series(description="CHEST PA", modality="DX", slices=1, thickness=None)
    xray = every(xray, image_position=None, image_orientation=None)
    assert codes(evaluate(xray, requirement=RequirementRules(id=1, modality="DX", body_region="Chest"))) == []


def _with_slice_moved(distance: float, tolerance: float = 0.1) -> QcResult:
    item = changed(series(), lambda i: i.instance_number == 30,
                   image_position=(-180.0, -180.0, -150.0 + 29 * 5.0 + distance))
    return evaluate(item, requirement=chest(slice_gap_tolerance=tolerance))


def test_spacing_at_the_tolerance_edge_passes():
    # Intervals of 5.5 mm and 4.5 mm around the moved slice: exactly 10 % off.
    assert codes(_with_slice_moved(0.5)) == []


def test_spacing_just_beyond_the_tolerance_is_irregular():
    finding = only(_with_slice_moved(0.6), C.IRREGULAR_SLICE_SPACING)
    assert finding.severity == Severity.BLOCKING
    assert "5.0 mm apart in most places but 4.4 mm and 5.6 mm in 2 places" in finding.message
    assert "10 %" in finding.message


def test_a_larger_tolerance_accepts_the_same_spacing():
    assert codes(_with_slice_moved(0.6, tolerance=0.2)) == []


def test_two_images_at_one_position_are_duplicate_slices():
    item = series()
    extra = stack("2.25.dup", 1, start=-150.0 + 10 * 5.0)[0]
    item = replace(item, instances=(*item.instances, extra))
    finding = only(evaluate(item), C.DUPLICATE_SLICES)
    assert finding.severity == Severity.WARNING


def test_repeated_phases_at_every_position_are_not_duplicates():
    phases = stack("2.25.p1", 60) + stack("2.25.p2", 60, first_number=61)
    result = evaluate(series(instances=phases), requirement=chest(min_slices=60))
    assert codes(result) == []
    assert result.measurements[0].slices == 60


def test_too_few_slices_fails_and_the_minimum_passes():
    requirement = chest(min_slices=50)
    finding = only(evaluate(series(slices=40), requirement=requirement), C.TOO_FEW_SLICES)
    assert "the series has 40 slices, fewer than the protocol minimum of 50" in finding.message
    assert codes(evaluate(series(slices=50), requirement=requirement)) == []


def test_coverage_exactly_the_minimum_passes_and_one_slice_less_fails():
    requirement = chest(min_coverage_mm=300)
    assert codes(evaluate(series(slices=60), requirement=requirement)) == []  # 59 × 5 mm + one 5 mm slice
    finding = only(evaluate(series(slices=59), requirement=requirement), C.COVERAGE_TOO_SHORT)
    assert "cover 295.0 mm" in finding.message


def test_slices_with_gaps_between_them_fail_when_contiguity_is_required():
    requirement = chest(require_contiguous_slices=True)
    finding = only(evaluate(series(spacing=7.5, thickness=5.0), requirement=requirement), C.SLICES_NOT_CONTIGUOUS)
    assert "leaving 2.5 mm between them unimaged" in finding.message
    assert codes(evaluate(series(spacing=5.0, thickness=5.0), requirement=requirement)) == []
    assert codes(evaluate(series(spacing=5.5, thickness=5.0), requirement=requirement)) == []  # within 10 %
    assert codes(evaluate(series(spacing=7.5, thickness=5.0))) == []  # not required


# --------------------------------------------------------------------------- consistency and readability


def test_a_scout_inside_the_series_is_a_mixed_orientation():
    scout = stack("2.25.scout", 1, orientation=CORONAL, first_number=61)
    item = series()
    item = replace(item, instances=item.instances + scout)
    finding = only(evaluate(item), C.MIXED_ORIENTATION)
    assert "2 different orientations (axial and coronal)" in finding.message
    assert C.MISSING_SLICES not in codes(evaluate(item))  # spacing checked on the axial stack


def test_mixed_orientation_is_flagged_even_on_a_series_no_requirement_uses():
    scout = stack("2.25.scout", 1, orientation=CORONAL, first_number=61, modality="MR")
    brain = series(7, "T1 BRAIN", modality="MR", body_part="HEAD")
    item = replace(brain, instances=brain.instances + scout)
    assert codes(evaluate(item, series())) == [C.MIXED_ORIENTATION, C.SERIES_NOT_IN_PROTOCOL]


def test_a_three_plane_localizer_may_mix_orientations():
    planes = stack("2.25.l1", 3, modality="MR") + stack("2.25.l2", 3, orientation=CORONAL, first_number=4, modality="MR")
    localizer = series(1, "3-Plane Loc", modality="MR", body_part="HEAD", instances=planes)
    assert codes(evaluate(localizer, series())) == [C.SERIES_NOT_IN_PROTOCOL]


def test_mixed_image_sizes_are_flagged():
    item = changed(series(), lambda i: i.instance_number > 55, rows=256, columns=256)
    finding = only(evaluate(item), C.MIXED_IMAGE_SIZE)
    assert "256 × 256 and 512 × 512 pixels" in finding.message


def test_mixed_modalities_in_one_series_are_flagged():
    item = changed(series(), lambda i: i.instance_number == 1, modality="PT")
    assert C.MIXED_MODALITY in codes(evaluate(item))


def test_unreadable_images_are_blocking_and_readable_ones_pass():
    item = changed(series(), lambda i: i.instance_number in (4, 5), readable=False)
    finding = only(evaluate(item), C.UNREADABLE_INSTANCES)
    assert finding.severity == Severity.BLOCKING
    assert "2 of its 60 images could not be read" in finding.message
    assert finding.details["instance_numbers"] == [4, 5]


def test_unreadable_files_are_reported_for_the_visit():
    visit = VisitContext(window_start=VISIT.window_start, window_end=VISIT.window_end,
                         unreadable_files=(UnreadableFile("scan_notes.pdf", "not DICOM"),))
    finding = only(evaluate(series(), visit=visit), C.UNREADABLE_FILES)
    assert finding.series_uid is None
    assert "'scan_notes.pdf'" in finding.message


# --------------------------------------------------------------------------- dates and studies


def test_a_scan_after_the_window_is_blocking_and_says_by_how_many_days():
    item = series(acquisition_date=SCAN_DATE + 19 * DAY)
    finding = only(evaluate(item), C.SCAN_DATE_OUTSIDE_WINDOW)
    assert finding.severity == Severity.BLOCKING
    assert "acquired 12 days after the window of visit W6 closed" in finding.message
    assert finding.series_uid is None and finding.study_uid == "2.25.1000"
    assert finding.details["days_outside"] == 12


def test_a_scan_before_the_window_fails():
    finding = only(evaluate(series(acquisition_date=SCAN_DATE - 8 * DAY)), C.SCAN_DATE_OUTSIDE_WINDOW)
    assert "1 day before the window of visit W6 opened" in finding.message


@pytest.mark.parametrize("offset", [-7, 0, 7])
def test_a_scan_inside_the_window_or_on_its_edges_passes(offset):
    assert codes(evaluate(series(acquisition_date=SCAN_DATE + offset * DAY))) == []


def test_an_open_ended_window_checks_only_its_known_side():
    visit = VisitContext(window_start=SCAN_DATE)
    assert codes(evaluate(series(acquisition_date=SCAN_DATE + 400 * DAY), visit=visit)) == []
    assert codes(evaluate(series(acquisition_date=SCAN_DATE - DAY), visit=visit)) == [C.SCAN_DATE_OUTSIDE_WINDOW]


def test_the_study_date_is_used_when_images_have_no_acquisition_date():
    item = series(acquisition_date=None)
    item = replace(item, study_date=SCAN_DATE + 30 * DAY)
    assert codes(evaluate(item)) == [C.SCAN_DATE_OUTSIDE_WINDOW]


def test_no_date_at_all_is_a_warning():
    finding = only(evaluate(series(acquisition_date=None)), C.SCAN_DATE_MISSING)
    assert finding.severity == Severity.WARNING


def test_an_unknown_window_is_only_information():
    finding = only(evaluate(series(), visit=VisitContext()), C.VISIT_WINDOW_UNKNOWN)
    assert finding.severity == Severity.INFO


def test_a_reported_scan_date_that_differs_from_the_header_is_a_warning():
    visit = VisitContext(window_start=VISIT.window_start, window_end=VISIT.window_end, reported_scan_date=SCAN_DATE + 3 * DAY)
    finding = only(evaluate(series(), visit=visit), C.SCAN_DATE_MISMATCH)
    assert finding.severity == Severity.WARNING
    assert "3 days later than the date recorded in the images" in finding.message
    tolerant = VisitContext(window_start=VISIT.window_start, window_end=VISIT.window_end,
                            reported_scan_date=SCAN_DATE + 3 * DAY, scan_date_tolerance_days=3)
    assert codes(evaluate(series(), visit=tolerant)) == []
    same = VisitContext(window_start=VISIT.window_start, window_end=VISIT.window_end, reported_scan_date=SCAN_DATE)
    assert codes(evaluate(series(), visit=same)) == []


def test_a_scan_just_past_midnight_keeps_its_start_date():
    item = changed(series(), lambda i: i.instance_number > 50, acquisition_date=VISIT.window_end + DAY)
    item = changed(item, lambda i: True, study_uid="2.25.1000")
    visit = VisitContext(window_start=VISIT.window_start, window_end=SCAN_DATE)
    assert codes(evaluate(item, visit=visit)) == []


def test_two_studies_in_one_visit_are_blocking_unless_allowed():
    first = series(3, "CHEST 5mm")
    second = series(4, "CHEST 5mm again", study_uid="2.25.2000", acquisition_date=SCAN_DATE + 2 * DAY)
    finding = only(evaluate(first, second), C.MULTIPLE_STUDIES)
    assert finding.severity == Severity.BLOCKING
    assert "2 different scan sessions" in finding.message and "2 days apart" in finding.message
    assert "series 3 'CHEST 5mm'" in finding.message and "series 4 'CHEST 5mm again'" in finding.message
    assert codes(evaluate(first, second, requirement=chest(allow_multiple_studies=True))) == []
    assert codes(evaluate(first, series(4, "CHEST 5mm again"))) == []  # same study


# --------------------------------------------------------------------------- burned-in annotation


def ultrasound(burned_in: str | None = "YES", sop_class: str = US_IMAGE_STORAGE) -> SeriesInfo:
    return series(5, "US LIVER", modality="US", body_part="ABDOMEN", slices=3, thickness=None,
                  burned_in_annotation=burned_in, sop_class_uid=sop_class)


US_LIVER = RequirementRules(id=2, modality="US", body_region="Liver")


def test_declared_burned_in_ultrasound_is_flagged_for_qc_review():
    finding = only(evaluate(ultrasound("YES"), requirement=US_LIVER), C.BURNED_IN_ANNOTATION)
    assert finding.severity == Severity.WARNING
    assert "text is burned into the pixels" in finding.message
    assert "QC analyst will review" in finding.message


def test_ultrasound_marked_no_is_still_flagged_as_possible():
    finding = only(evaluate(ultrasound("NO"), requirement=US_LIVER), C.BURNED_IN_ANNOTATION_POSSIBLE)
    assert "ultrasound images usually have text burned into the pixels" in finding.message


def test_a_secondary_capture_is_flagged_as_possible():
    item = series(7, "DOSE REPORT", body_part="", slices=1, sop_class_uid=SECONDARY_CAPTURE_STORAGE, burned_in_annotation=None)
    finding = only(evaluate(series(), item), C.BURNED_IN_ANNOTATION_POSSIBLE)
    assert "screen captures" in finding.message


def test_a_ct_without_burned_in_text_is_not_flagged():
    assert C.BURNED_IN_ANNOTATION not in codes(evaluate(series()))
    assert C.BURNED_IN_ANNOTATION_POSSIBLE not in codes(evaluate(series()))


def test_a_de_identification_flag_alone_is_enough():
    item = replace(series(), flags=frozenset({"burned_in_annotation"}))
    assert codes(evaluate(item)) == [C.BURNED_IN_ANNOTATION]


def test_a_trial_can_make_burned_in_annotation_blocking():
    result = evaluate(ultrasound("YES"), requirement=US_LIVER, burned_in_annotation="blocking")
    assert only(result, C.BURNED_IN_ANNOTATION).severity == Severity.BLOCKING


def test_an_invalid_override_is_refused():
    with pytest.raises(ValueError, match="no_such_rule"):
        severity_policy({"no_such_rule": "blocking"})
    with pytest.raises(ValueError, match="fatal"):
        severity_policy({"burned_in_annotation": "fatal"})


def test_every_code_has_a_default_severity():
    assert set(severity_policy()) == set(FindingCode)


def test_every_code_has_a_query_category_the_query_model_knows():
    from imaging.qc.rules import QUERY_CATEGORY

    known = {"missing_images", "acquisition", "image_quality", "scan_date", "identity", "burned_in", "other"}
    assert set(QUERY_CATEGORY) == set(FindingCode)
    assert set(QUERY_CATEGORY.values()) <= known
