"""The trials app: trials, sites, memberships, participants, the visit schedule and visits."""
from django.apps import AppConfig


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = "Trials"
