"""One open submission per visit: "Submit images" resumes it, and an empty abandoned one can be cancelled."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from audit.models import AuditEvent
from ictms.lib.errors import DomainError, NotFoundError, PermissionDeniedError
from imaging.intake.services import submission_cancel, submission_open, submission_upload_start
from imaging.models import Submission
from tests.trials import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def bl(world):
    return f.visit(world.participant, "BL")


def cancel_url(submission):
    return f"/t/TRIAL-A/submissions/{submission.pk}/cancel/"


def test_opening_again_resumes_the_open_submission(world, bl):
    first = submission_open(actor=world.coordinator, visit=bl, comment="CT")
    again = submission_open(actor=world.coordinator, visit=bl, comment="other")
    assert again.pk == first.pk and Submission.objects.count() == 1
    assert AuditEvent.objects.filter(action="submission.open").count() == 1


def test_submit_images_resumes_the_open_submission(world, bl, page_client):
    open_one = submission_open(actor=world.coordinator, visit=bl)
    client = page_client(world.coordinator)
    page = client.get(f"/t/TRIAL-A/visits/{bl.pk}/").content.decode()
    assert f'id="submit-images" href="/t/TRIAL-A/submissions/{open_one.pk}/"' in page
    assert f"continues submission {open_one.pk}" in page
    response = client.get(f"/t/TRIAL-A/visits/{bl.pk}/submit/")
    assert response.status_code == 302 and response["Location"] == f"/t/TRIAL-A/submissions/{open_one.pk}/"
    # Posting the transmittal form again (an old tab) lands on the same submission too.
    response = client.post(f"/t/TRIAL-A/visits/{bl.pk}/submit/", {"comment": "again"})
    assert response["Location"] == f"/t/TRIAL-A/submissions/{open_one.pk}/"
    assert Submission.objects.count() == 1


def test_without_an_open_submission_submit_images_opens_a_new_one(world, bl, page_client):
    client = page_client(world.coordinator)
    page = client.get(f"/t/TRIAL-A/visits/{bl.pk}/").content.decode()
    assert f'id="submit-images" href="/t/TRIAL-A/visits/{bl.pk}/submit/"' in page
    assert client.get(f"/t/TRIAL-A/visits/{bl.pk}/submit/").status_code == 200


def test_the_coordinator_cancels_an_empty_submission_and_it_is_audited(world, bl, page_client):
    submission = submission_open(actor=world.coordinator, visit=bl)
    client = page_client(world.coordinator)
    page = client.get(f"/t/TRIAL-A/submissions/{submission.pk}/").content.decode()
    assert 'id="cancel-submission"' in page and cancel_url(submission) in page
    response = client.post(cancel_url(submission))
    assert response.status_code == 302 and response["Location"] == f"/t/TRIAL-A/visits/{bl.pk}/"
    submission.refresh_from_db()
    assert submission.state == "cancelled" and submission.finished_at is not None
    event = AuditEvent.objects.get(action="submission.cancel")
    assert event.actor == world.coordinator and event.trial == world.trial
    # The visit offers a new submission again; the cancelled one takes no files.
    page = client.get(f"/t/TRIAL-A/visits/{bl.pk}/").content.decode()
    assert f'id="submit-images" href="/t/TRIAL-A/visits/{bl.pk}/submit/"' in page and "Cancelled" in page
    assert submission_open(actor=world.coordinator, visit=bl).pk != submission.pk
    with pytest.raises(DomainError):
        submission_upload_start(actor=world.coordinator, submission=submission, client_key="k", name="a.dcm", size=10)


def test_a_submission_that_received_files_cannot_be_cancelled(world, bl, page_client):
    submission = submission_open(actor=world.coordinator, visit=bl)
    submission_upload_start(actor=world.coordinator, submission=submission, client_key="k1", name="IM1.dcm", size=100)
    with pytest.raises(DomainError, match="finish it instead"):
        submission_cancel(actor=world.coordinator, submission=submission)
    client = page_client(world.coordinator)
    assert 'id="cancel-submission"' not in client.get(f"/t/TRIAL-A/submissions/{submission.pk}/").content.decode()
    response = client.post(cancel_url(submission), follow=True)
    assert "finish it instead" in response.content.decode()
    submission.refresh_from_db()
    assert submission.state == "receiving"
    assert not AuditEvent.objects.filter(action="submission.cancel").exists()


def test_a_finished_submission_cannot_be_cancelled(world, bl):
    from imaging.intake.services import submission_complete

    submission = submission_open(actor=world.coordinator, visit=bl)
    submission_complete(actor=world.coordinator, submission=submission)
    with pytest.raises(DomainError):
        submission_cancel(actor=world.coordinator, submission=submission)


@pytest.mark.parametrize(("persona", "status"), [
    ("other_coordinator", 404),  # another site: the submission is invisible
    ("coordinator_b", 404),  # another trial
    ("qc", 403),  # sees it but may not upload for the site
    ("reader", 404),
])
def test_cancel_is_refused_to_others(world, bl, page_client, persona, status):
    submission = submission_open(actor=world.coordinator, visit=bl)
    assert page_client(world.user(persona)).post(cancel_url(submission)).status_code == status
    submission.refresh_from_db()
    assert submission.state == "receiving"
    assert not AuditEvent.objects.filter(action="submission.cancel").exists()


def test_cancel_refusals_in_the_service(world, bl):
    submission = submission_open(actor=world.coordinator, visit=bl)
    with pytest.raises((NotFoundError, PermissionDeniedError, PermissionDenied)):
        submission_cancel(actor=world.other_coordinator, submission=submission)
    with pytest.raises((NotFoundError, PermissionDeniedError, PermissionDenied)):
        submission_cancel(actor=world.qc, submission=submission)


def test_cancel_needs_a_post_and_a_login(world, bl, page_client):
    submission = submission_open(actor=world.coordinator, visit=bl)
    assert page_client(world.coordinator).get(cancel_url(submission)).status_code == 405
    response = page_client(None).post(cancel_url(submission))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_qc_analyst_sees_no_cancel_button(world, bl, page_client):
    submission = submission_open(actor=world.coordinator, visit=bl)
    page = page_client(world.qc).get(f"/t/TRIAL-A/submissions/{submission.pk}/").content.decode()
    assert 'id="cancel-submission"' not in page
