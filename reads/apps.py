"""The reads app: blinded reads, lesions, the RECIST 1.1 engine and adjudication."""
from django.apps import AppConfig


class ReadsConfig(AppConfig):
    name = "reads"
    verbose_name = "Reads"

    def ready(self) -> None:
        from imaging.archive import read_access
        from reads.selectors import ReadAccess
        from reads.services import on_visit_state_changed
        from trials.models import Visit
        from trials.signals import visit_state_changed

        visit_state_changed.connect(on_visit_state_changed, sender=Visit, dispatch_uid="reads.on_visit_state_changed")
        read_access.register(ReadAccess())
