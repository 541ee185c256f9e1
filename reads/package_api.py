"""The read-package API: request a package, follow its build, download the zip (the trial's sponsor and admins only).

`POST /api/read-packages/ {"trial", "cutoff"?, "subjects"?}` queues a package (201); the Celery
task builds it. `GET /api/read-packages/?trial=CODE` and `/{id}/` show state, progress, size,
SHA-256 and build time; `/{id}/download/` streams the zip from storage (audited). Everyone
else gets 404.
"""
from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from reads import packages
from reads.models import ReadPackage
from trials.selectors import trial_get_for_user


class ReadPackageSerializer(serializers.ModelSerializer):
    trial = serializers.CharField(source="trial.code", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    progress_pct = serializers.FloatField(read_only=True)

    class Meta:
        model = ReadPackage
        fields = ["id", "trial", "requested_by", "cutoff", "subjects", "state", "files_written", "files_total",
                  "progress_pct", "size", "sha256", "error", "created_at", "built_at"]
        read_only_fields = fields


class ReadPackageRequestSerializer(serializers.Serializer):
    trial = serializers.CharField()
    cutoff = serializers.DateField(required=False, allow_null=True)
    subjects = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True, allow_empty=False)


class ReadPackageViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Read packages of the trials I sponsor or administer, newest first (`?trial=CODE`).

    The default permission classes refuse anonymous callers, so the actor is always a user."""

    serializer_class = ReadPackageSerializer

    def get_queryset(self) -> QuerySet[ReadPackage]:
        qs = packages.read_package_list_for_user(user=self.request.user).select_related("requested_by")
        code = self.request.query_params.get("trial")
        return qs.filter(trial__code=code) if code else qs

    @extend_schema(request=ReadPackageRequestSerializer, responses={201: ReadPackageSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ReadPackageRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trial = trial_get_for_user(user=request.user, code=data.validated_data["trial"])
        package = packages.read_package_request(actor=cast(User, request.user), trial=trial,
                                                cutoff=data.validated_data.get("cutoff"),
                                                subjects=data.validated_data.get("subjects"))
        return Response(ReadPackageSerializer(package).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        package = self.get_object()
        handle = packages.read_package_download(actor=cast(User, request.user), package=package)
        return FileResponse(handle, as_attachment=True, filename=package.download_name, content_type="application/zip")
