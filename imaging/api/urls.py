"""Routes of the imaging API (submissions, queries). The viewer's routes are in viewer_urls."""
from rest_framework.routers import DefaultRouter

from imaging.api import queries, submissions

app_name = "imaging-api"

router = DefaultRouter()
router.include_root_view = False
router.register("submissions", submissions.SubmissionViewSet, basename="submission")
router.register("queries", queries.QueryViewSet, basename="query")
urlpatterns = router.urls
