"""The Celery application. Tasks run eagerly in-process when REDIS_URL is unset."""
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ictms.settings")

app = Celery("ictms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The imaging app keeps its tasks with each stage of the pipeline.
app.autodiscover_tasks(["imaging.intake", "imaging.qc", "imaging.queries"])


@worker_ready.connect
def _recover_intake_on_start(**_kwargs: object) -> None:
    """A worker that starts (after a crash, say) first queues the intake recovery sweep."""
    from imaging.intake.tasks import intake_recover_task

    intake_recover_task.delay()
