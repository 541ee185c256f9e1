"""The RECIST 1.1 vocabulary: lesions, follow-up entries, responses and protocol settings.

Enum values are the exact strings of the case-file format (`recist-cases-format.md`); section
numbers (§) refer to the rulebook `recist-1.1.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, StrEnum
from fractions import Fraction
from typing import TypeAlias


class TargetResponse(StrEnum):
    """Target lesion response at one timepoint (§4.2); NA when there are no targets (§7.2)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NA = "NA"


class NonTargetResponse(StrEnum):
    """Non-target response at one timepoint (§5)."""

    CR = "CR"
    NON_CR_NON_PD = "NON_CR_NON_PD"
    PD = "PD"
    NE = "NE"
    NA = "NA"


class OverallResponse(StrEnum):
    """Overall timepoint response (§7) and best overall response (§8)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    NON_CR_NON_PD = "NON_CR_NON_PD"
    PD = "PD"
    NE = "NE"


class NonTargetStatus(StrEnum):
    """What the reader records for one non-target lesion at a follow-up (§5)."""

    PRESENT = "PRESENT"
    ABSENT = "ABSENT"  # gone; for a node: short axis < 10 mm
    UNEQUIVOCAL_PD = "UNEQUIVOCAL_PD"
    NOT_EVALUATED = "NOT_EVALUATED"


class NewLesions(StrEnum):
    """New-lesion status of a follow-up (§6)."""

    NO = "NO"
    YES = "YES"  # unequivocal
    EQUIVOCAL = "EQUIVOCAL"


class TooSmall(Enum):
    """The "present but too small to measure" entry of a target (§3); counts as 5 mm by default."""

    TOO_SMALL = "TOO_SMALL"


TOO_SMALL = TooSmall.TOO_SMALL

# A follow-up target entry: millimetres (0 = disappeared), TOO_SMALL, or None = not assessed (§3).
TargetValue: TypeAlias = Decimal | TooSmall | None


class MeasurementMethod(StrEnum):
    """How a lesion was measured at baseline (§1); CT is the reference method."""

    CT = "CT"
    MRI = "MRI"
    CALIPER = "CALIPER"  # superficial lesion, clinical examination
    CHEST_XRAY = "CHEST_XRAY"
    ULTRASOUND = "ULTRASOUND"  # must not be used to measure


class LesionKind(StrEnum):
    """What a baseline finding is, for the measurability table of §1."""

    SOLID = "SOLID"
    EFFUSION = "EFFUSION"
    ASCITES = "ASCITES"
    LEPTOMENINGEAL = "LEPTOMENINGEAL"
    INFLAMMATORY_BREAST = "INFLAMMATORY_BREAST"
    LYMPHANGITIC = "LYMPHANGITIC"
    NOT_REPRODUCIBLE = "NOT_REPRODUCIBLE"
    LYTIC_BONE_WITH_SOFT_TISSUE = "LYTIC_BONE_WITH_SOFT_TISSUE"
    BLASTIC_BONE = "BLASTIC_BONE"
    SIMPLE_CYST = "SIMPLE_CYST"
    CYSTIC_METASTASIS = "CYSTIC_METASTASIS"
    PREVIOUSLY_TREATED = "PREVIOUSLY_TREATED"
    PREVIOUSLY_TREATED_PROGRESSED = "PREVIOUSLY_TREATED_PROGRESSED"


class AdjudicationTrigger(StrEnum):
    """Reader-discordance triggers of §10.4 (options A-D)."""

    BEST_OVERALL_RESPONSE = "BEST_OVERALL_RESPONSE"  # A
    PROGRESSION = "PROGRESSION"  # B: progression status or progression timepoint
    FIRST_RESPONSE = "FIRST_RESPONSE"  # C: timepoint of first CR/PR
    TIMEPOINT_RESPONSE = "TIMEPOINT_RESPONSE"  # D: overall response at any timepoint


@dataclass(frozen=True)
class TargetLesion:
    """A baseline target: long axis for non-nodal lesions, short axis for nodes (§2)."""

    lesion_id: str
    organ: str
    is_node: bool
    diameter_mm: Decimal
    slice_thickness_mm: Decimal | None = None
    method: MeasurementMethod = MeasurementMethod.CT
    kind: LesionKind = LesionKind.SOLID


@dataclass(frozen=True)
class NonTargetLesion:
    """A baseline non-target record; never measured (§2)."""

    lesion_id: str
    organ: str = ""
    is_node: bool = False


@dataclass(frozen=True)
class Baseline:
    """One reader's baseline selection, fixed for the whole study (§2)."""

    targets: tuple[TargetLesion, ...] = ()
    non_targets: tuple[NonTargetLesion, ...] = ()

    @property
    def has_target_disease(self) -> bool:
        """Table 1 applies with targets, Table 2 without (§7)."""
        return bool(self.targets)

    @property
    def lesion_ids(self) -> tuple[str, ...]:
        return tuple(t.lesion_id for t in self.targets) + tuple(
            n.lesion_id for n in self.non_targets
        )


@dataclass(frozen=True)
class FollowUp:
    """One reader's entry for one follow-up timepoint; `weeks` is the time since baseline."""

    weeks: Decimal
    targets: Mapping[str, TargetValue] = field(default_factory=dict)
    non_targets: Mapping[str, NonTargetStatus] = field(default_factory=dict)
    new_lesions: NewLesions = NewLesions.NO


DEFAULT_ADJUDICATION_TRIGGERS = frozenset(
    {AdjudicationTrigger.BEST_OVERALL_RESPONSE, AdjudicationTrigger.PROGRESSION}
)


@dataclass(frozen=True)
class RecistConfig:
    """The protocol/charter choices of §11, with the shipped defaults.

    Both best overall responses (with and without confirmation) are always computed;
    `confirmation_required` only says which one the protocol reports and adjudicates on.
    """

    confirmation_required: bool = False
    # §8.2: the confirming timepoint is at least this long after the one it confirms (inclusive).
    confirmation_min_weeks: Decimal = Decimal(4)
    # §8: SD (and Non-CR/Non-PD) counts for BOR only at or after this time from baseline.
    sd_min_weeks: Decimal = Decimal(6)
    # §11: visit window tolerance, subtracted from the SD minimum.
    visit_window_weeks: Decimal = Decimal(0)
    # §8.2: an NE between a response and its confirmation does not break it; an SD does.
    intervening_ne_allowed: bool = True
    intervening_sd_allowed: bool = False
    # §4.2 evaluation order: CR (all nodes < 10 mm) is checked before PD.
    cr_check_before_pd: bool = True
    # §8: "by our default, Non-CR/Non-PD" is held to the SD minimum as well.
    sd_min_applies_to_non_cr_non_pd: bool = True
    # §3: the value a TOO_SMALL target counts as.
    too_small_mm: Decimal = Decimal(5)
    # §10.4 and §10.3 step 4 (used by the reads workflow, not by the response arithmetic).
    adjudication_triggers: frozenset[AdjudicationTrigger] = DEFAULT_ADJUDICATION_TRIGGERS
    global_rereview: bool = False


@dataclass(frozen=True)
class TimepointAssessment:
    """Everything the engine derives for one follow-up (§§3-7).

    `sum_mm` is None whenever any target is missing; `measured_sum_mm` is then the sum of the
    measured targets, used only for the PD test (§3 conventions, §4.2 step 1).
    """

    index: int
    followup: FollowUp
    baseline_sum_mm: Decimal | None
    sum_mm: Decimal | None
    measured_sum_mm: Decimal | None
    missing_targets: tuple[str, ...]
    nadir_mm: Decimal | None
    pct_change_from_baseline: Fraction | None
    pct_change_from_nadir: Fraction | None
    target_response: TargetResponse
    non_target_response: NonTargetResponse
    overall_response: OverallResponse

    @property
    def weeks(self) -> Decimal:
        return self.followup.weeks

    @property
    def new_lesions(self) -> NewLesions:
        return self.followup.new_lesions


@dataclass(frozen=True)
class ParticipantAssessment:
    """The per-participant results of §§8-9 over all of one reader's follow-ups.

    `progression_index` is the timepoint the progression is dated to (the first scan of a
    confirmed equivocal new lesion when back-dated); `progression_declared_index` is the
    timepoint at which PD was first called.
    """

    baseline: Baseline
    config: RecistConfig
    baseline_sum_mm: Decimal | None
    timepoints: tuple[TimepointAssessment, ...]
    best_overall_response_unconfirmed: OverallResponse
    best_overall_response_confirmed: OverallResponse
    progression_weeks: Decimal | None
    progression_index: int | None
    progression_declared_index: int | None

    @property
    def best_overall_response(self) -> OverallResponse:
        """The BOR the protocol reports: confirmed only when the protocol requires confirmation."""
        if self.config.confirmation_required:
            return self.best_overall_response_confirmed
        return self.best_overall_response_unconfirmed

    @property
    def progression_is_backdated(self) -> bool:
        return (
            self.progression_index is not None
            and self.progression_declared_index is not None
            and self.progression_index != self.progression_declared_index
        )
