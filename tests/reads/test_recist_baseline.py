"""Baseline measurability (§1 table) and target selection (§2) rules, and their validation messages."""

from decimal import Decimal as D

import pytest

from reads.recist import (
    Baseline,
    IssueCode,
    LesionKind,
    Measurability,
    MeasurementMethod,
    NonTargetLesion,
    TargetLesion,
    classify_baseline_finding,
    organ_key,
    reasons_target_cannot_be_added,
    selection_capacity,
    validate_baseline,
)


def target(lesion_id, mm, organ="liver", node=False, **extra):
    return TargetLesion(lesion_id, organ, node, D(str(mm)), **extra)


def codes(issues):
    return [issue.code for issue in issues]


# --- §1 measurability table, one test per row, each boundary on both sides ----------------------


@pytest.mark.parametrize(
    ("mm", "expected"),
    [
        (10, Measurability.MEASURABLE),
        ("9.9", Measurability.NON_MEASURABLE),
    ],
)
def test_non_nodal_lesion_on_thin_slices_needs_10_mm(mm, expected):
    for slice_thickness in (None, D(5)):
        verdict = classify_baseline_finding(
            is_node=False, diameter_mm=D(str(mm)), slice_thickness_mm=slice_thickness
        )
        assert verdict.measurability is expected


@pytest.mark.parametrize(
    ("mm", "expected"),
    [
        (12, Measurability.MEASURABLE),
        ("11.9", Measurability.NON_MEASURABLE),
        (10, Measurability.NON_MEASURABLE),
    ],
)
def test_non_nodal_lesion_on_slices_thicker_than_5_mm_needs_twice_the_thickness(mm, expected):
    verdict = classify_baseline_finding(
        is_node=False, diameter_mm=D(str(mm)), slice_thickness_mm=D(6)
    )
    assert verdict.measurability is expected
    assert verdict.minimum_mm == 12


@pytest.mark.parametrize(
    ("mm", "expected"),
    [
        (10, Measurability.MEASURABLE),
        ("9.5", Measurability.NON_MEASURABLE),
    ],
)
def test_superficial_lesion_with_calipers_needs_10_mm(mm, expected):
    verdict = classify_baseline_finding(
        is_node=False, diameter_mm=D(str(mm)), method=MeasurementMethod.CALIPER
    )
    assert verdict.measurability is expected


@pytest.mark.parametrize(
    ("mm", "expected"),
    [
        (20, Measurability.MEASURABLE),
        ("19.9", Measurability.NON_MEASURABLE),
    ],
)
def test_chest_xray_lesion_needs_20_mm(mm, expected):
    verdict = classify_baseline_finding(
        is_node=False, diameter_mm=D(str(mm)), method=MeasurementMethod.CHEST_XRAY
    )
    assert verdict.measurability is expected


@pytest.mark.parametrize(
    ("short_axis", "expected"),
    [
        (15, Measurability.MEASURABLE),
        ("14.9", Measurability.PATHOLOGICAL_NODE),
        (10, Measurability.PATHOLOGICAL_NODE),
        ("9.9", Measurability.NORMAL_NODE),
    ],
)
def test_lymph_node_classes_by_short_axis(short_axis, expected):
    verdict = classify_baseline_finding(is_node=True, diameter_mm=D(str(short_axis)))
    assert verdict.measurability is expected


@pytest.mark.parametrize(
    "kind",
    [
        LesionKind.EFFUSION,
        LesionKind.ASCITES,
        LesionKind.LEPTOMENINGEAL,
        LesionKind.INFLAMMATORY_BREAST,
        LesionKind.LYMPHANGITIC,
        LesionKind.NOT_REPRODUCIBLE,
        LesionKind.BLASTIC_BONE,
        LesionKind.PREVIOUSLY_TREATED,
    ],
)
def test_non_measurable_disease_is_non_target_only_whatever_its_size(kind):
    verdict = classify_baseline_finding(is_node=False, diameter_mm=D(80), kind=kind)
    assert verdict.measurability is Measurability.NON_MEASURABLE
    assert not verdict.may_be_target


@pytest.mark.parametrize(
    "kind",
    [
        LesionKind.LYTIC_BONE_WITH_SOFT_TISSUE,
        LesionKind.CYSTIC_METASTASIS,
        LesionKind.PREVIOUSLY_TREATED_PROGRESSED,
    ],
)
def test_soft_tissue_bone_cystic_and_progressed_treated_lesions_follow_the_size_rule(kind):
    assert classify_baseline_finding(is_node=False, diameter_mm=D(10), kind=kind).may_be_target
    assert not classify_baseline_finding(is_node=False, diameter_mm=D(9), kind=kind).may_be_target


def test_simple_cyst_is_not_a_lesion():
    verdict = classify_baseline_finding(
        is_node=False, diameter_mm=D(30), kind=LesionKind.SIMPLE_CYST
    )
    assert verdict.measurability is Measurability.NOT_A_LESION


def test_ultrasound_must_not_be_used_to_measure():
    verdict = classify_baseline_finding(
        is_node=False, diameter_mm=D(30), method=MeasurementMethod.ULTRASOUND
    )
    assert verdict.measurability is Measurability.NON_MEASURABLE
    assert "ultrasound" in verdict.reason


# --- §2 organs ---------------------------------------------------------------------------------


def test_all_lymph_nodes_are_one_organ():
    assert organ_key("mediastinal", True) == organ_key("left axillary", True) == "lymph nodes"
    assert organ_key("inguinal lymph node", False) == "lymph nodes"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("left lung", "right lung"),
        ("Lung", "lungs"),
        ("right lower lobe lung", "LUNG"),
        ("left kidney", "Right kidney"),
        ("kidneys", "renal"),
        ("left ovary", "ovaries"),
        ("liver segment 7", "Liver"),
        ("left adrenal", "right adrenal"),
    ],
)
def test_paired_organs_and_spellings_count_as_one_organ(a, b):
    assert organ_key(a, False) == organ_key(b, False)


def test_different_organs_stay_different():
    assert organ_key("liver", False) != organ_key("lung", False)
    assert organ_key("bone", False) != organ_key("pleura", False)
    assert organ_key("adrenal", False) != organ_key("kidney", False)


# --- validation of a baseline selection --------------------------------------------------------


def test_five_targets_are_allowed_and_six_are_not():
    organs = ["liver", "liver", "lung", "lung", "bone", "brain"]
    five = Baseline(tuple(target(f"T{i + 1}", 20, organs[i]) for i in range(5)))
    six = Baseline(tuple(target(f"T{i + 1}", 20, organs[i]) for i in range(6)))
    assert validate_baseline(five) == []
    issues = validate_baseline(six)
    assert codes(issues) == [IssueCode.TOO_MANY_TARGETS]
    assert "6 target lesions (T1, T2, T3, T4, T5, T6)" in issues[0].message


def test_two_targets_per_organ_are_allowed_and_three_are_not():
    assert validate_baseline(Baseline((target("T1", 20), target("T2", 20)))) == []
    issues = validate_baseline(Baseline((target("T1", 20), target("T2", 20), target("T3", 20))))
    assert codes(issues) == [IssueCode.TOO_MANY_TARGETS_IN_ORGAN]
    assert "3 target lesions in liver (T1, T2, T3)" in issues[0].message
    assert issues[0].lesion_id == "T3"


def test_three_nodes_in_different_regions_are_three_in_one_organ():
    baseline = Baseline(
        (
            target("N1", 20, "mediastinal", node=True),
            target("N2", 20, "axillary", node=True),
            target("N3", 20, "inguinal", node=True),
        )
    )
    issues = validate_baseline(baseline)
    assert codes(issues) == [IssueCode.TOO_MANY_TARGETS_IN_ORGAN]
    assert "all lymph nodes together count as one organ" in issues[0].message


def test_three_targets_across_both_lungs_break_the_organ_limit():
    baseline = Baseline(
        (
            target("T1", 20, "left lung"),
            target("T2", 20, "right lung"),
            target("T3", 20, "right lung"),
        )
    )
    issues = validate_baseline(baseline)
    assert codes(issues) == [IssueCode.TOO_MANY_TARGETS_IN_ORGAN]
    assert "paired organs" in issues[0].message


def test_nodal_target_needs_a_short_axis_of_15_mm():
    assert validate_baseline(Baseline((target("N1", 15, "node", node=True),))) == []
    issues = validate_baseline(Baseline((target("N1", "14.9", "node", node=True),)))
    assert codes(issues) == [IssueCode.NODAL_TARGET_TOO_SMALL]
    assert issues[0].lesion_id == "N1" and "14.9 mm" in issues[0].message


def test_non_nodal_target_needs_10_mm():
    assert validate_baseline(Baseline((target("T1", 10),))) == []
    issues = validate_baseline(Baseline((target("T1", "9.9"),)))
    assert codes(issues) == [IssueCode.TARGET_TOO_SMALL]
    assert "T1" in issues[0].message and "9.9 mm" in issues[0].message


def test_non_nodal_target_on_thick_slices_needs_twice_the_slice_thickness():
    assert validate_baseline(Baseline((target("T1", 14, slice_thickness_mm=D(7)),))) == []
    issues = validate_baseline(Baseline((target("T1", "13.9", slice_thickness_mm=D(7)),)))
    assert codes(issues) == [IssueCode.TARGET_TOO_SMALL]
    assert "slice thickness of 7 mm" in issues[0].message and "(14 mm)" in issues[0].message


def test_non_measurable_kind_cannot_be_a_target():
    issues = validate_baseline(Baseline((target("T1", 50, "pleura", kind=LesionKind.EFFUSION),)))
    assert codes(issues) == [IssueCode.TARGET_NOT_MEASURABLE]


def test_lesion_ids_must_be_unique_across_targets_and_non_targets():
    baseline = Baseline((target("L1", 20),), (NonTargetLesion("L1", "bone"),))
    assert codes(validate_baseline(baseline)) == [IssueCode.DUPLICATE_LESION_ID]


def test_baseline_without_any_disease_is_rejected():
    assert codes(validate_baseline(Baseline())) == [IssueCode.NO_BASELINE_DISEASE]


def test_non_target_only_baseline_is_valid():
    assert validate_baseline(Baseline((), (NonTargetLesion("NT1", "bone"),))) == []


# --- what the baseline page may still offer ----------------------------------------------------


def test_capacity_counts_remaining_targets_and_full_organs():
    capacity = selection_capacity(
        [
            target("T1", 20, "liver"),
            target("T2", 20, "liver"),
            target("N1", 20, "neck", node=True),
        ]
    )
    assert capacity.targets_remaining == 2
    assert capacity.full_organs == frozenset({"liver"})
    assert capacity.targets_per_organ == {"liver": 2, "lymph nodes": 1}
    assert not capacity.may_add_target("Liver segment 2", False)
    assert capacity.may_add_target("axilla", True)
    assert capacity.may_add_target("lung", False)


def test_capacity_is_exhausted_after_five_targets():
    chosen = [target(f"T{i}", 20, organ) for i, organ in enumerate(["a", "b", "c", "d", "e"])]
    capacity = selection_capacity(chosen)
    assert capacity.targets_remaining == 0
    assert not capacity.may_add_target("f", False)


def test_reasons_a_candidate_cannot_be_added_are_listed():
    selection = [target("T1", 20, "left lung"), target("T2", 20, "right lung")]
    reasons = reasons_target_cannot_be_added(target("T3", 8, "lung"), selection)
    assert len(reasons) == 2
    assert "T3 is not measurable" in reasons[0]
    assert "lung already has 2 targets" in reasons[1]
    assert reasons_target_cannot_be_added(target("T3", 20, "liver"), selection) == []
