"""The imaging app: the pipeline a scan goes through, one sub-package per stage (see __init__)."""
from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from imaging.qc.rules import severity_policy
        from trials.models import SETTING_VALIDATORS

        SETTING_VALIDATORS["qc_severity_overrides"] = lambda value: severity_policy(value or {})
