"""Queries API: list with filters, raise, and the transitions answer / resolve / reopen / cancel."""
from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ictms.lib.errors import NotFoundError
from imaging.choices import QueryCategory
from imaging.intake.selectors import submission_list_for_user
from imaging.models import Query, QueryMessage, Series
from imaging.queries import services
from imaging.queries.filters import QueryFilterSet
from imaging.queries.selectors import query_get_for_user, query_list_for_user, query_messages
from trials.selectors import visit_get_for_user


class QueryMessageOutputSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = QueryMessage
        fields = ["id", "action", "author", "text", "submission", "created_at"]

    def get_author(self, obj: QueryMessage) -> str:
        return obj.author.get_full_name() or obj.author.username if obj.author else "ICTMS automated QC"


class QueryOutputSerializer(serializers.ModelSerializer):
    trial = serializers.CharField(source="visit.participant.trial.code")
    site = serializers.CharField(source="visit.participant.site.number")
    subject_code = serializers.CharField(source="visit.participant.subject_code")
    timepoint = serializers.CharField(source="visit.timepoint.code")
    series_label = serializers.SerializerMethodField()
    raised_by = serializers.SerializerMethodField()
    age_days = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField()

    class Meta:
        model = Query
        fields = [
            "id", "trial", "site", "visit", "subject_code", "timepoint", "series", "series_label", "category", "state",
            "subject", "is_automatic", "requests_reupload", "raised_by", "due_date", "created_at", "answered_at",
            "closed_at", "age_days", "overdue", "messages",
        ]

    def get_series_label(self, obj: Query) -> str:
        return str(obj.series) if obj.series_id else ""

    def get_raised_by(self, obj: Query) -> str:
        return obj.raised_by.username if obj.raised_by else "automated QC"

    def get_age_days(self, obj: Query) -> int:
        return obj.age_days(timezone.localdate())

    def get_overdue(self, obj: Query) -> bool:
        return obj.is_overdue(timezone.localdate())

    def get_messages(self, obj: Query) -> list[dict[str, Any]]:
        if not self.context.get("with_messages"):
            return []
        return QueryMessageOutputSerializer(query_messages(query=obj), many=True).data


class QueryRaiseInputSerializer(serializers.Serializer):
    visit = serializers.IntegerField()
    subject = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    message = serializers.CharField()
    category = serializers.ChoiceField(choices=QueryCategory.choices, default=QueryCategory.OTHER)
    series = serializers.IntegerField(required=False, allow_null=True, default=None)
    requests_reupload = serializers.BooleanField(default=True)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class QueryMessageInputSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="")


class QueryAnswerInputSerializer(QueryMessageInputSerializer):
    submission = serializers.IntegerField(required=False, allow_null=True, default=None,
                                          help_text="a submission of the same visit (the re-upload)")


class QueryViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Queries between the core lab and sites. 404 for what you may not see, 409 for a forbidden transition."""

    serializer_class = QueryOutputSerializer
    filterset_class = QueryFilterSet

    def get_queryset(self):
        return query_list_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["with_messages"] = self.action != "list"
        return context

    def _respond(self, query: Query, code: int = status.HTTP_200_OK) -> Response:
        fresh = query_get_for_user(user=self.request.user, pk=query.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=QueryRaiseInputSerializer, responses=QueryOutputSerializer)
    def create(self, request: Request) -> Response:
        data = QueryRaiseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        visit = visit_get_for_user(user=request.user, pk=values.pop("visit"))
        series_id = values.pop("series")
        series = None
        if series_id is not None:
            series = Series.objects.filter(pk=series_id, study__visit=visit).select_related("study").first()
            if series is None:
                raise NotFoundError("No such series in this visit.")
        query = services.query_raise(actor=request.user, visit=visit, series=series, **values)
        return self._respond(query, status.HTTP_201_CREATED)

    @extend_schema(request=QueryAnswerInputSerializer, responses=QueryOutputSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str | None = None) -> Response:
        query = self.get_object()
        data = QueryAnswerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        submission = None
        if data.validated_data["submission"] is not None:
            submission = submission_list_for_user(user=request.user).filter(
                pk=data.validated_data["submission"]).first()
            if submission is None:
                raise NotFoundError("No such submission.")
        query = services.query_answer(actor=request.user, query=query, message=data.validated_data["message"],
                                      submission=submission)
        return self._respond(query)

    def _transition(self, request: Request, service: Any) -> Response:
        query = self.get_object()
        data = QueryMessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(service(actor=request.user, query=query, message=data.validated_data["message"]))

    @extend_schema(request=QueryMessageInputSerializer, responses=QueryOutputSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.query_resolve)

    @extend_schema(request=QueryMessageInputSerializer, responses=QueryOutputSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.query_reopen)

    @extend_schema(request=QueryMessageInputSerializer, responses=QueryOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.query_cancel)


