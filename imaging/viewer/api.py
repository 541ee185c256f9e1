"""Viewer API: series and instances a user may see, an instance's header, and measurements.

Every queryset comes from the stage selectors (imaging.archive.selectors, imaging.viewer.selectors) (scoped to the caller's participants), so an
object the caller may not see answers 404; writes go through imaging.viewer.measurements.
The frame and thumbnail endpoints are plain Django views (imaging.viewer.frames) for speed.
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from pydicom import dcmread
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ictms.lib.api import BoundedLimitOffsetPagination
from imaging.archive.selectors import instance_get_for_user, instance_list_for_user, series_list_for_user
from imaging.dicomweb.blinding import dataset_for_user, needs_blinding, text_for_user
from imaging.models import Instance, Measurement, Series
from imaging.qc.api import FindingOutputSerializer
from imaging.qc.selectors import current_findings, with_qc
from imaging.viewer import measurements as measurement_services
from imaging.viewer import render
from imaging.viewer.files import instance_path
from imaging.viewer.filters import InstanceFilterSet, MeasurementFilterSet, SeriesFilterSet
from imaging.viewer.geometry import slice_position, stack_order
from imaging.viewer.selectors import measurement_list_for_user

# --- spacing as recorded on the instance row ----------------------------------------------------


def row_spacing(instance: Instance) -> tuple[list[float] | None, str]:
    """(pixel spacing [row, column] mm, its source) from the row's recorded header values.

    The pipeline records the result of imaging.viewer.render.pixel_spacing: the values in
    `pixel_spacing` and the element they came from in header["PixelSpacingSource"]. Rows
    without that key predate it and hold PixelSpacing.
    """
    spacing = instance.pixel_spacing
    if not spacing:
        return None, ""
    header = instance.header or {}
    source = str(header.get("PixelSpacingSource") or "PixelSpacing")
    return [float(v) for v in spacing], source


# --- serializers --------------------------------------------------------------------------------


# What a blinded reader is not told of a series: who decided QC and when, what they wrote, what
# the automated checks found (their messages and details can name a site, a date or a scanner).
BLINDED_SERIES_FIELDS: dict[str, Any] = {
    "qc_comment": "", "qc_by": "", "qc_at": None, "findings": [], "burned_in_reason": "",
}


class SeriesOutputSerializer(serializers.ModelSerializer):
    """A series as the viewer lists it. Fields grow (the QC issue adds qc_status and findings).

    For a blinded user (imaging.dicomweb.blinding.needs_blinding) the QC comment, decider, time,
    findings and burned-in reason are blank, and a description naming the participant is emptied.
    """

    visit = serializers.IntegerField(source="study.visit_id", read_only=True)
    timepoint = serializers.CharField(source="study.visit.timepoint.code", read_only=True)
    timepoint_label = serializers.CharField(source="study.visit.timepoint.label", read_only=True)
    study_uid = serializers.CharField(source="study.study_uid", read_only=True)
    instance_count = serializers.IntegerField(read_only=True)
    thumbnail_url = serializers.SerializerMethodField()
    qc_by = serializers.CharField(source="qc_by.username", default="", read_only=True)
    findings = serializers.SerializerMethodField()

    class Meta:
        model = Series
        fields = (
            "id", "study", "study_uid", "series_uid", "visit", "timepoint", "timepoint_label", "modality",
            "series_number", "description", "body_part", "instance_count", "burned_in_annotation",
            "burned_in_reason", "thumbnail_url", "qc_status", "qc_reason", "qc_comment", "qc_by", "qc_at", "findings",
        )

    def to_representation(self, instance: Series) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        user = getattr(self.context.get("request"), "user", None)
        if user is not None and needs_blinding(user, instance):
            data.update({name: list(value) if isinstance(value, list) else value
                         for name, value in BLINDED_SERIES_FIELDS.items()})
            data["description"] = text_for_user(user, instance, instance.description)
        return data

    def get_thumbnail_url(self, series: Series) -> str:
        return reverse("imaging-viewer-api:series-thumbnail", kwargs={"pk": series.pk})

    @extend_schema_field(FindingOutputSerializer(many=True))
    def get_findings(self, series: Series) -> list[dict[str, Any]]:
        """The current automated QC findings (preloaded by the viewset's queryset)."""
        return FindingOutputSerializer(current_findings(series), many=True).data


class InstanceOutputSerializer(serializers.ModelSerializer):
    pixel_spacing = serializers.SerializerMethodField()
    spacing_source = serializers.SerializerMethodField()
    spacing_warning = serializers.SerializerMethodField()
    slice_position = serializers.SerializerMethodField()

    class Meta:
        model = Instance
        fields = (
            "id", "series", "sop_uid", "sop_class_uid", "instance_number", "rows", "columns", "number_of_frames",
            "photometric_interpretation", "transfer_syntax_uid", "pixel_spacing", "spacing_source",
            "spacing_warning", "image_position", "image_orientation", "slice_location", "slice_position",
            "slice_thickness", "spacing_between_slices",
        )

    def get_pixel_spacing(self, instance: Instance) -> list[float] | None:
        return row_spacing(instance)[0]

    def get_spacing_source(self, instance: Instance) -> str:
        return row_spacing(instance)[1]

    def get_spacing_warning(self, instance: Instance) -> str:
        return measurement_services.spacing_message(row_spacing(instance)[1])

    def get_slice_position(self, instance: Instance) -> float | None:
        return slice_position(instance.image_position, instance.image_orientation)


class MeasurementOutputSerializer(serializers.ModelSerializer):
    series = serializers.IntegerField(source="instance.series_id", read_only=True)
    sop_uid = serializers.CharField(source="instance.sop_uid", read_only=True)
    length_mm = serializers.FloatField(read_only=True)
    short_axis_mm = serializers.FloatField(read_only=True)
    length_px = serializers.SerializerMethodField()
    short_axis_px = serializers.SerializerMethodField()
    spacing_warning = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    can_edit = serializers.SerializerMethodField()

    class Meta:
        model = Measurement
        fields = (
            "id", "instance", "series", "sop_uid", "frame", "kind", "points", "length_mm", "short_axis_mm",
            "length_px", "short_axis_px", "spacing_source", "spacing_warning", "message", "label", "created_by",
            "created_at", "updated_at", "can_edit",
        )

    @staticmethod
    def _px(points: list[list[float]]) -> float:
        (x1, y1), (x2, y2) = points
        return round(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 2)

    def get_length_px(self, m: Measurement) -> float:
        return self._px(m.points[:2])

    def get_short_axis_px(self, m: Measurement) -> float | None:
        return self._px(m.points[2:4]) if len(m.points) == 4 else None

    def get_spacing_warning(self, m: Measurement) -> bool:
        return m.spacing_source in measurement_services.UNCALIBRATED_SOURCES

    def get_message(self, m: Measurement) -> str:
        return measurement_services.spacing_message(m.spacing_source)

    def get_can_edit(self, m: Measurement) -> bool:
        request = self.context.get("request")
        return bool(request and request.user.pk == m.created_by_id)


class PointField(serializers.ListField):
    child = serializers.FloatField()


class MeasurementCreateInputSerializer(serializers.Serializer):
    instance = serializers.IntegerField()
    frame = serializers.IntegerField(min_value=0, default=0)
    kind = serializers.ChoiceField(choices=["line", "bidirectional"], default="line")
    points = serializers.ListField(child=PointField(min_length=2, max_length=2), min_length=2, max_length=4)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class MeasurementUpdateInputSerializer(serializers.Serializer):
    points = serializers.ListField(child=PointField(min_length=2, max_length=2), min_length=2, max_length=4,
                                   required=False)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)


class HeaderRowSerializer(serializers.Serializer):
    tag = serializers.CharField()
    keyword = serializers.CharField()
    vr = serializers.CharField()
    value = serializers.CharField()
    depth = serializers.IntegerField()


class HeaderOutputSerializer(serializers.Serializer):
    instance = serializers.IntegerField()
    rows = HeaderRowSerializer(many=True)


# --- viewsets -------------------------------------------------------------------------------------


class StackPagination(BoundedLimitOffsetPagination):
    """A whole series in one page: the viewer needs every slice to build its stack."""

    default_limit = 2000
    max_limit = 5000


class SeriesViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """De-identified series I may see, for a visit (?visit=) or a participant (?participant=)."""

    serializer_class = SeriesOutputSerializer
    filterset_class = SeriesFilterSet

    def get_queryset(self) -> QuerySet[Series]:
        return with_qc(series_list_for_user(user=self.request.user))


class InstanceViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Instances of a series (?series=), in stack order: along the slice normal, else by number."""

    serializer_class = InstanceOutputSerializer
    pagination_class = StackPagination
    filterset_class = InstanceFilterSet

    def get_queryset(self) -> QuerySet[Instance]:
        return instance_list_for_user(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instances = list(self.filter_queryset(self.get_queryset()))  # 400 for a bad ?series=
        if request.query_params.get("series"):
            instances = stack_order(
                instances,
                position=lambda i: slice_position(i.image_position, i.image_orientation),
                number=lambda i: i.instance_number,
            )
        page = self.paginate_queryset(instances)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses=HeaderOutputSerializer)
    @action(detail=True, methods=["get"])
    def header(self, request: Request, pk: str | None = None) -> Response:
        """The de-identified header of the stored file, as rows for the viewer's side panel."""
        instance = self.get_object()
        ds = dcmread(instance_path(instance.storage_key, instance.sha256), stop_before_pixels=True)
        ds = dataset_for_user(request.user, instance, ds)
        rows = [
            {"tag": row.tag, "keyword": row.keyword, "vr": row.vr, "value": row.value, "depth": row.depth}
            for row in render.header_summary(ds)
        ]
        return Response({"instance": instance.pk, "rows": rows})


class MeasurementViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Calipers and bidirectional measurements on images I may see (?instance= or ?series=).

    POST {instance, frame, kind, points, label} draws one; PATCH {points, label} moves it;
    DELETE removes it (kept in the history). Lengths in mm are computed by the server.
    """

    serializer_class = MeasurementOutputSerializer
    pagination_class = StackPagination
    filterset_class = MeasurementFilterSet

    def get_queryset(self) -> QuerySet[Measurement]:
        return measurement_list_for_user(user=self.request.user).select_related("instance__series")

    @extend_schema(request=MeasurementCreateInputSerializer, responses=MeasurementOutputSerializer)
    def create(self, request: Request) -> Response:
        data = MeasurementCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        instance = instance_get_for_user(user=request.user, pk=values.pop("instance"))
        measurement = measurement_services.measurement_create(actor=request.user, instance=instance, **values)
        return Response(self.get_serializer(measurement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MeasurementUpdateInputSerializer, responses=MeasurementOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        measurement = self.get_object()
        data = MeasurementUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        measurement = measurement_services.measurement_update(actor=request.user, measurement=measurement,
                                                              **data.validated_data)
        return Response(self.get_serializer(measurement).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        reason = str(request.data.get("reason", "")) if isinstance(request.data, dict) else ""
        measurement_services.measurement_delete(actor=request.user, measurement=self.get_object(), reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)
