"""The package input model: link IDs, tracking UIDs, study days, engine mapping and every refusal of contradictory input."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal as D

import pytest

from reads.package.model import (
    Adjudication,
    ImageRef,
    Lesion,
    LesionKind,
    Observation,
    ObservationStatus,
    PackageInputError,
    lesion_link_id,
    results_from_assessment,
    tracking_uid,
    validate_trial,
)
from reads.package.sdtm import study_day
from reads.recist import Baseline, FollowUp, OverallResponse, TargetLesion, assess_participant
from tests.reads.package_trial import build_trial

IMAGE = ImageRef("1.2.3", "1.2.3.4", "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5")


@pytest.fixture(scope="module")
def trial():
    return build_trial()[0]


def test_link_ids_carry_the_slot_and_a_two_digit_lesion_number():
    assert lesion_link_id(1, "T1") == "R1-T01"
    assert lesion_link_id(2, "NT3") == "R2-NT03"
    assert lesion_link_id(1, "n12") == "R1-N12"


def test_tracking_uid_depends_only_on_trial_subject_and_link_id():
    uid = tracking_uid("ONC-301", "ONC-301-101-001", "R1-T01")
    assert uid == tracking_uid("ONC-301", "ONC-301-101-001", "R1-T01")
    assert uid != tracking_uid("ONC-301", "ONC-301-101-001", "R2-T01")
    assert uid.startswith("2.25.") and len(uid) <= 64
    # 2.25 UIDs are a UUID's integer: at most 128 bits.
    assert int(uid.removeprefix("2.25.")) < 2**128


@pytest.mark.parametrize(("day", "expected"), [
    (date(2024, 3, 5), 1), (date(2024, 3, 6), 2), (date(2024, 3, 4), -1), (date(2024, 3, 1), -4), (None, None),
])
def test_study_day_has_no_day_zero(day, expected):
    assert study_day(day, date(2024, 3, 5)) == expected


def test_results_from_assessment_maps_the_engine_output_onto_visitnums():
    """Baseline 50 mm; week 8 30 mm: -40.0 % PR; week 16 70 mm: +133.3 % from the nadir, PD."""
    assessment = assess_participant(
        Baseline((TargetLesion("T1", "liver", False, D(50)),)),
        [FollowUp(D(8), {"T1": D(30)}), FollowUp(D(16), {"T1": D(70)})],
    )
    results, best, progression = results_from_assessment(assessment, baseline_visitnum=10, followup_visitnums=[20, 30])
    assert [(r.visitnum, r.sum_mm, r.overall) for r in results] == [
        (D(10), D(50), None), (D(20), D(30), OverallResponse.PR), (D(30), D(70), OverallResponse.PD)]
    assert results[1].change_from_baseline_pct == D("-40.0")
    assert results[2].change_from_nadir_pct == D("133.3")
    assert (best, progression) == (OverallResponse.PR, D(30))
    with pytest.raises(PackageInputError, match="2 assessed follow-ups but 1"):
        results_from_assessment(assessment, baseline_visitnum=10, followup_visitnums=[20])


def test_the_generated_trial_is_valid(trial):
    validate_trial(trial)


def _with_subject(trial, index, **changes):
    subjects = list(trial.subjects)
    subjects[index] = dataclasses.replace(subjects[index], **changes)
    return dataclasses.replace(trial, subjects=tuple(subjects))


def _with_read(trial, index, slot, **changes):
    subject = trial.subjects[index]
    reads = tuple(dataclasses.replace(r, **changes) if r.slot == slot else r for r in subject.reads)
    return _with_subject(trial, index, reads=reads)


def test_two_accepted_reads_at_one_timepoint_are_refused(trial):
    both = _with_read(trial, 2, 2, accepted_visitnums=frozenset({D(1)}))
    with pytest.raises(PackageInputError, match=r"subject 102-001, VISITNUM 1: 2 accepted reads"):
        validate_trial(both)


def test_a_timepoint_without_an_accepted_read_is_refused(trial):
    none = _with_read(trial, 2, 1, accepted_visitnums=frozenset({D(1)}))
    with pytest.raises(PackageInputError, match=r"VISITNUM 2: 0 accepted reads"):
        validate_trial(none)


def test_the_accepted_read_must_be_the_one_the_adjudicator_selected(trial):
    wrong = _with_subject(trial, 0, adjudication=Adjudication(1, D(3), "measurement"))
    with pytest.raises(PackageInputError, match="adjudicator selected RADIOLOGIST 1 but RADIOLOGIST 2 is accepted"):
        validate_trial(wrong)


def test_a_single_read_cannot_be_adjudicated(trial):
    with pytest.raises(PackageInputError, match="not a read of a double-read case"):
        validate_trial(_with_subject(trial, 1, adjudication=Adjudication(1, D(2), "measurement")))


def _add_observation(trial, observation, lesion=None):
    read = trial.subjects[1].reads[0]
    lesions = read.lesions + ((lesion,) if lesion else ())
    return _with_read(trial, 1, 1, lesions=lesions, observations=(*read.observations, observation))


@pytest.mark.parametrize(("observation", "lesion", "message"), [
    (Observation("Y", 2, ObservationStatus.TOO_SMALL), Lesion("Y", "NT2", LesionKind.NON_TARGET, "bone"),
     "too_small does not apply to a non_target"),
    (Observation("nobody", 2, ObservationStatus.PRESENT), None, "unknown lesion 'nobody'"),
    (Observation("101-002-1-NT1", 7, ObservationStatus.PRESENT), None, "no such timepoint"),
    (Observation("101-002-1-NT1", 2, ObservationStatus.ABSENT), None, "observed twice"),
    (Observation("X", 2, ObservationStatus.MEASURED, long_axis_mm=D(12)), Lesion("X", "T2", LesionKind.TARGET, "lung"),
     "needs both its length in mm and its two end points"),
    (Observation("X", 2, ObservationStatus.MEASURED, long_axis_mm=D(12), long_axis=((0, 0), (9, 0))),
     Lesion("X", "T2", LesionKind.TARGET, "lung"), "needs the image it was drawn on"),
    (Observation("X", 2, ObservationStatus.DISAPPEARED), Lesion("X", "T2", LesionKind.TARGET, "lymph node", lymph_node=True),
     "a lymph node is always measured"),
    (Observation("X", 2, ObservationStatus.PRESENT), Lesion("X", "T1", LesionKind.NON_TARGET, "bone"), "share a label"),
    (Observation("X", 2, ObservationStatus.TOO_SMALL, long_axis_mm=D(4), long_axis=((0, 0), (5, 0)), image=IMAGE),
     Lesion("X", "T2", LesionKind.TARGET, "lung"), "too_small cannot carry a measurement"),
    (Observation("X", 2, ObservationStatus.EQUIVOCAL, long_axis_mm=D(9), long_axis=((0, 0), (5, 0)), image=IMAGE),
     Lesion("X", "N1", LesionKind.NEW, "liver", lymph_node=True), "a measured node needs its short axis"),
])
def test_contradictory_observations_are_refused_with_the_lesion_named(trial, observation, lesion, message):
    with pytest.raises(PackageInputError, match=message):
        validate_trial(_add_observation(trial, observation, lesion))


def test_a_measured_node_needs_its_short_axis(trial):
    read = trial.subjects[0].reads[0]
    node_obs = next(o for o in read.observations if o.lesion.endswith("T2") and o.visitnum == 2)
    broken = dataclasses.replace(node_obs, short_axis_mm=None, short_axis=None)
    observations = tuple(broken if o is node_obs else o for o in read.observations)
    with pytest.raises(PackageInputError, match="a measured node needs its short axis"):
        validate_trial(_with_read(trial, 0, 1, observations=observations))


def test_duplicate_subjects_and_missing_studyid_are_refused(trial):
    with pytest.raises(PackageInputError, match="two subjects share a code"):
        validate_trial(dataclasses.replace(trial, subjects=(trial.subjects[0], trial.subjects[0])))
    with pytest.raises(PackageInputError, match="no STUDYID"):
        validate_trial(dataclasses.replace(trial, studyid=""))


def test_an_equivocal_new_lesion_may_carry_a_measurement(trial):
    lesion = Lesion("X", "N1", LesionKind.NEW, "liver")
    observation = Observation("X", 2, ObservationStatus.EQUIVOCAL, long_axis_mm=D(9), long_axis=((0, 0), (5, 0)), image=IMAGE)
    validate_trial(_add_observation(trial, observation, lesion))


def test_plain_strings_from_the_database_become_enums():
    lesion = Lesion("X", "T1", "target", "liver")
    observation = Observation("X", 1, "too_small")
    assert lesion.kind is LesionKind.TARGET and observation.status is ObservationStatus.TOO_SMALL
    with pytest.raises(ValueError, match="not a valid ObservationStatus"):
        Observation("X", 1, "vanished")
