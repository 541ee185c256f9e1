"""QC API: the queue of visits awaiting review, a visit's QC summary and acceptance, series decisions.

Routes (imaging/api_urls.py): `GET /api/qc/visits/` (the queue, filters in qc/filters.py),
`GET /api/qc/visits/{id}/`, `GET /api/qc/visits/{id}/findings/?history=1`,
`POST /api/qc/visits/{id}/accept/` and `POST /api/series/{id}/qc/`. Every object comes from a
scoped selector (404 when the caller may not see it); the services decide who may act (403)
and what the state allows (409).
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ictms.lib.filters import ListOnlyFilterMixin
from imaging.archive.selectors import series_list_for_user
from imaging.choices import QcReason, QcStatus
from imaging.models import QcFinding, Query, Series
from imaging.qc import services as qc_services
from imaging.qc.filters import QcQueueFilterSet
from imaging.qc.selectors import (
    current_findings,
    public_details,
    qc_findings_for_visit,
    qc_queue_for_user,
    visit_modalities,
    waiting_days,
    with_qc,
)
from imaging.queries.selectors import query_list_for_user
from trials.models import Visit
from trials.selectors import visit_list_for_user

# --- serializers --------------------------------------------------------------------------------


class FindingOutputSerializer(serializers.ModelSerializer):
    details = serializers.SerializerMethodField()

    class Meta:
        model = QcFinding
        fields = ["id", "visit", "series", "requirement", "code", "key", "severity", "message", "details", "is_current",
                  "computed_at"]

    def get_details(self, finding: QcFinding) -> dict[str, Any]:
        return public_details(finding.details)


class SeriesQcOutputSerializer(serializers.ModelSerializer):
    """A series' QC state: the analyst's decision and the current automated findings."""

    qc_by = serializers.CharField(source="qc_by.username", default="", read_only=True)
    findings = serializers.SerializerMethodField()

    class Meta:
        model = Series
        fields = ["id", "series_number", "description", "modality", "qc_status", "qc_reason", "qc_comment", "qc_by",
                  "qc_at", "findings"]

    @extend_schema_field(FindingOutputSerializer(many=True))
    def get_findings(self, series: Series) -> list[dict[str, Any]]:
        return FindingOutputSerializer(current_findings(series), many=True).data


class SeriesQcDecideInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(QcStatus.PASSED.value, QcStatus.PASSED.label),
                                              (QcStatus.FAILED.value, QcStatus.FAILED.label)])
    reason = serializers.ChoiceField(choices=QcReason.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class VisitAcceptInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class _VisitBase(serializers.ModelSerializer):
    trial = serializers.CharField(source="participant.trial.code", read_only=True)
    site = serializers.CharField(source="participant.site.number", read_only=True)
    subject_code = serializers.CharField(source="participant.subject_code", read_only=True)
    timepoint = serializers.CharField(source="timepoint.code", read_only=True)
    timepoint_label = serializers.CharField(source="timepoint.label", read_only=True)
    waiting_days = serializers.SerializerMethodField()

    def get_waiting_days(self, visit: Visit) -> int | None:
        return waiting_days(visit)


class QcQueueItemOutputSerializer(_VisitBase):
    series_count = serializers.IntegerField(read_only=True)
    open_queries = serializers.IntegerField(read_only=True)
    blocking = serializers.IntegerField(read_only=True)
    modalities = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = ["id", "trial", "site", "participant", "subject_code", "timepoint", "timepoint_label", "state",
                  "scan_date", "received_at", "waiting_days", "series_count", "open_queries", "blocking", "modalities"]

    def get_modalities(self, visit: Visit) -> list[str]:
        return self.context.get("modalities", {}).get(visit.pk, [])


class QcQuerySummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Query
        fields = ["id", "state", "category", "subject", "is_automatic", "series", "due_date", "created_at"]


class QcVisitOutputSerializer(_VisitBase):
    series = serializers.SerializerMethodField()
    findings = serializers.SerializerMethodField()
    queries = serializers.SerializerMethodField()
    acceptance_problems = serializers.SerializerMethodField()
    can_accept = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = ["id", "trial", "site", "participant", "subject_code", "timepoint", "timepoint_label", "state",
                  "scan_date", "received_at", "accepted_at", "waiting_days", "reupload_requested", "series",
                  "findings", "queries", "acceptance_problems", "can_accept"]

    def _user(self) -> Any:
        return self.context["request"].user

    @extend_schema_field(SeriesQcOutputSerializer(many=True))
    def get_series(self, visit: Visit) -> list[dict[str, Any]]:
        return SeriesQcOutputSerializer(with_qc(series_list_for_user(user=self._user(), visit=visit)),
                                        many=True).data

    @extend_schema_field(FindingOutputSerializer(many=True))
    def get_findings(self, visit: Visit) -> list[dict[str, Any]]:
        return FindingOutputSerializer(qc_findings_for_visit(visit=visit), many=True).data

    @extend_schema_field(QcQuerySummarySerializer(many=True))
    def get_queries(self, visit: Visit) -> list[dict[str, Any]]:
        qs = query_list_for_user(user=self._user()).filter(visit=visit)
        return QcQuerySummarySerializer(qs, many=True).data

    def get_acceptance_problems(self, visit: Visit) -> list[str]:
        return self._problems(visit)

    def get_can_accept(self, visit: Visit) -> bool:
        return self._user().has_perm("trials.perform_qc", visit.participant.trial) and not self._problems(visit)

    def _problems(self, visit: Visit) -> list[str]:
        cache = self.context.setdefault("_problems", {})
        if visit.pk not in cache:
            cache[visit.pk] = qc_services.visit_acceptance_problems(visit)
        return cache[visit.pk]


# --- viewsets -------------------------------------------------------------------------------------


class QcVisitViewSet(ListOnlyFilterMixin, viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The QC queue: visits with images awaiting review, oldest first (QC analysts).

    A visit's detail (series decisions, current findings, queries, what still prevents
    acceptance) is open to whoever may see the visit; accepting it is the QC analyst's.
    """

    serializer_class = QcVisitOutputSerializer
    filterset_class = QcQueueFilterSet  # the list (the queue) only

    def get_queryset(self) -> QuerySet[Visit]:
        if self.action == "list":
            return qc_queue_for_user(user=self.request.user)
        return visit_list_for_user(user=self.request.user)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return QcQueueItemOutputSerializer if self.action == "list" else QcVisitOutputSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        visits = list(page if page is not None else queryset)
        context = {**self.get_serializer_context(), "modalities": visit_modalities(v.pk for v in visits)}
        data = QcQueueItemOutputSerializer(visits, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=VisitAcceptInputSerializer, responses=QcVisitOutputSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        """Accept the visit's images (409 with the reasons while something is still missing)."""
        visit = self.get_object()
        data = VisitAcceptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        qc_services.visit_qc_accept(actor=request.user, visit=visit, comment=data.validated_data["comment"])
        fresh = visit_list_for_user(user=request.user).get(pk=visit.pk)
        return Response(QcVisitOutputSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[OpenApiParameter("history", bool, description="also the findings of earlier QC runs")],
                   responses=FindingOutputSerializer(many=True))
    @action(detail=True, methods=["get"])
    def findings(self, request: Request, pk: str | None = None) -> Response:
        visit = self.get_object()
        history = request.query_params.get("history") in ("1", "true")
        qs = qc_findings_for_visit(visit=visit, current=not history)
        return Response(FindingOutputSerializer(qs, many=True).data)


class SeriesQcViewSet(viewsets.GenericViewSet):
    """`POST /api/series/{id}/qc/` {status: passed|failed, reason, comment}: the analyst's decision."""

    serializer_class = SeriesQcDecideInputSerializer

    def get_queryset(self) -> QuerySet[Series]:
        return series_list_for_user(user=self.request.user)

    @extend_schema(request=SeriesQcDecideInputSerializer, responses=SeriesQcOutputSerializer)
    @action(detail=True, methods=["post"], url_path="qc")
    def qc(self, request: Request, pk: str | None = None) -> Response:
        series = self.get_object()
        data = SeriesQcDecideInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        qc_services.series_qc_decide(actor=request.user, series=series, **data.validated_data)
        fresh = with_qc(series_list_for_user(user=request.user)).get(pk=series.pk)
        return Response(SeriesQcOutputSerializer(fresh).data)
