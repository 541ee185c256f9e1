"""The audit action vocabulary: every action string the trail may hold, in one place.

audit_record refuses any other string, so a typo fails the first test that reaches it instead
of starting a second spelling of the same action in the trail. The stored strings never change
(the audit filter, exports and the hash chain rely on them): add a member, never rename one.
"""
from __future__ import annotations

from django.db import models


class AuditAction(models.TextChoices):
    # Sign-in (audit.signals).
    USER_LOGIN = "user.login", "Signed in"
    USER_LOGOUT = "user.logout", "Signed out"
    USER_LOGIN_FAILED = "user.login_failed", "Sign-in failed"
    USER_CREATE = "user.create", "User created"
    # The audit trail itself.
    AUDIT_EXPORT = "audit.export", "Audit trail exported"
    # Trial set-up.
    TRIAL_CREATE = "trial.create", "Trial created"
    TRIAL_UPDATE = "trial.update", "Trial settings changed"
    TRIAL_STATUS_CHANGE = "trial.status_change", "Trial status changed"
    SITE_CREATE = "site.create", "Site added"
    SITE_UPDATE = "site.update", "Site changed"
    TIMEPOINT_CREATE = "timepoint.create", "Timepoint added"
    TIMEPOINT_UPDATE = "timepoint.update", "Timepoint changed"
    IMAGING_REQUIREMENT_CREATE = "imaging_requirement.create", "Imaging requirement added"
    IMAGING_REQUIREMENT_UPDATE = "imaging_requirement.update", "Imaging requirement changed"
    IMAGING_REQUIREMENT_DELETE = "imaging_requirement.delete", "Imaging requirement removed"
    MEMBERSHIP_CREATE = "membership.create", "Member added"
    MEMBERSHIP_ROLE_CHANGE = "membership.role_change", "Member's role changed"
    MEMBERSHIP_REMOVE = "membership.remove", "Member removed"
    # Participants and visits.
    PARTICIPANT_ENROL = "participant.enrol", "Participant enrolled"
    PARTICIPANT_UPDATE = "participant.update", "Participant changed"
    PARTICIPANT_STATUS_CHANGE = "participant.status_change", "Participant status changed"
    VISIT_STATE_CHANGE = "visit.state_change", "Visit state changed"
    # Intake.
    SUBMISSION_OPEN = "submission.open", "Submission opened"
    SUBMISSION_COMPLETE = "submission.complete", "Submission completed by the site"
    SUBMISSION_FINISH = "submission.finish", "Submission processed"
    SUBMISSION_STATE_CHANGE = "submission.state_change", "Submission state changed"
    SUBMISSION_FILE_STATUS_CHANGE = "submission_file.status_change", "File status changed"
    SUBMISSION_FILE_RECEIVE = "submission_file.receive", "File received"
    SUBMISSION_FILE_DEIDENTIFY = "submission_file.deidentify", "File de-identified and stored"
    SUBMISSION_FILE_DUPLICATE = "submission_file.duplicate", "File already received"
    SUBMISSION_FILE_REJECT = "submission_file.reject", "File rejected"
    SUBMISSION_FILE_SKIP = "submission_file.skip", "File skipped"
    SUBMISSION_FILE_EXPAND = "submission_file.expand", "Archive unpacked"
    # Quality control and queries.
    QC_RUN = "qc.run", "Automated QC run"
    SERIES_QC_DECIDE = "series.qc_decide", "Series QC decision"
    QUERY_RAISE = "query.raise", "Query raised"
    QUERY_ANSWER = "query.answer", "Query answered"
    QUERY_AUTO_ANSWER = "query.auto_answer", "Query answered by a re-upload"
    QUERY_RESOLVE = "query.resolve", "Query resolved"
    QUERY_REOPEN = "query.reopen", "Query reopened"
    QUERY_CANCEL = "query.cancel", "Query withdrawn"
    QUERY_STATE_CHANGE = "query.state_change", "Query state changed"
    # Viewer.
    MEASUREMENT_CREATE = "measurement.create", "Measurement added"
    MEASUREMENT_UPDATE = "measurement.update", "Measurement changed"
    MEASUREMENT_DELETE = "measurement.delete", "Measurement removed"
    # Reads (reads.md).
    READ_DESIGN_SAVE = "read_design.save", "Read design saved"
    READ_CASE_CREATE = "read_case.create", "Read case created"
    READ_ASSIGNMENT_CREATE = "read_assignment.create", "Case assigned to a reader"
    READ_CASE_REASSIGN = "read_case.reassign", "Case reassigned to another reader"
    READ_TASK_CREATE = "read_task.create", "Read task created"
    READ_TASK_STATE_CHANGE = "read_task.state_change", "Read task state changed"
    READ_TASK_START = "read_task.start", "Read started"
    READ_TASK_SIGN = "read_task.sign", "Read signed"
    READ_TASK_SIGN_FAILED = "read_task.sign_failed", "Signature refused (wrong password)"
    READ_TASK_REOPEN = "read_task.reopen", "Signed read re-opened"
    READ_TASK_REOPEN_REQUEST = "read_task.reopen_request", "Re-open of a signed read requested"
    READ_TASK_REOPEN_STATE_CHANGE = "read_reopen.state_change", "Re-open request changed"
    READ_TASK_NOT_DONE = "read_task.not_done", "Timepoint marked not done"
    READ_TASK_NEW_LESIONS = "read_task.new_lesions", "New-lesion question answered"
    LESION_ADD = "lesion.add", "Lesion added"
    LESION_REMOVE = "lesion.remove", "Lesion removed"
    OBSERVATION_RECORD = "observation.record", "Observation recorded"
    OBSERVATION_REMOVE = "observation.remove", "Observation removed"
    READ_QUALITY_QUERY_RAISE = "read_quality_query.raise", "Reader asked QC about image quality"
    READ_QUALITY_QUERY_ANSWER = "read_quality_query.answer", "QC answered a reader's image-quality query"
    READ_QUALITY_QUERY_STATE_CHANGE = "read_quality_query.state_change", "Image-quality query changed"
    ADJUDICATION_OPEN = "adjudication.open", "Adjudication opened"
    ADJUDICATION_UPDATE = "adjudication.update", "Adjudication extended to a later timepoint"
    ADJUDICATION_DECIDE = "adjudication.decide", "Adjudication decided and signed"
    ADJUDICATION_DECIDE_FAILED = "adjudication.decide_failed", "Adjudication signature refused (wrong password)"
    ADJUDICATION_STATE_CHANGE = "adjudication.state_change", "Adjudication state changed"
    READ_PACKAGE_REQUEST = "read_package.request", "Read package requested"
    READ_PACKAGE_STATE_CHANGE = "read_package.state_change", "Read package build state changed"
    READ_PACKAGE_DOWNLOAD = "read_package.download", "Read package downloaded"
