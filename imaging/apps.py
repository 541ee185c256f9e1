"""The imaging app: the pipeline a scan goes through, one sub-package per stage (see __init__)."""
from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from imaging.dicomweb import lookups  # noqa: F401  (registers the dicom_like lookup)
        from imaging.qc.rules import finding_registry, severity_policy
        from trials.models import QC_FINDINGS, SETTING_VALIDATORS

        SETTING_VALIDATORS["qc_severity_overrides"] = lambda value: severity_policy(value or {})
        # The trial settings page offers a severity per finding code (trials imports no imaging).
        QC_FINDINGS[:] = [(k.code.value, k.title, k.default_severity.value) for k in finding_registry()]
