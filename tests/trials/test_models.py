"""Visit windows and the status the grid shows."""
from __future__ import annotations

import datetime as dt

import pytest

from trials.choices import VisitState, VisitStatus
from trials.models import Participant, TimepointDefinition, Trial, Visit

START = dt.date(2026, 3, 1)


def make_visit(day: int | None, before: int, after: int, state: str = VisitState.EXPECTED, start=START) -> Visit:
    tp = TimepointDefinition(code="W8", label="W8", order=2, nominal_day=day, window_before=before, window_after=after)
    p = Participant(subject_code="101-001", treatment_start_date=start)
    return Visit(participant=p, timepoint=tp, state=state)


def test_window_is_nominal_day_minus_and_plus():
    assert make_visit(56, 7, 7).window() == (dt.date(2026, 4, 19), dt.date(2026, 5, 3))


def test_screening_window_before_treatment_start():
    assert make_visit(0, 28, 0).window() == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))


@pytest.mark.parametrize("today,status", [
    (dt.date(2026, 4, 18), VisitStatus.UPCOMING),
    (dt.date(2026, 4, 19), VisitStatus.DUE),
    (dt.date(2026, 5, 3), VisitStatus.DUE),
    (dt.date(2026, 5, 4), VisitStatus.OVERDUE),
])
def test_status_around_the_window_edges(today, status):
    assert make_visit(56, 7, 7).status(today) == status


@pytest.mark.parametrize("state", [VisitState.RECEIVED, VisitState.IN_QC, VisitState.ACCEPTED, VisitState.READ])
def test_workflow_state_wins_over_the_window(state):
    assert make_visit(56, 7, 7, state=state).status(dt.date(2027, 1, 1)) == VisitStatus(state)


def test_no_anchor_or_event_driven_timepoint_is_not_scheduled():
    assert make_visit(56, 7, 7, start=None).status(dt.date(2026, 1, 1)) == VisitStatus.NOT_SCHEDULED
    assert make_visit(None, 0, 0).status(dt.date(2026, 1, 1)) == VisitStatus.NOT_SCHEDULED


def test_a_bad_qc_severity_override_fails_the_trial_s_validation_through_the_check_imaging_registers():
    from django.core.exceptions import ValidationError

    from trials.models import SETTING_VALIDATORS, Trial

    assert "qc_severity_overrides" in SETTING_VALIDATORS  # registered by imaging's AppConfig.ready
    trial = Trial(code="T-1", title="T", qc_severity_overrides={"no_such_check": "blocking"})
    with pytest.raises(ValidationError) as caught:
        trial.clean()
    assert "qc_severity_overrides" in caught.value.message_dict
    trial.qc_severity_overrides = {}
    trial.clean()
@pytest.mark.parametrize("status,accepts", [("setup", True), ("active", True), ("locked", False), ("closed", False)])
def test_a_trial_accepts_data_until_it_is_locked(status, accepts):
    trial = Trial(code="TRIAL-A", status=status)
    assert trial.accepts_data is accepts
    refusal = trial.data_refusal("no images can be submitted")
    assert refusal == ("" if accepts else f"TRIAL-A is {status}: no images can be submitted.")


def visit_in(trial_status: str, state: str, reupload_requested: bool = False) -> Visit:
    visit = make_visit(56, 7, 7, state=state)
    visit.participant.trial = Trial(code="TRIAL-A", status=trial_status)
    visit.reupload_requested = reupload_requested
    return visit


@pytest.mark.parametrize("state", [s.value for s in VisitState])
def test_a_visit_of_an_active_trial_takes_images_until_qc_accepts_them(state):
    refusal = visit_in("active", state).image_refusal()
    if state == VisitState.READ:
        assert refusal == "This visit has been read: it takes no new images."
    elif state == VisitState.ACCEPTED:
        assert refusal.startswith("The images of this visit were already accepted by QC.")
    else:
        assert refusal == ""


def test_a_reupload_request_reopens_an_accepted_visit():
    # A read visit with a re-upload request is bug B2's case, decided with the visit transition table.
    visit = visit_in("active", VisitState.ACCEPTED, reupload_requested=True)
    assert visit.image_refusal() == "" and visit.takes_images


@pytest.mark.parametrize("state", [VisitState.EXPECTED, VisitState.ACCEPTED])
@pytest.mark.parametrize("status", ["locked", "closed"])
def test_a_locked_trial_refuses_images_even_when_qc_asked_for_them(status, state):
    refusal = visit_in(status, state, reupload_requested=True).image_refusal()
    assert refusal == f"TRIAL-A is {status}: no images can be submitted."
