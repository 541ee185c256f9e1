"""Queries: core lab to site questions with one state machine, their pages, API and e-mail."""
