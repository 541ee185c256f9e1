"""Matching series to imaging requirements: which series satisfies what, and what is missing or wrong."""

from __future__ import annotations

import datetime as dt

from imaging.qc.rules import (
    FindingCode,
    MatchReason,
    QcResult,
    RequirementRules,
    SeriesInfo,
    Severity,
    VisitContext,
    evaluate_visit,
)
from tests.imaging.qc_synthetic import SCAN_DATE, series

C = FindingCode
DAY = dt.timedelta(days=1)
VISIT = VisitContext(window_start=SCAN_DATE - 7 * DAY, window_end=SCAN_DATE + 7 * DAY)
CAP = RequirementRules(id=1, modality="CT", body_region="Chest/abdomen/pelvis", max_slice_thickness_mm=5)


def evaluate(*items: SeriesInfo, requirements: list[RequirementRules] | None = None) -> QcResult:
    return evaluate_visit(list(items), requirements if requirements is not None else [CAP], VISIT)


def problems(result: QcResult) -> list[str]:
    """The codes of what needs someone's attention (series not used only inform)."""
    return [str(f.code) for f in result.findings if f.severity != "info"]


def test_one_cap_series_satisfies_a_chest_abdomen_pelvis_requirement():
    result = evaluate(series(2, "CAP 5mm", body_part="CHESTABDPELVIS"))
    assert result.codes() == []
    match = result.matches[0]
    assert match.satisfied and match.regions == ("ABDOMEN", "CHEST", "PELVIS")
    assert match.candidates[0].reason == MatchReason.BODY_PART


def test_a_chest_and_an_abdomen_pelvis_series_together_satisfy_it():
    result = evaluate(series(2, "THORAX 5mm", body_part="CHEST"), series(3, "AX ABD/PEL 5mm", body_part=""))
    assert result.codes() == []
    assert len(result.matches[0].series_uids) == 2
    assert result.matches[0].candidates[1].reason == MatchReason.DESCRIPTION


def test_a_chest_series_alone_leaves_the_abdomen_and_pelvis_missing():
    result = evaluate(series(2, "CHEST 5mm", body_part="CHEST"))
    finding = next(f for f in result.findings if f.code == C.REQUIRED_SERIES_MISSING)
    assert finding.severity == Severity.BLOCKING
    assert "no series covers the abdomen and pelvis" in finding.message
    assert finding.details["missing_regions"] == ["ABDOMEN", "PELVIS"]
    assert result.matches[0].missing_regions == ("ABDOMEN", "PELVIS")
    assert not result.matches[0].satisfied


def test_nothing_received_means_the_required_series_is_missing():
    result = evaluate()
    assert result.codes() == [C.REQUIRED_SERIES_MISSING]
    assert result.findings[0].message == (
        "No CT of the chest/abdomen/pelvis was received for this visit, and the protocol requires it. Please send it."
    )


def test_an_optional_requirement_may_be_absent():
    optional = RequirementRules(id=2, modality="MR", body_region="Brain", required=False)
    result = evaluate(series(2, "CAP", body_part="CAP"), requirements=[CAP, optional])
    assert result.codes() == []
    assert not result.matches[1].satisfied


def test_an_optional_series_that_fails_is_only_a_warning():
    optional = RequirementRules(id=2, modality="CT", body_region="Chest", required=False, max_slice_thickness_mm=1)
    result = evaluate(series(2, "CHEST 5mm"), requirements=[optional])
    finding = next(f for f in result.findings if f.code == C.SLICE_THICKNESS_EXCEEDED)
    assert finding.severity == Severity.WARNING


def test_the_wrong_modality_is_blocking_and_replaces_the_missing_series_finding():
    result = evaluate(series(4, "T2 AX ABDOMEN", modality="MR", body_part="ABDOMEN"))
    assert result.codes() == [C.WRONG_MODALITY]
    finding = result.findings[0]
    assert finding.severity == Severity.BLOCKING
    assert finding.message == (
        "Series 4 'T2 AX ABDOMEN' is MRI, but the protocol requires CT of the chest/abdomen/pelvis for this visit. "
        "Please send the CT images."
    )
    assert finding.details["measured"] == "MR" and finding.details["expected"] == "CT"


def test_sending_the_right_modality_turns_the_wrong_one_into_an_extra_series():
    mr = series(4, "T2 AX ABDOMEN", modality="MR", body_part="ABDOMEN")
    result = evaluate(mr, series(2, "CAP 5mm", body_part="CAP"))
    assert result.codes() == [C.SERIES_NOT_IN_PROTOCOL]
    assert result.findings[0].severity == Severity.INFO


def test_a_modality_another_requirement_asks_for_is_not_the_wrong_modality():
    brain = RequirementRules(id=2, modality="MR", body_region="Brain")
    result = evaluate(series(4, "T1 AX", modality="MR", body_part="HEAD"), requirements=[CAP, brain])
    assert result.codes() == [C.REQUIRED_SERIES_MISSING]


def test_a_screen_capture_is_never_the_wrong_modality():
    report = series(9, "Dose Report", modality="OT", body_part="", slices=1)
    result = evaluate(report)
    assert C.WRONG_MODALITY not in result.codes()
    assert C.REQUIRED_SERIES_MISSING in result.codes()


def test_a_series_of_another_region_is_not_used_and_is_reported_as_extra():
    result = evaluate(series(5, "HEAD 5mm", body_part="HEAD"))
    assert result.codes() == [C.REQUIRED_SERIES_MISSING, C.SERIES_NOT_IN_PROTOCOL]


def test_a_series_naming_no_region_is_used_when_nothing_better_exists():
    result = evaluate(series(2, "Axial 5mm", body_part=""))
    assert result.codes() == []
    assert result.matches[0].candidates[0].reason == MatchReason.MODALITY_ONLY


def test_the_compliant_reconstruction_is_chosen_over_the_thick_one():
    thick = series(3, "CAP 7mm", body_part="CAP", thickness=7.0)
    thin = series(4, "CAP 1mm", body_part="CAP", thickness=1.0, spacing=1.0, slices=300)
    result = evaluate(thick, thin)
    assert problems(result) == []
    match = result.matches[0]
    assert match.series_uids == (thin.series_uid,)
    assert [c.failed for c in match.candidates] == [(C.SLICE_THICKNESS_EXCEEDED,), ()]
    assert "Met: series 4 'CAP 1mm'" in match.explanation
    assert "series 3 'CAP 7mm' (fails: slice thickness exceeded)" in match.explanation
    # The thick series' own findings say the same, as information: it is not used, so nothing is asked of the site.
    [note] = result.for_series(thick.series_uid)
    assert note.code == C.SLICE_THICKNESS_EXCEEDED and note.severity == "info" and note.requirement_id is None
    assert note.message.startswith("Not used for the CT of the chest/abdomen/pelvis (another series serves it): ")
    assert "Please" not in note.message


def test_a_re_upload_of_the_thin_reconstruction_removes_the_finding_by_key():
    thick = series(3, "CHEST 7mm", body_part="CAP", thickness=7.0)
    before = evaluate(thick)
    after = evaluate(thick, series(4, "CHEST 1mm", body_part="CAP", thickness=1.0, spacing=1.0, slices=300))
    fixed = {f.key for f in before.blocking} - {f.key for f in after.findings}
    assert fixed == {("slice_thickness_exceeded", "1", thick.series_uid, "")}


def test_pre_and_post_contrast_requirements_pick_different_series():
    pre = RequirementRules(id=1, modality="CT", body_region="Abdomen", contrast="not_allowed")
    post = RequirementRules(id=2, modality="CT", body_region="Abdomen", contrast="required")
    plain = series(2, "ABD", body_part="ABDOMEN")
    enhanced = series(3, "ABD", body_part="ABDOMEN", contrast_agent="Iohexol")
    result = evaluate(plain, enhanced, requirements=[post, pre])
    assert problems(result) == []
    assert [m.series_uids for m in result.matches] == [(plain.series_uid,), (enhanced.series_uid,)]


def test_a_cap_series_used_for_two_requirements_reports_a_problem_once():
    chest = RequirementRules(id=1, modality="CT", body_region="Chest", max_slice_thickness_mm=5)
    abdomen = RequirementRules(id=2, modality="CT", body_region="Abdomen", max_slice_thickness_mm=5)
    result = evaluate(series(2, "CAP", body_part="CAP", thickness=7.0), requirements=[chest, abdomen])
    assert result.codes() == [C.SLICE_THICKNESS_EXCEEDED]
    assert result.findings[0].requirement_id == 1


def test_configured_keywords_accept_a_local_word():
    requirement = RequirementRules(id=1, modality="CT", body_region="Chest/abdomen/pelvis", body_part_keywords=("TORSO",))
    result = evaluate(series(2, "TORSO 5mm", body_part="TORSO"), requirements=[requirement])
    assert result.codes() == []


def test_configured_keywords_are_the_only_words_accepted():
    requirement = RequirementRules(id=1, modality="CT", body_region="Chest", body_part_keywords=("CHEST",))
    result = evaluate(series(2, "CAP 5mm", body_part="CAP"), requirements=[requirement])
    assert C.REQUIRED_SERIES_MISSING in result.codes()


def test_a_region_outside_the_vocabulary_matches_its_own_words():
    knee = RequirementRules(id=1, modality="MR", body_region="Knee")
    result = evaluate(series(2, "PD KNEE SAG", modality="MR", body_part="KNEE"), requirements=[knee])
    assert result.codes() == []


def test_an_empty_body_region_accepts_any_series_of_the_modality():
    anything = RequirementRules(id=1, modality="PT", body_region="")
    result = evaluate(series(2, "PET WB", modality="PT", body_part=""), requirements=[anything])
    assert result.codes() == []


def test_whole_body_pet_covers_a_chest_abdomen_pelvis_requirement():
    pet = RequirementRules(id=1, modality="PT", body_region="Chest/abdomen/pelvis")
    result = evaluate(series(2, "PET AC", modality="PT", body_part="WHOLEBODY"), requirements=[pet])
    assert result.codes() == []


def test_cr_and_dx_are_both_accepted_for_an_x_ray_requirement():
    xray = RequirementRules(id=1, modality="DX", body_region="Chest")
    result = evaluate(series(2, "CHEST PA", modality="CR", body_part="CHEST", slices=1), requirements=[xray])
    assert result.codes() == []


def test_the_minimum_slice_count_is_checked_on_the_series_together():
    requirement = RequirementRules(id=1, modality="CT", body_region="Chest/abdomen/pelvis", min_slices=100)
    chest = series(2, "CHEST", body_part="CHEST", slices=60)
    rest = series(3, "ABD PELVIS", body_part="ABDOMENPELVIS", slices=60, start=150.0)
    assert evaluate(chest, rest, requirements=[requirement]).codes() == []
    short = evaluate(chest, series(3, "ABD PELVIS", body_part="ABDOMENPELVIS", slices=30, start=150.0),
                     requirements=[requirement])
    assert short.codes() == [C.TOO_FEW_SLICES]
    assert short.findings[0].series_uid is None
    assert "90 slices in total, fewer than the protocol minimum of 100" in short.findings[0].message


def test_free_text_rules_are_handed_to_the_analyst():
    requirement = RequirementRules(id=1, modality="CT", body_region="Chest", other_rules="Breath-hold at full inspiration.")
    result = evaluate(series(), requirements=[requirement])
    assert result.matches[0].manual_checks == "Breath-hold at full inspiration."


def test_a_visit_without_requirements_only_lists_the_series():
    result = evaluate(series(), requirements=[])
    assert result.codes() == [C.SERIES_NOT_IN_PROTOCOL]
    assert result.matches == ()
