"""The imaging app: submissions, de-identification, studies/series/instances, QC and queries."""
from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"
