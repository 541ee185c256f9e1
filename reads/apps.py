"""The reads app: blinded reads, lesions, the RECIST 1.1 engine and adjudication."""
from django.apps import AppConfig


class ReadsConfig(AppConfig):
    name = "reads"
    verbose_name = "Reads"
