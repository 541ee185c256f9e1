"""Routes of the read-only DICOMweb service (mounted at /dicomweb/; no trailing slashes, as clients expect)."""
from django.urls import path, re_path, register_converter

from imaging.dicomweb import views

app_name = "dicomweb"


class UidConverter:
    regex = r"[0-9]+(?:\.[0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class FrameListConverter:
    regex = r"[0-9]+(?:,[0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TagConverter:
    regex = r"[0-9A-Fa-f]{8}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UidConverter, "uid")
register_converter(FrameListConverter, "frames")
register_converter(TagConverter, "tag")

STUDY = "studies/<uid:study_uid>"
SERIES = f"{STUDY}/series/<uid:series_uid>"
INSTANCE = f"{SERIES}/instances/<uid:sop_uid>"

urlpatterns = [
    # QIDO-RS
    path("studies", views.search_studies, name="studies"),
    path("series", views.search_series, name="series"),
    path("instances", views.search_instances, name="instances"),
    path(f"{STUDY}/series", views.search_series, name="study-series"),
    path(f"{STUDY}/instances", views.search_instances, name="study-instances"),
    path(f"{SERIES}/instances", views.search_instances, name="series-instances"),
    # WADO-RS
    path(STUDY, views.retrieve_study, name="study"),
    path(f"{STUDY}/metadata", views.metadata_study, name="study-metadata"),
    path(SERIES, views.retrieve_series, name="series-retrieve"),
    path(f"{SERIES}/metadata", views.metadata_series, name="series-metadata"),
    path(f"{SERIES}/thumbnail", views.thumbnail_series, name="series-thumbnail"),
    path(INSTANCE, views.retrieve_instance, name="instance"),
    path(f"{INSTANCE}/metadata", views.metadata_instance, name="instance-metadata"),
    path(f"{INSTANCE}/rendered", views.rendered_instance, name="instance-rendered"),
    path(f"{INSTANCE}/thumbnail", views.thumbnail_instance, name="instance-thumbnail"),
    path(f"{INSTANCE}/frames/<frames:frame_list>", views.frames, name="frames"),
    path(f"{INSTANCE}/frames/<frames:frame_list>/rendered", views.rendered_frames, name="frames-rendered"),
    path(f"{INSTANCE}/bulkdata/<tag:tag>", views.bulkdata, name="bulkdata"),
    # Last: whatever else is asked under /dicomweb/ is a JSON 404.
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
