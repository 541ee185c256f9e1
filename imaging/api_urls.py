"""Routes of the imaging API (submissions, queries, QC). The viewer's routes are in viewer_urls."""
from rest_framework.routers import DefaultRouter

from imaging.intake import api as submissions
from imaging.qc import api as qc
from imaging.queries import api as queries

app_name = "imaging-api"

router = DefaultRouter()
router.include_root_view = False
router.register("submissions", submissions.SubmissionViewSet, basename="submission")
router.register("queries", queries.QueryViewSet, basename="query")
router.register("qc/visits", qc.QcVisitViewSet, basename="qc-visit")
router.register("series", qc.SeriesQcViewSet, basename="series-qc")  # only POST series/{id}/qc/
urlpatterns = router.urls
