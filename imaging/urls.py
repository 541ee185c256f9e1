"""Routes of the imaging pages (under /t/<code>/)."""
from django.urls import include, path

from imaging.intake import views
from imaging.qc import views as qc_views
from imaging.queries import views as query_views

app_name = "imaging"

trial_urlpatterns = [
    path("visits/<int:visit_id>/", views.visit_detail, name="visit"),
    path("visits/<int:visit_id>/submit/", views.submission_new, name="submission-new"),
    path("submissions/<int:submission_id>/", views.submission_detail, name="submission"),
    path("submissions/<int:submission_id>/cancel/", views.submission_cancel, name="submission-cancel"),
    path("queries/<int:query_id>/", query_views.query_detail, name="query"),
    path("queries/", query_views.query_list, name="queries"),
    path("visits/overdue/", qc_views.overdue_visits, name="overdue-visits"),
    path("qc/", qc_views.qc_queue, name="qc-queue"),
    path("qc/visits/<int:visit_id>/", qc_views.qc_visit, name="qc-visit"),
    path("qc/dashboard/", qc_views.qc_dashboard, name="qc-dashboard"),
]

urlpatterns = [path("t/<str:code>/", include(trial_urlpatterns))]
