"""Baseline rules: what is measurable (§1) and which targets may be chosen (§2)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .model import LesionKind, MeasurementMethod, TargetLesion
from .numbers import format_mm as _mm

MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2

NODE_MEASURABLE_SHORT_AXIS_MM = Decimal(15)
NODE_PATHOLOGICAL_SHORT_AXIS_MM = Decimal(10)
NON_NODAL_MINIMUM_MM = Decimal(10)
CHEST_XRAY_MINIMUM_MM = Decimal(20)
THIN_SLICE_LIMIT_MM = Decimal(5)

LYMPH_NODES = "lymph nodes"

# Words naming a side; "left lung" and "right lung" are one organ (§2: paired organs count once).
_LATERALITY_WORDS = frozenset({"left", "right", "bilateral", "both", "l", "r", "lt", "rt"})

# Words that identify an organ whatever else the reader wrote ("liver segment 7", "lungs").
_ORGAN_WORDS: dict[str, str] = {
    "lung": "lung",
    "lungs": "lung",
    "pulmonary": "lung",
    "liver": "liver",
    "hepatic": "liver",
    "kidney": "kidney",
    "kidneys": "kidney",
    "renal": "kidney",
    "ovary": "ovary",
    "ovaries": "ovary",
    "ovarian": "ovary",
    "adrenal": "adrenal",
    "adrenals": "adrenal",
    "breast": "breast",
    "breasts": "breast",
    "node": LYMPH_NODES,
    "nodes": LYMPH_NODES,
    "nodal": LYMPH_NODES,
    "lymph": LYMPH_NODES,
    "lymphnode": LYMPH_NODES,
    "lymphnodes": LYMPH_NODES,
}


def organ_key(organ: str, is_node: bool) -> str:
    """The organ a lesion counts against for the 2-per-organ limit (§2).

    All lymph nodes together are one organ; paired organs (lungs, kidneys, ovaries, and any
    organ named with a side) count as one organ. Other names compare case- and space-insensitively.
    """
    words = [w for w in re.split(r"[^a-z0-9]+", organ.lower()) if w]
    if is_node or any(_ORGAN_WORDS.get(w) == LYMPH_NODES for w in words):
        return LYMPH_NODES
    for word in words:
        if word in _ORGAN_WORDS:
            return _ORGAN_WORDS[word]
    return " ".join(w for w in words if w not in _LATERALITY_WORDS)


class Measurability(StrEnum):
    """How a baseline finding may be recorded (§1 table)."""

    MEASURABLE = "MEASURABLE"  # may be a target
    NON_MEASURABLE = "NON_MEASURABLE"  # non-target only
    PATHOLOGICAL_NODE = "PATHOLOGICAL_NODE"  # 10 <= SA < 15 mm: non-target only
    NORMAL_NODE = "NORMAL_NODE"  # SA < 10 mm: not recorded
    NOT_A_LESION = "NOT_A_LESION"  # simple cyst


@dataclass(frozen=True)
class FindingClassification:
    """The §1 verdict on one baseline finding, with the reason in words."""

    measurability: Measurability
    reason: str
    minimum_mm: Decimal | None = None

    @property
    def may_be_target(self) -> bool:
        return self.measurability is Measurability.MEASURABLE


_NEVER_MEASURABLE_KINDS: dict[LesionKind, str] = {
    LesionKind.EFFUSION: "effusions are non-measurable",
    LesionKind.ASCITES: "ascites is non-measurable",
    LesionKind.LEPTOMENINGEAL: "leptomeningeal disease is non-measurable",
    LesionKind.INFLAMMATORY_BREAST: "inflammatory breast disease is non-measurable",
    LesionKind.LYMPHANGITIC: "lymphangitic spread is non-measurable",
    LesionKind.NOT_REPRODUCIBLE: "a mass that cannot be measured reproducibly is non-measurable",
    LesionKind.BLASTIC_BONE: "blastic bone lesions are non-measurable",
    LesionKind.PREVIOUSLY_TREATED: (
        "a previously irradiated or locally treated lesion is non-measurable unless it has "
        "progressed since treatment"
    ),
}


def minimum_measurable_mm(
    *,
    is_node: bool,
    method: MeasurementMethod = MeasurementMethod.CT,
    slice_thickness_mm: Decimal | None = None,
) -> Decimal:
    """The smallest diameter that makes a finding measurable (§1 table).

    Nodes: 15 mm short axis. Non-nodal: 10 mm; 2 x slice thickness when CT/MRI slices are
    thicker than 5 mm; 20 mm on a chest X-ray; 10 mm with calipers.
    """
    if is_node:
        return NODE_MEASURABLE_SHORT_AXIS_MM
    if method is MeasurementMethod.CHEST_XRAY:
        return CHEST_XRAY_MINIMUM_MM
    if (
        method in (MeasurementMethod.CT, MeasurementMethod.MRI)
        and slice_thickness_mm is not None
        and slice_thickness_mm > THIN_SLICE_LIMIT_MM
    ):
        return 2 * slice_thickness_mm
    return NON_NODAL_MINIMUM_MM


def classify_baseline_finding(
    *,
    is_node: bool,
    diameter_mm: Decimal | None,
    method: MeasurementMethod = MeasurementMethod.CT,
    slice_thickness_mm: Decimal | None = None,
    kind: LesionKind = LesionKind.SOLID,
) -> FindingClassification:
    """Classify one baseline finding by the measurability table of §1.

    `diameter_mm` is the long axis for non-nodal findings and the short axis for nodes; None
    when the finding was not measured (it can then only be a non-target).
    """
    if kind is LesionKind.SIMPLE_CYST:
        return FindingClassification(Measurability.NOT_A_LESION, "a simple cyst is not a lesion")
    if kind in _NEVER_MEASURABLE_KINDS:
        return FindingClassification(Measurability.NON_MEASURABLE, _NEVER_MEASURABLE_KINDS[kind])
    if method is MeasurementMethod.ULTRASOUND:
        return FindingClassification(
            Measurability.NON_MEASURABLE, "ultrasound must not be used to measure lesions"
        )
    minimum = minimum_measurable_mm(
        is_node=is_node, method=method, slice_thickness_mm=slice_thickness_mm
    )
    if diameter_mm is None:
        return FindingClassification(Measurability.NON_MEASURABLE, "no diameter recorded", minimum)
    if is_node:
        if diameter_mm >= NODE_MEASURABLE_SHORT_AXIS_MM:
            return FindingClassification(
                Measurability.MEASURABLE, "node with short axis >= 15 mm", minimum
            )
        if diameter_mm >= NODE_PATHOLOGICAL_SHORT_AXIS_MM:
            return FindingClassification(
                Measurability.PATHOLOGICAL_NODE,
                "node with short axis 10 to < 15 mm is pathological but non-measurable",
                minimum,
            )
        return FindingClassification(
            Measurability.NORMAL_NODE, "node with short axis < 10 mm is normal", minimum
        )
    if diameter_mm >= minimum:
        return FindingClassification(
            Measurability.MEASURABLE, f"long axis >= {_mm(minimum)} mm", minimum
        )
    return FindingClassification(
        Measurability.NON_MEASURABLE, f"long axis below {_mm(minimum)} mm", minimum
    )


def classify_target(target: TargetLesion) -> FindingClassification:
    """`classify_baseline_finding` for a lesion already entered as a target."""
    return classify_baseline_finding(
        is_node=target.is_node,
        diameter_mm=target.diameter_mm,
        method=target.method,
        slice_thickness_mm=target.slice_thickness_mm,
        kind=target.kind,
    )


@dataclass(frozen=True)
class SelectionCapacity:
    """What the baseline page may still offer as targets, given the current selection (§2)."""

    targets_chosen: int
    targets_remaining: int
    targets_per_organ: dict[str, int]
    full_organs: frozenset[str]

    def organ_is_full(self, organ: str, is_node: bool) -> bool:
        return organ_key(organ, is_node) in self.full_organs

    def may_add_target(self, organ: str, is_node: bool) -> bool:
        return self.targets_remaining > 0 and not self.organ_is_full(organ, is_node)


def selection_capacity(targets: Iterable[TargetLesion]) -> SelectionCapacity:
    """How many targets may still be added and which organs are full (§2: 5 total, 2 per organ)."""
    chosen = list(targets)
    per_organ = Counter(organ_key(t.organ, t.is_node) for t in chosen)
    return SelectionCapacity(
        targets_chosen=len(chosen),
        targets_remaining=max(0, MAX_TARGETS - len(chosen)),
        targets_per_organ=dict(per_organ),
        full_organs=frozenset(o for o, n in per_organ.items() if n >= MAX_TARGETS_PER_ORGAN),
    )


def reasons_target_cannot_be_added(
    candidate: TargetLesion, selection: Sequence[TargetLesion]
) -> list[str]:
    """Why `candidate` may not join the current target selection; empty when it may (§§1-2)."""
    reasons: list[str] = []
    classification = classify_target(candidate)
    if not classification.may_be_target:
        reasons.append(f"{candidate.lesion_id} is not measurable: {classification.reason}")
    capacity = selection_capacity(selection)
    if capacity.targets_remaining == 0:
        reasons.append(f"already {MAX_TARGETS} targets: no more can be added")
    if capacity.organ_is_full(candidate.organ, candidate.is_node):
        organ = organ_key(candidate.organ, candidate.is_node)
        reasons.append(f"{organ} already has {MAX_TARGETS_PER_ORGAN} targets")
    return reasons


def baseline_sum_of_diameters(targets: Sequence[TargetLesion]) -> Decimal | None:
    """Baseline SoD: LD of non-nodal targets + SA of nodal targets (§2); None without targets."""
    if not targets:
        return None
    return sum((t.diameter_mm for t in targets), Decimal(0))
