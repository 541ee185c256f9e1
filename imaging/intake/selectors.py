"""Reads of submissions and their files, scoped to the participants the caller may see."""
from __future__ import annotations

from django.db.models import Count, QuerySet

from ictms.lib.errors import NotFoundError
from ictms.lib.users import AnyUser
from imaging.models import (
    Submission,
    SubmissionFile,
)
from trials.models import Visit
from trials.selectors import participant_scope


def submission_list_for_user(*, user: AnyUser, visit: Visit | None = None) -> QuerySet[Submission]:
    qs = Submission.objects.filter(participant_scope(user=user, prefix="visit__participant__")).select_related(
        "visit__participant__site", "visit__participant__trial", "visit__timepoint", "opened_by"
    )
    if visit is not None:
        qs = qs.filter(visit=visit)
    return qs.order_by("-opened_at", "-id")


def submission_get_for_user(*, user: AnyUser, pk: int) -> Submission:
    submission = submission_list_for_user(user=user).filter(pk=pk).first()
    if submission is None:
        raise NotFoundError("No such submission.")
    return submission


def open_submission_for_visit(*, user: AnyUser, visit: Visit) -> Submission | None:
    """The visit's submission still receiving files, if any (at most one: `submission_open` resumes it)."""
    return submission_list_for_user(user=user, visit=visit).filter(state="receiving").first()


def submission_file_counts(*, submission: Submission) -> dict[str, int]:
    """How many of the submission's files are in each status (one query)."""
    rows = SubmissionFile.objects.filter(submission=submission).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def submission_files(*, submission: Submission, since_id: int = 0) -> QuerySet[SubmissionFile]:
    return SubmissionFile.objects.filter(submission=submission, id__gt=since_id).order_by("id")


def submission_file_counts_many(*, submission_ids: list[int]) -> dict[int, dict[str, int]]:
    """Status counts for several submissions in one query (list pages)."""
    out: dict[int, dict[str, int]] = {pk: {} for pk in submission_ids}
    rows = (SubmissionFile.objects.filter(submission_id__in=submission_ids).values("submission_id", "status")
            .annotate(n=Count("id")))
    for row in rows:
        out[row["submission_id"]][row["status"]] = row["n"]
    return out
