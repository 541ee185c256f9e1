"""Routes of the reads API (api.md: read design, organs, read cases, read tasks)."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from reads import adjudication_api, api, package_api

app_name = "reads-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("read-cases", api.ReadCaseViewSet, basename="read-case")
router.register("read-tasks", api.ReadTaskViewSet, basename="read-task")
router.register("read-quality-queries", api.QualityQueryViewSet, basename="read-quality-query")
router.register("adjudications", adjudication_api.AdjudicationViewSet, basename="adjudication")
router.register("read-packages", package_api.ReadPackageViewSet, basename="read-package")

urlpatterns = [
    path("trials/<str:code>/read-design/", api.ReadDesignView.as_view(), name="read-design"),
    path("read-organs/", api.ReadOrganView.as_view(), name="read-organs"),
    path("read-results/", adjudication_api.ReadResultsView.as_view(), name="read-results"),
    path("read-metrics/", adjudication_api.ReadMetricsView.as_view(), name="read-metrics"),
    *router.urls,
]
