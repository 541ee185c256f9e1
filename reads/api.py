"""The reads API of api.md: read design, organs, read cases (with reassignment), read tasks.

Scoping is the selectors': an admin sees every case of their trials with its subject code; a
reader sees their own cases by code only and their own tasks; everyone else sees none (404).
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ictms.lib.errors import NotFoundError
from imaging.archive.selectors import series_list_for_user
from reads import live, quality, reading, selectors, services
from reads.choices import OPEN_TASK_STATES, ORGANS, SIGNATURE_MEANING, Paradigm, ReportedRead, Trigger
from reads.filters import ReadCaseFilterSet, ReadTaskFilterSet
from reads.models import (
    Lesion,
    Observation,
    QualityQuery,
    ReadCase,
    ReadDesign,
    ReadTask,
    ReopenRequest,
    Signature,
)
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


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class NotDoneSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)


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

    @extend_schema(request=NotDoneSerializer)
    @action(detail=True, methods=["post"], url_path="not-done")
    def not_done(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        data = NotDoneSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tasks = reading.read_case_not_done(actor=request.user, case=case, **data.validated_data)
        return Response({"tasks": [{"id": t.pk, "state": t.state} for t in tasks]})


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


def _observation(obs: Observation | None, lesion: Lesion) -> dict[str, Any] | None:
    if obs is None:
        return None
    m = obs.measurement
    value = live.diameter(lesion, obs)
    return {
        "kind": obs.kind, "status": obs.status, "reason": obs.reason,
        "diameter_mm": None if value is None else float(value),
        "measurement": None if m is None else {
            "id": m.pk, "instance": m.instance_id, "series": m.instance.series_id, "frame": m.frame, "kind": m.kind,
            "points": m.points, "length_mm": None if m.length_mm is None else float(m.length_mm),
            "short_axis_mm": None if m.short_axis_mm is None else float(m.short_axis_mm),
        },
    }


def _signature(sig: Signature) -> dict[str, Any]:
    return {"printed_name": sig.printed_name, "meaning": sig.meaning, "signed_at": sig.signed_at,
            "sha256": sig.content_sha256, "superseded": sig.superseded, "superseded_at": sig.superseded_at,
            "superseded_reason": sig.superseded_reason}


def task_detail(task: ReadTask, user: Any) -> dict[str, Any]:
    """One task as its reader sees it (api.md `/api/read-tasks/{id}/`), in a fixed number of queries."""
    data = dict(ReadTaskSerializer(task).data)
    open_ = task.state in OPEN_TASK_STATES
    data["series"] = [] if not open_ else [
        {"id": s.pk, "description": s.description, "modality": s.modality, "series_number": s.series_number,
         "instance_count": s.instance_count} for s in series_list_for_user(user=user, visit=task.visit)]
    read = live.load_read(task.assignment)
    earlier = [t for t in read.tasks if t.sequence < task.sequence]
    data["lesions"] = [] if not open_ else [
        {"id": lesion.pk, "label": lesion.label, "kind": lesion.kind, "organ": lesion.organ,
         "location": lesion.location, "lymph_node": lesion.lymph_node, "added_here": lesion.created_in_id == task.pk,
         "observation": _observation(read.observation(lesion, task), lesion),
         "prior": [{"timepoint": t.visit.timepoint.label, "timepoint_order": t.sequence,
                    "observation": _observation(read.observation(lesion, t), lesion)} for t in earlier
                   if read.observation(lesion, t) is not None]}
        for lesion in read.lesions_at(task)]
    data["new_lesions_none"] = task.new_lesions_none
    if open_:
        result = reading.task_result(task=task, read=read)
        data["response"], data["missing"] = result["response"], result["missing"]
    else:
        data["response"], data["missing"] = None, []
    signatures = list(task.signatures.order_by("signed_at"))
    current = next((sig for sig in signatures if not sig.superseded), None)
    data["signature"] = None if current is None else _signature(current)
    data["signature_history"] = [_signature(sig) for sig in signatures if sig.superseded]
    data["quality_queries"] = [_quality_query(q) for q in task.quality_queries.order_by("created_at")]
    return data


def _quality_query(query: QualityQuery) -> dict[str, Any]:
    """A reader's image-quality query as its reader sees it (QC's answer, never who answered)."""
    return {"id": query.pk, "state": query.state, "message": query.message, "answer": query.answer,
            "created_at": query.created_at, "answered_at": query.answered_at}


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField(allow_blank=True)


class QualityQuerySerializer(serializers.ModelSerializer):
    """A reader's image-quality query as QC sees it (unblinded: the subject and timepoint)."""

    case = serializers.CharField(source="task.assignment.case.code")
    subject_code = serializers.CharField(source="task.assignment.case.participant.subject_code")
    visit = serializers.IntegerField(source="task.visit_id")
    timepoint = serializers.CharField(source="task.visit.timepoint.label")
    reader = serializers.SerializerMethodField()

    class Meta:
        model = QualityQuery
        fields = ("id", "case", "subject_code", "visit", "timepoint", "reader", "state", "message", "answer",
                  "created_at", "answered_at")

    def get_reader(self, query: QualityQuery) -> str:
        return f"Reader {query.task.assignment.slot}"


class QualityQueryViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Readers' image-quality queries (QC analysts and trial admins; `?trial=CODE`)."""

    serializer_class = QualityQuerySerializer

    def get_queryset(self) -> QuerySet[QualityQuery]:
        qs = quality.quality_query_list_for_user(user=self.request.user).filter(
            task__assignment__case__trial__in=selectors.trials_with(self.request.user, "trials.perform_qc"))
        code = self.request.query_params.get("trial")
        return qs.filter(task__assignment__case__trial__code=code) if code else qs

    @extend_schema(request=MessageSerializer, responses=QualityQuerySerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str | None = None) -> Response:
        data = MessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = quality.quality_query_answer(actor=request.user, query=self.get_object(),
                                             message=data.validated_data["message"])
        return Response(QualityQuerySerializer(self.get_queryset().get(pk=query.pk)).data)


class LesionInputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    organ = serializers.CharField()
    location = serializers.CharField(required=False, allow_blank=True, default="")
    lymph_node = serializers.BooleanField(required=False, default=False)
    measurement = serializers.IntegerField(required=False, allow_null=True, default=None)
    status = serializers.CharField(required=False, allow_blank=True, default="")


class ObservationInputSerializer(serializers.Serializer):
    lesion = serializers.IntegerField()
    measurement = serializers.IntegerField(required=False, allow_null=True, default=None)
    disappeared = serializers.BooleanField(required=False, default=False)
    too_small = serializers.BooleanField(required=False, default=False)
    not_evaluable = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    status = serializers.CharField(required=False, allow_blank=True, default="")
    diameter_mm = serializers.JSONField(required=False, write_only=True)

    def validate_diameter_mm(self, value: Any) -> Any:
        raise serializers.ValidationError("Diameters are never typed: record a measurement taken in the viewer.")


class TaskPatchSerializer(serializers.Serializer):
    new_lesions = serializers.ChoiceField(choices=[("none", "none"), ("unanswered", "unanswered")])


class SignSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False)
    meaning = serializers.CharField(required=False, default=SIGNATURE_MEANING)


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

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._detail(self.get_object()))

    def _detail(self, task: ReadTask) -> dict[str, Any]:
        tasks = _numbered(list(self.get_queryset().filter(assignment__case__trial=task.assignment.case.trial)))
        task = next(t for t in tasks if t.pk == task.pk)
        return task_detail(task, self.request.user)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        task = reading.read_task_start(actor=request.user, task=self.get_object())
        return Response(self._detail(task))

    @extend_schema(request=TaskPatchSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        data = TaskPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reading.new_lesions_none_set(actor=request.user, task=task, none=data.validated_data["new_lesions"] == "none")
        return Response(self._detail(task))

    @extend_schema(request=LesionInputSerializer)
    @action(detail=True, methods=["post"])
    def lesions(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        data = LesionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        measurement = values.pop("measurement")
        lesion = reading.lesion_add(actor=request.user, task=task, measurement=measurement, **values)
        detail = self._detail(task)
        row = next(row for row in detail["lesions"] if row["id"] == lesion.pk)
        return Response({**row, "task": detail}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["delete"], url_path=r"lesions/(?P<lesion>[0-9]+)")
    def lesion(self, request: Request, pk: str | None = None, lesion: str | None = None) -> Response:
        reading.lesion_remove(actor=request.user, task=self.get_object(), lesion=int(lesion or 0))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ObservationInputSerializer)
    @action(detail=True, methods=["post"])
    def observations(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        data = ObservationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        lesion = values.pop("lesion")
        measurement = values.pop("measurement")
        reading.observation_record(actor=request.user, task=task, lesion=lesion,
                                   measurement=measurement, **values)
        return Response(self._detail(task), status=status.HTTP_201_CREATED)

    @extend_schema(request=MessageSerializer)
    @action(detail=True, methods=["post"], url_path="quality-queries")
    def quality_queries(self, request: Request, pk: str | None = None) -> Response:
        """Ask QC about this timepoint's image quality (the task stays unsigned until QC answers)."""
        task = self.get_object()
        data = MessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quality.quality_query_raise(actor=request.user, task=task, message=data.validated_data["message"])
        return Response(self._detail(task), status=status.HTTP_201_CREATED)

    @extend_schema(request=SignSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        data = SignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            reading.read_task_sign(actor=request.user, task=task, request=request._request, **data.validated_data)
        except reading.IncompleteRead as exc:
            return Response({"detail": exc.message, "missing": exc.missing}, status=status.HTTP_409_CONFLICT)
        task.refresh_from_db()
        return Response(self._detail(task))

    def _admin_task(self, pk: str | None) -> ReadTask:
        """The task an admin action names (the services scope it: 404 outside the admin's trials)."""
        task = ReadTask.objects.filter(pk=int(pk or 0)).first()
        if task is None:
            raise NotFoundError("No such read task.")
        return task

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        """Re-open a signed timepoint (trial admin); 202 when a second admin must approve."""
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = reading.read_task_reopen(actor=request.user, task=self._admin_task(pk),
                                          reason=data.validated_data["reason"])
        if isinstance(result, ReopenRequest):
            return Response({"state": "pending_approval", "request": result.pk,
                             "detail": "Re-open requested: a second trial admin must approve it."},
                            status=status.HTTP_202_ACCEPTED)
        return Response({"id": result.pk, "state": result.state})

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="reopen/approve")
    def reopen_approve(self, request: Request, pk: str | None = None) -> Response:
        task = reading.read_task_reopen_approve(actor=request.user, task=self._admin_task(pk))
        return Response({"id": task.pk, "state": task.state})
