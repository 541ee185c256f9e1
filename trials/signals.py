"""Signals other apps listen to without trials importing them (reads follows visit acceptance)."""
from django.dispatch import Signal

# Sent by trials.services.visit_transition inside its transaction, after the move:
# sender=Visit, visit=<Visit>, previous=<old state>, actor=<User or None>.
visit_state_changed = Signal()
