"""Routes of the viewer pages (under /t/<code>/viewer/)."""
from django.urls import path

from imaging.viewer import pages

app_name = "viewer"

urlpatterns = [
    path("t/<str:code>/viewer/visits/<int:visit_id>/", pages.visit_viewer, name="visit"),
    path("t/<str:code>/viewer/participants/<int:participant_id>/", pages.participant_viewer, name="participant"),
]
