"""No PHI survives an upload: not in stored files, not in the database, not in the logs."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.apps import apps

from tests.imaging import synthetic
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f


def database_text() -> bytes:
    """Every value of every row of the project's tables (history tables included)."""
    chunks = []
    for model in apps.get_models():
        if model._meta.app_label not in ("trials", "imaging", "reads", "audit", "auth"):
            continue
        for row in model.objects.all().values_list():
            chunks.append(repr(row))
    return "\n".join(chunks).encode()


@pytest.fixture
def phi_series():
    series = synthetic.make_ct_series(3, rows=32, cols=32, phi=True)
    files = [(f"IM{i:04d}.dcm", synthetic.to_bytes(ds)) for i, ds in enumerate(series.datasets)]
    return files, series.planted


# Times of day stay under "Retain Longitudinal Temporal Information with Modified Dates": the
# dates move, the times do not (they identify nobody without the date, and keep intervals exact).
RETAINED = ("time",)


def test_no_planted_value_survives_anywhere(world, api, phi_series, caplog, settings):
    files, planted = phi_series
    assert len(planted) > 100
    # Planted dates are consecutive days; a shift smaller than their span would move one planted
    # date onto another and look like a leak. Real shifts are random, at least a year.
    type(world.participant).objects.filter(pk=world.participant.pk).update(deid_date_offset_days=-5000)
    caplog.set_level(logging.DEBUG)
    result = upload_all(api(world.coordinator), f.visit(world.participant, "BL").pk, files)
    assert result["counts"]["deidentified"] == 3, result

    # Stored files: a byte search of everything in storage.
    for path in Path(settings.MEDIA_ROOT).rglob("*"):
        if path.is_file():
            leaks = synthetic.find_planted(path.read_bytes(), planted, allow_kinds=RETAINED)
            assert not leaks, f"{path.name}: {[(v.where, v.kind) for v in leaks[:10]]}"
    # Nothing left in quarantine.
    assert not [p for p in Path(settings.QUARANTINE_DIR).rglob("*") if p.is_file()]
    # Database: every row of every table.
    leaks = synthetic.find_planted(database_text(), planted, allow_kinds=RETAINED)
    assert not leaks, [(v.where, v.kind, v.token) for v in leaks[:10]]
    # Logs.
    leaks = synthetic.find_planted(caplog.text.encode(), planted, allow_kinds=RETAINED)
    assert not leaks, [(v.where, v.kind) for v in leaks[:10]]


def test_rejection_messages_carry_no_phi(world, api, phi_series):
    files, planted = phi_series
    other = synthetic.SyntheticPatient(name="PHIOTHER^PATIENT", patient_id="PHIOTHERID", birth_date="19330303")
    second = synthetic.make_ct_series(1, rows=32, cols=32, patient=other, seed=8)
    files = [*files, ("IM9999.dcm", synthetic.to_bytes(second.datasets[0]))]
    result = upload_all(api(world.coordinator), f.visit(world.participant, "BL").pk, files)
    text = repr(result).encode()
    assert b"PHIOTHER" not in text and b"19330303" not in text
    assert not synthetic.find_planted(text, planted)
