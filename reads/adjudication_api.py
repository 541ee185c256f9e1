"""The adjudication, results and metrics API of api.md (`/api/adjudications/`, `/api/read-results/`,
`/api/read-metrics/`). Adjudicators see their own rounds, blinded (case codes, Reader 1 / Reader 2,
timepoint labels and days since baseline); admins see all; results and metrics follow reads.md."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ictms.lib.errors import NotFoundError
from reads import adjudication as adj
from reads import live
from reads.choices import AdjudicationReason, ReadTaskState, ResultSource
from reads.models import Adjudication
from trials.selectors import trial_access, trial_get_for_user


class AdjudicationSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.code")
    trial = serializers.CharField(source="case.trial.code")

    class Meta:
        model = Adjudication
        fields = ("id", "trial", "case", "round", "state", "triggers", "up_to", "created_at", "selected",
                  "reason_code", "rationale", "printed_name", "meaning", "decided_at", "content_sha256")


def _observation(read: live.Read, lesion: Any, task: Any) -> dict[str, Any] | None:
    obs = read.observation(lesion, task)
    if obs is None:
        return None
    value = live.diameter(lesion, obs)
    m = obs.measurement
    return {"timepoint": task.visit.timepoint.label, "timepoint_order": task.sequence, "kind": obs.kind,
            "status": obs.status, "diameter_mm": None if value is None else float(value),
            "measurement": None if m is None else {"id": m.pk, "instance": m.instance_id, "series": m.instance.series_id,
                                                   "frame": m.frame, "points": m.points}}


def read_summary(read: live.Read, up_to: int) -> dict[str, Any]:
    """One reader's read as the adjudicator compares it: signed timepoints up to `up_to`."""
    tasks = [t for t in read.tasks if t.sequence <= up_to and t.state == ReadTaskState.SIGNED]
    followups = [t for t in tasks if t.sequence > 0]
    last = (followups[-1].response or {}) if followups else {}
    return {
        "reader": read.assignment.slot,
        "timepoints": [
            {"timepoint": t.visit.timepoint.label, "timepoint_order": t.sequence,
             "days_since_baseline": t.days_since_baseline,
             **{k: (t.response or {}).get(k) for k in ("sum_mm", "target", "non_target", "new_lesions", "overall")}}
            for t in tasks],
        "best_response": last.get("best_response"),
        "progression_timepoint": last.get("progression_timepoint"),
        "progression_days_since_baseline": next(
            (t.days_since_baseline for t in followups if t.visit.timepoint.label == last.get("progression_timepoint")),
            None),
        "lesions": [
            {"label": lesion.label, "kind": lesion.kind, "organ": lesion.organ, "location": lesion.location,
             "lymph_node": lesion.lymph_node,
             "observations": [o for t in tasks if (o := _observation(read, lesion, t)) is not None]}
            for lesion in read.lesions if any(lesion.created_in_id == t.pk for t in read.tasks
                                              if t.sequence <= up_to)],
    }


def adjudication_detail(adjudication: Adjudication) -> dict[str, Any]:
    data = dict(AdjudicationSerializer(adjudication).data)
    reads = [live.load_read(a) for a in adjudication.case.assignments.order_by("slot")]
    data["reads"] = [read_summary(r, adjudication.up_to) for r in reads]
    return data


class DecideSerializer(serializers.Serializer):
    selected = serializers.IntegerField()
    reason_code = serializers.ChoiceField(choices=AdjudicationReason.choices)
    rationale = serializers.CharField(allow_blank=True)
    password = serializers.CharField(trim_whitespace=False)


class AdjudicationViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """My adjudications (adjudicator) or every round of my trials (admin), oldest first; `?trial=CODE`."""

    serializer_class = AdjudicationSerializer

    def get_queryset(self) -> QuerySet[Adjudication]:
        qs = adj.adjudication_list_for_user(user=self.request.user)
        code = self.request.query_params.get("trial")
        state = self.request.query_params.get("state")
        if code:
            qs = qs.filter(case__trial__code=code)
        if state:
            qs = qs.filter(state=state)
        return qs

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(adjudication_detail(self.get_object()))

    @extend_schema(request=DecideSerializer, responses=AdjudicationSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        adjudication = self.get_object()
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = adj.adjudication_decide(actor=request.user, adjudication=adjudication, request=request._request,
                                          **data.validated_data)
        return Response(adjudication_detail(self.get_queryset().get(pk=decided.pk)), status=status.HTTP_200_OK)


def result_row(row: adj.CaseResult) -> dict[str, Any]:
    return {"case": row.case.code, "subject_code": row.case.participant.subject_code, "timepoint": row.timepoint,
            "timepoint_code": row.timepoint_code, "timepoint_order": row.timepoint_order, "source": row.source,
            "reader": row.slot, "overall": row.value("overall"), "sum_mm": row.value("sum_mm"),
            "target": row.value("target"), "non_target": row.value("non_target"),
            "new_lesions": row.value("new_lesions"), "best_response": row.value("best_response"),
            "progression_timepoint": row.value("progression_timepoint")}


def _access(request: Request) -> Any:
    code = request.query_params.get("trial", "")
    return trial_access(user=request.user, trial=trial_get_for_user(user=request.user, code=code))


class ResultRowSerializer(serializers.Serializer):
    case = serializers.CharField()
    subject_code = serializers.CharField()
    timepoint = serializers.CharField()
    timepoint_code = serializers.CharField()
    timepoint_order = serializers.IntegerField()
    source = serializers.ChoiceField(choices=ResultSource.choices)
    reader = serializers.IntegerField(allow_null=True)
    overall = serializers.CharField(allow_null=True)
    sum_mm = serializers.FloatField(allow_null=True)
    target = serializers.CharField(allow_null=True)
    non_target = serializers.CharField(allow_null=True)
    new_lesions = serializers.CharField(allow_null=True)
    best_response = serializers.CharField(allow_null=True)
    progression_timepoint = serializers.CharField(allow_null=True)


class ReadResultsView(APIView):
    """`GET /api/read-results/?trial=CODE`: each case's result per timepoint (admin, sponsor).

    Pending rows (an adjudication is open) are the admin's only; the sponsor sees final rows.
    """

    serializer_class = ResultRowSerializer

    @extend_schema(parameters=[OpenApiParameter("trial", str, required=True)],
                   responses=inline_serializer("ReadResults", {"results": ResultRowSerializer(many=True)}))
    def get(self, request: Request) -> Response:
        rows = adj.results_for(_access(request))
        if rows is None:
            raise NotFoundError("No such trial.")
        return Response({"results": [result_row(r) for r in rows]})


class ReadMetricsView(APIView):
    """`GET /api/read-metrics/?trial=CODE`: reader metrics of reads.md (admin by name; QC and sponsor
    with stable pseudonyms)."""

    @extend_schema(parameters=[OpenApiParameter("trial", str, required=True)],
                   responses=inline_serializer("ReadMetrics", {
                       "overall": serializers.DictField(), "readers": serializers.ListField(),
                       "pairs": serializers.ListField(), "p_charts": serializers.ListField()}))
    def get(self, request: Request) -> Response:
        report = adj.metrics_for(_access(request))
        if report is None:
            raise NotFoundError("No such trial.")
        return Response(report.to_dict())
