"""Intake: submissions, uploads (browser, resumable, zip), quarantine, de-identification and recording."""
