"""The reads API of api.md: read design, organs, read cases (with reassignment), read tasks.

Scoping is the selectors': an admin sees every case of their trials with its subject code; a
reader sees their own cases by code only and their own tasks; everyone else sees none (404).
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ictms.lib.errors import NotFoundError
from imaging.archive.selectors import series_list_for_user
from reads import selectors, services
from reads.choices import OPEN_TASK_STATES, ORGANS, Paradigm, ReportedRead, Trigger
from reads.filters import ReadCaseFilterSet, ReadTaskFilterSet
from reads.models import ReadCase, ReadDesign, ReadTask
from trials.selectors import trial_get_for_user
from trials.services import require_trial_perm

# --- read design ----------------------------------------------------------------------------------


class ReadDesignSerializer(serializers.Serializer):
    paradigm = serializers.ChoiceField(choices=Paradigm.choices)
    readers = serializers.ListField(child=serializers.CharField(), allow_empty=True)
    adjudicators = serializers.ListField(child=serializers.CharField(), allow_empty=True)
    triggers = serializers.ListField(child=serializers.ChoiceField(choices=Trigger.choices), required=False)
    confirmation_required = serializers.BooleanField(required=False)
    confirmation_min_weeks = serializers.IntegerField(required=False, min_value=1, max_value=52)
    sd_min_weeks = serializers.IntegerField(required=False, min_value=0, max_value=52)
    visit_window_weeks = serializers.IntegerField(required=False, min_value=0, max_value=8)
    stop_after_progression = serializers.BooleanField(required=False)
    reported_read = serializers.ChoiceField(choices=ReportedRead.choices, required=False)
    reopen_needs_approval = serializers.BooleanField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, write_only=True)
    criteria = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def design_data(design: ReadDesign) -> dict[str, Any]:
    return {
        "criteria": design.criteria, "paradigm": design.paradigm, "triggers": list(design.triggers),
        "readers": sorted(u.username for u in design.readers.all()),
        "adjudicators": sorted(u.username for u in design.adjudicators.all()),
        "confirmation_required": design.confirmation_required, "confirmation_min_weeks": design.confirmation_min_weeks,
        "sd_min_weeks": design.sd_min_weeks, "visit_window_weeks": design.visit_window_weeks,
        "stop_after_progression": design.stop_after_progression, "reported_read": design.reported_read,
        "reopen_needs_approval": design.reopen_needs_approval, "version": design.version,
        "updated_at": design.updated_at,
    }


class ReadDesignView(APIView):
    """`GET` / `PUT /api/trials/{code}/read-design/` (trial admin)."""

    serializer_class = ReadDesignSerializer

    def _trial(self, request: Request, code: str) -> Any:
        trial = trial_get_for_user(user=request.user, code=code)
        require_trial_perm(request.user, "manage_trial", trial)
        return trial

    @extend_schema(responses=ReadDesignSerializer)
    def get(self, request: Request, code: str) -> Response:
        trial = self._trial(request, code)
        design = selectors.read_design_get(trial=trial)
        if design is None:
            raise NotFoundError(f"{trial.code} has no read design yet: PUT one.")
        return Response(ReadDesignSerializer(design_data(design)).data)

    @extend_schema(request=ReadDesignSerializer, responses=ReadDesignSerializer)
    def put(self, request: Request, code: str) -> Response:
        trial = self._trial(request, code)
        data = ReadDesignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        design = services.read_design_save(actor=request.user, trial=trial, **values)
        design = selectors.read_design_get(trial=trial) or design
        return Response(ReadDesignSerializer(design_data(design)).data)


class ReadOrganView(APIView):
    """`GET /api/read-organs/`: the controlled organ list for lesions (lower-case names)."""

    @extend_schema(responses=inline_serializer("Organs", {"organs": serializers.ListField(child=serializers.CharField())}))
    def get(self, request: Request) -> Response:
        return Response({"organs": list(ORGANS)})


# --- read cases --------------------------------------------------------------------------------------


class ReadCaseSerializer(serializers.ModelSerializer):
    """A case as a reader sees it: its code only."""

    class Meta:
        model = ReadCase
        fields = ("id", "code")


class ReadCaseAdminSerializer(serializers.ModelSerializer):
    """A case as its trial's admin sees it (unblinded)."""

    trial = serializers.CharField(source="trial.code")
    subject_code = serializers.CharField(source="participant.subject_code")
    site = serializers.CharField(source="participant.site.number")
    readers = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ReadCase
        fields = ("id", "code", "trial", "subject_code", "site", "readers", "progress", "created_at")

    def get_readers(self, case: ReadCase) -> list[dict[str, Any]]:
        return [{"slot": a.slot, "username": a.reader.username} for a in case.assignments.all()]

    def get_progress(self, case: ReadCase) -> dict[str, int]:
        return {"signed": getattr(case, "tasks_signed", 0), "total": getattr(case, "tasks_total", 0)}


class ReassignSerializer(serializers.Serializer):
    # `from` is a Python keyword: the field is declared under another name and renamed below.
    from_ = serializers.CharField()
    to = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ReadCaseViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Read cases I may see (`?trial=CODE`); admins see subject codes and readers, readers codes only."""

    filterset_class = ReadCaseFilterSet
    serializer_class = ReadCaseSerializer

    def get_queryset(self) -> QuerySet[ReadCase]:
        return selectors.with_progress(selectors.read_case_list_for_user(user=self.request.user))

    def _managed(self) -> set[int]:
        if not hasattr(self, "_managed_ids"):
            self._managed_ids = selectors.managed_trial_ids(user=self.request.user)
        return self._managed_ids

    def _data(self, cases: list[ReadCase]) -> list[dict[str, Any]]:
        managed = self._managed()
        return [(ReadCaseAdminSerializer if c.trial_id in managed else ReadCaseSerializer)(c).data for c in cases]

    @extend_schema(responses=ReadCaseAdminSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._data(list(page or [])))

    @extend_schema(responses=ReadCaseAdminSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._data([self.get_object()])[0])

    @extend_schema(request=ReassignSerializer, responses=ReadCaseAdminSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        data = ReassignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.read_case_reassign(actor=request.user, case=case, from_username=data.validated_data["from"],
                                    to_username=data.validated_data["to"], reason=data.validated_data["reason"])
        return Response(self._data([self.get_queryset().get(pk=case.pk)])[0])


# --- read tasks ------------------------------------------------------------------------------------------


class ReadTaskSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="assignment.case.code")
    timepoint = serializers.CharField(source="visit.timepoint.label")
    timepoint_code = serializers.CharField(source="visit.timepoint.code")
    timepoint_order = serializers.IntegerField(source="sequence")
    order = serializers.SerializerMethodField()

    class Meta:
        model = ReadTask
        fields = ("id", "case", "timepoint", "timepoint_code", "timepoint_order", "order", "state",
                  "days_since_baseline")

    def get_order(self, task: ReadTask) -> int:
        return getattr(task, "worklist_order", 0)


class ReadTaskDetailSerializer(ReadTaskSerializer):
    series = serializers.SerializerMethodField()
    lesions = serializers.SerializerMethodField()
    response = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()
    signature = serializers.SerializerMethodField()

    class Meta(ReadTaskSerializer.Meta):
        fields = (*ReadTaskSerializer.Meta.fields, "series", "lesions", "response", "missing", "signature")

    def get_series(self, task: ReadTask) -> list[dict[str, Any]]:
        """This timepoint's series (none while the task waits)."""
        if task.state not in OPEN_TASK_STATES:
            return []
        user = self.context["request"].user
        return [{"id": s.pk, "description": s.description, "modality": s.modality, "series_number": s.series_number,
                 "instance_count": s.instance_count}
                for s in series_list_for_user(user=user, visit=task.visit)]

    def get_lesions(self, task: ReadTask) -> list[dict[str, Any]]:
        return []  # lesions and observations arrive with the reading issue

    def get_response(self, task: ReadTask) -> dict[str, Any] | None:
        return None

    def get_missing(self, task: ReadTask) -> list[dict[str, Any]]:
        return []

    def get_signature(self, task: ReadTask) -> dict[str, Any] | None:
        return None


def _numbered(tasks: list[ReadTask]) -> list[ReadTask]:
    """Give each task its position in the caller's worklist (1 = first), before any state filter."""
    for position, task in enumerate(tasks, start=1):
        task.worklist_order = position  # type: ignore[attr-defined]
    return tasks


class ReadTaskViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """My read tasks, waiting ones included, in my randomized order (`?trial=CODE&state=ready`)."""

    filterset_class = ReadTaskFilterSet
    serializer_class = ReadTaskSerializer

    def get_queryset(self) -> QuerySet[ReadTask]:
        return selectors.read_task_list_for_user(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filtered = self.filter_queryset(self.get_queryset())  # 400 for a bad ?state=
        state = request.query_params.get("state")
        unfiltered = self.get_queryset()
        if request.query_params.get("trial"):
            unfiltered = unfiltered.filter(assignment__case__trial__code=request.query_params["trial"])
        tasks = _numbered(list(unfiltered))
        if state:
            keep = set(filtered.values_list("pk", flat=True))
            tasks = [t for t in tasks if t.pk in keep]
        page = self.paginate_queryset(tasks)  # type: ignore[arg-type]
        return self.get_paginated_response(ReadTaskSerializer(page, many=True).data)

    @extend_schema(responses=ReadTaskDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        tasks = _numbered(list(self.get_queryset().filter(assignment__case__trial=task.assignment.case.trial)))
        task = next(t for t in tasks if t.pk == task.pk)
        return Response(ReadTaskDetailSerializer(task, context={"request": request}).data)
