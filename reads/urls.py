"""Routes of the reads pages (under /t/<code>/reads/)."""
from django.urls import include, path

from reads import adjudication_views, dashboard, package_views, quality_views, views

app_name = "reads"

trial_urlpatterns = [
    path("design/", views.read_design, name="design"),
    path("assignment/", views.assignment, name="assignment"),
    path("cases/<int:case_id>/reassign/", views.case_reassign, name="case-reassign"),
    path("worklist/", views.worklist, name="worklist"),
    path("adjudications/", adjudication_views.adjudications, name="adjudications"),
    path("adjudications/<int:adjudication_id>/", adjudication_views.adjudication, name="adjudication"),
    path("adjudications/<int:adjudication_id>/images/", adjudication_views.adjudication_images,
         name="adjudication-images"),
    path("results/", adjudication_views.results, name="results"),
    path("metrics/", adjudication_views.metrics, name="metrics"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("packages/", package_views.read_packages, name="packages"),
    path("packages/<int:package_id>/download/", package_views.read_package_download, name="package-download"),
    path("tasks/<int:task_id>/", views.task, name="task"),
    path("quality-queries/", quality_views.quality_queries, name="quality-queries"),
]

urlpatterns = [
    path("t/<str:code>/reads/", include(trial_urlpatterns)),
]
