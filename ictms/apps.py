"""The project itself as an app: seed_demo and the other commands, template tags, account signals."""
from django.apps import AppConfig


class IctmsConfig(AppConfig):
    name = "ictms"
    verbose_name = "ICTMS"

    def ready(self) -> None:
        from ictms import accounts  # noqa: F401  (API tokens revoked on password change, deactivation, lockout)
