"""Routes of the viewer API: series, instances (+ header), measurements, rendered frames, thumbnails."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from imaging.viewer import api as viewer
from imaging.viewer import frames

app_name = "imaging-viewer-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("series", viewer.SeriesViewSet, basename="series")
router.register("instances", viewer.InstanceViewSet, basename="instance")
router.register("measurements", viewer.MeasurementViewSet, basename="measurement")

urlpatterns = [
    path("instances/<int:pk>/frames/<int:frame>/rendered", frames.frame_rendered, name="frame-rendered"),
    path("instances/<int:pk>/thumbnail", frames.instance_thumbnail, name="instance-thumbnail"),
    path("series/<int:pk>/thumbnail", frames.series_thumbnail, name="series-thumbnail"),
    *router.urls,
]
