"""Indexes for DICOMweb wildcard matching (imaging.dicomweb.lookups.dicom_like) on PostgreSQL.

`UPPER(column) text_pattern_ops` serves both the case-insensitive exact matches and LIKE patterns
with a fixed beginning. SQLite (the embedded mode) has no such operator class and gets none.
"""
from django.db import migrations

INDEXES = [
    ("imaging_study_description_upper_like", "imaging_study", "description"),
    ("imaging_series_description_upper_like", "imaging_series", "description"),
    ("imaging_series_body_part_upper_like", "imaging_series", "body_part"),
    ("trials_participant_subject_code_upper_like", "trials_participant", "subject_code"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON {table} (UPPER("{column}") text_pattern_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("imaging", "0006_file_reason_side_file"),
        ("trials", "0004_membership_invitations"),
    ]

    operations = [migrations.RunPython(create, drop)]
