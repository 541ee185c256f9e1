"""The OpenAPI schema view: for authenticated users only, its errors answered in JSON."""
from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (YAML, or JSON on request) for authenticated users (session or token:
    SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]).

    The view's renderers are the schema's (YAML by default), so without this an anonymous client
    would get its 401 in YAML; errors are JSON like every other API answer.
    """

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return response
