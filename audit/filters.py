"""The audit trail's filters, shared by `GET /api/audit-events/`, the trail page and its CSV export.

A wrong value (a date that is not one) is an error: the API answers 400, the page shows it and
lists nothing, and the export exports nothing. Ignoring it would widen an export silently.
"""
from __future__ import annotations

import django_filters
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from audit.models import AuditEvent
from ictms.lib.filters import FlagFilter, IsoDateFilter
from trials.filters import TrialFilterSet

# Query parameters named after Python keywords: the filters are declared as date_from / date_to.
PARAMETER_NAMES = {"date_from": "from", "date_to": "to"}
# Events about single files of a submission: the trail page and its export show each submission's
# steps (opened, completed, processed with counts) and keep these one click away (?detail=1).
DETAIL_ACTIONS = ("submission_file.",)


class AuditEventFilterSet(TrialFilterSet):
    object = django_filters.CharFilter(method="filter_object",
                                       help_text="'type:id' (e.g. trials.participant:12; a submission includes its "
                                                 "files) or text in the object's name")
    subject = django_filters.CharFilter(method="filter_subject",
                                        help_text="subject code: everything about that participant (visits, "
                                                  "submissions, files, series, queries, QC, measurements, reads)")
    detail = FlagFilter(method="filter_detail",
                        help_text="1: include every per-file event; 0: only each submission's steps")
    user = django_filters.CharFilter(field_name="actor_username", lookup_expr="iexact", help_text="username")
    action = django_filters.CharFilter(field_name="action", lookup_expr="startswith",
                                       help_text="action or prefix (e.g. membership.)")
    # ISO dates only, as before: Django's default formats would also read 02/01/2024, as 1 February.
    date_from = IsoDateFilter(field_name="at", lookup_expr="date__gte", help_text="first day (YYYY-MM-DD)")
    date_to = IsoDateFilter(field_name="at", lookup_expr="date__lte", help_text="last day (YYYY-MM-DD)")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def __init__(self, *args: object, group_details: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # The page and its export group per-file events unless asked for them; the API lists everything.
        self.group_details = group_details

    def filter_object(self, qs: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        target_type, sep, target_id = value.partition(":")
        if sep and target_id:
            match = Q(target_type=target_type, target_id=target_id)
            if target_type == "imaging.submission" and target_id.isdigit():
                from imaging.models import SubmissionFile

                files = (SubmissionFile.objects.filter(submission_id=int(target_id))
                         .annotate(text_id=Cast("id", CharField())).values("text_id"))
                match |= Q(target_type="imaging.submissionfile", target_id__in=files)
            return qs.filter(match)
        return qs.filter(Q(target_repr__icontains=value) | Q(target_type__icontains=value))

    def filter_subject(self, qs: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        from trials.models import Participant

        participants = Participant.objects.filter(subject_code__iexact=value.strip())
        if self.page_trial is not None:
            participants = participants.filter(trial=self.page_trial)
        return qs.filter(subject_id__in=participants.values("pk"))

    def filter_detail(self, qs: QuerySet[AuditEvent], name: str, value: bool | None) -> QuerySet[AuditEvent]:
        return qs  # applied in filter_queryset, which also knows whether the caller groups by default

    def wants_detail(self) -> bool:
        value = getattr(self.form, "cleaned_data", {}).get("detail")
        if value is not None:
            return bool(value)
        # Looking at one submission's or file's events, or at file actions, is asking for the detail.
        cleaned = getattr(self.form, "cleaned_data", {})
        target_type = (cleaned.get("object") or "").partition(":")[0]
        action = cleaned.get("action") or ""
        return (not self.group_details or target_type in ("imaging.submission", "imaging.submissionfile")
                or any(action.startswith(prefix) for prefix in DETAIL_ACTIONS))

    def filter_queryset(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        qs = super().filter_queryset(queryset)
        if not self.wants_detail():
            for prefix in DETAIL_ACTIONS:
                qs = qs.exclude(action__startswith=prefix)
        return qs

    def applied(self) -> dict[str, str]:
        """The filters given, as the export's audit event records them (call after is_valid())."""
        names = {parameter: name for name, parameter in PARAMETER_NAMES.items()}
        return {names.get(k, k): str(v) for k, v in self.form.cleaned_data.items() if v not in (None, "")}


for _name, _parameter in PARAMETER_NAMES.items():
    AuditEventFilterSet.base_filters[_parameter] = AuditEventFilterSet.base_filters.pop(_name)
