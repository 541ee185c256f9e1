"""Submissions API: open, send files (multipart or resumable chunks), complete, follow progress."""
from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ictms.lib.errors import NotFoundError
from ictms.lib.filters import filtered_or_400
from imaging.choices import FileStatus
from imaging.intake import services
from imaging.intake.filters import SubmissionFileFilterSet, SubmissionFilterSet
from imaging.intake.selectors import (
    submission_file_counts,
    submission_file_counts_many,
    submission_files,
    submission_get_for_user,
    submission_list_for_user,
)
from imaging.models import Submission, SubmissionFile
from trials.selectors import visit_get_for_user


class SubmissionFileOutputSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    archive = serializers.IntegerField(source="parent_id", allow_null=True)
    instance = serializers.IntegerField(source="stored_instance_id", allow_null=True)

    class Meta:
        model = SubmissionFile
        fields = ["id", "ordinal", "archive", "client_key", "name", "size", "received_bytes", "status", "reason",
                  "reason_code", "flags", "instance", "processed_at"]


class SubmissionOutputSerializer(serializers.ModelSerializer):
    visit = serializers.IntegerField(source="visit_id")
    subject_code = serializers.CharField(source="visit.participant.subject_code")
    timepoint = serializers.CharField(source="visit.timepoint.code")
    opened_by = serializers.CharField(source="opened_by.username")
    counts = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "visit", "subject_code", "timepoint", "state", "comment", "scan_date", "opened_by", "opened_at",
                  "completed_at", "finished_at", "counts", "errors"]

    def get_counts(self, obj: Submission) -> dict[str, int]:
        raw = self.context.get("counts", {}).get(obj.pk)
        if raw is None:
            raw = submission_file_counts(submission=obj)
        counts = {s.value: raw.get(s.value, 0) for s in FileStatus}
        counts["files"] = sum(v for k, v in raw.items() if k != FileStatus.EXPANDED)
        return counts

    def get_errors(self, obj: Submission) -> list[dict[str, Any]]:
        if not self.context.get("with_errors"):
            return []
        rejected = obj.files.filter(status=FileStatus.REJECTED).order_by("id")[:1000]
        return [{"file": f.pk, "name": f.display_name, "reason": f.reason, "reason_code": f.reason_code} for f in rejected]


class SubmissionOpenInputSerializer(serializers.Serializer):
    visit = serializers.IntegerField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    scan_date = serializers.DateField(required=False, allow_null=True, default=None)


class UploadStartInputSerializer(serializers.Serializer):
    client_key = serializers.CharField(max_length=64)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=4096)
    size = serializers.IntegerField(min_value=0)


CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class SubmissionViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """A site's submission of images for one visit.

    Scripts: POST /api/submissions/ {visit, comment, scan_date}; POST .../files/ (multipart, any
    number of DICOM files or zip archives); POST .../complete/; GET .../ until state is done.
    Browsers: POST .../uploads/ {client_key, name, size} then PUT .../uploads/{id}/ chunks with
    Content-Range; an interrupted upload resumes at the returned received_bytes.
    """

    serializer_class = SubmissionOutputSerializer
    filterset_class = SubmissionFilterSet

    def get_queryset(self):
        return submission_list_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["with_errors"] = self.action in ("retrieve", "complete")
        return context

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        counts = submission_file_counts_many(submission_ids=[s.pk for s in page])
        data = SubmissionOutputSerializer(page, many=True, context={**self.get_serializer_context(), "counts": counts}).data
        return self.get_paginated_response(data)

    @extend_schema(request=SubmissionOpenInputSerializer, responses=SubmissionOutputSerializer)
    def create(self, request: Request) -> Response:
        data = SubmissionOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        visit = visit_get_for_user(user=request.user, pk=data.validated_data["visit"])
        submission = services.submission_open(actor=request.user, visit=visit, comment=data.validated_data["comment"],
                                              scan_date=data.validated_data["scan_date"])
        return Response(self.get_serializer(submission).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        # The files' own filters (SubmissionFileFilterSet), not the submission list's.
        methods=["GET"], filters=False,
        parameters=[OpenApiParameter("since", int, description="only files with a larger id"),
                    OpenApiParameter("status", str, enum=FileStatus.values),
                    OpenApiParameter("processed_after", OpenApiTypes.DATETIME, description="ISO time: files finished since")],
        responses=SubmissionFileOutputSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": inline_serializer("SubmissionFilesUpload", {"files": serializers.ListField(
            child=serializers.FileField())})},
        responses=SubmissionFileOutputSerializer(many=True),
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser])
    def files(self, request: Request, pk: str | None = None) -> Response:
        submission = self.get_object()
        if request.method == "POST":
            uploads = [f for name in request.FILES for f in request.FILES.getlist(name)]
            created = services.submission_files_add(actor=request.user, submission=submission, uploads=uploads)
            created = SubmissionFile.objects.filter(pk__in=[f.pk for f in created]).order_by("id")
            return Response(SubmissionFileOutputSerializer(created, many=True).data, status=status.HTTP_201_CREATED)
        qs = filtered_or_400(SubmissionFileFilterSet(request.query_params, queryset=submission_files(
            submission=submission), request=request))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SubmissionFileOutputSerializer(page, many=True).data)

    @extend_schema(request=None, responses=SubmissionOutputSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        submission = services.submission_complete(actor=request.user, submission=self.get_object())
        submission = submission_get_for_user(user=request.user, pk=submission.pk)
        return Response(self.get_serializer(submission).data)

    @extend_schema(request=UploadStartInputSerializer, responses=SubmissionFileOutputSerializer)
    @action(detail=True, methods=["post"])
    def uploads(self, request: Request, pk: str | None = None) -> Response:
        data = UploadStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = services.submission_upload_start(actor=request.user, submission=self.get_object(), **data.validated_data)
        body = SubmissionFileOutputSerializer(f).data
        body["chunk_size"] = settings.UPLOAD_CHUNK_MB * 2**20
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["PUT"], request={"application/octet-stream": bytes}, responses=SubmissionFileOutputSerializer,
        parameters=[OpenApiParameter("Content-Range", str, location=OpenApiParameter.HEADER,
                                     description="bytes START-END/TOTAL")],
    )
    @action(detail=True, methods=["get", "put"], url_path=r"uploads/(?P<file_id>\d+)", parser_classes=[FileUploadParser])
    def upload_chunk(self, request: Request, pk: str | None = None, file_id: str | None = None) -> Response:
        submission = self.get_object()
        f = SubmissionFile.objects.select_related("submission__visit__participant__site").filter(
            submission=submission, pk=int(file_id or 0), parent__isnull=True).first()
        if f is None:
            raise NotFoundError("No such upload.")
        if request.method == "GET":
            return Response(SubmissionFileOutputSerializer(f).data)
        match = CONTENT_RANGE.match(request.headers.get("Content-Range", ""))
        if not match:
            return Response({"detail": "Send a Content-Range header: bytes START-END/TOTAL."}, status=400)
        start, end, total = (int(x) for x in match.groups())
        if total != f.size or end < start:
            return Response({"detail": f"The range does not fit this file of {f.size} bytes."}, status=400)
        try:
            # The raw WSGI stream: the chunk is copied to disk in blocks, never read whole.
            f = services.submission_upload_append(actor=request.user, upload=f, offset=start, stream=request._request,
                                                  length=end - start + 1)
        except services.OffsetMismatch as exc:
            return Response({"detail": exc.message, "received_bytes": exc.offset}, status=status.HTTP_409_CONFLICT)
        return Response(SubmissionFileOutputSerializer(f).data)
