"""QC severity overrides are a table of imaging QC's findings, each with a severity select, not JSON."""
from __future__ import annotations

import pytest

from imaging.qc.rules import DEFAULT_SEVERITY, FINDING_TITLES, FindingCode, finding_registry
from tests.trials.test_subject_code_format import TRIAL_FORM
from trials.models import QC_FINDINGS, Trial

pytestmark = pytest.mark.django_db

FIELD = "qc_severity_overrides"


def test_the_registry_lists_every_finding_code_with_a_title_and_its_usual_severity():
    registry = finding_registry()
    assert [k.code for k in registry] == list(FindingCode)
    assert set(FINDING_TITLES) == set(FindingCode) == set(DEFAULT_SEVERITY)
    assert all(k.title and "_" not in k.title for k in registry)
    # The trials app reads the same list (filled when the imaging app is ready).
    assert [(k.code.value, k.title, k.default_severity.value) for k in registry] == QC_FINDINGS


def _form(**selects: str) -> dict[str, str]:
    data = {k: v for k, v in TRIAL_FORM.items() if k != FIELD}
    data.update(code_format="site", code_separator="-", code_digits="3")
    data.update({f"{FIELD}__{code}": severity for code, severity in selects.items()})
    return data


def test_the_settings_page_shows_a_severity_select_per_finding_not_json(page_client, world):
    Trial.objects.filter(pk=world.trial.pk).update(qc_severity_overrides={"contrast_uncertain": "blocking"})
    page = page_client(world.admin).get("/t/TRIAL-A/settings/").content.decode()
    assert f'<textarea name="{FIELD}"' not in page and "{&quot;" not in page
    for code, title, _default in QC_FINDINGS:
        assert f'name="{FIELD}__{code}"' in page and title in page
    row = page[page.index('data-code="contrast_uncertain"'):]
    row = row[:row.index("</tr>")]
    assert '<option value="blocking" selected>' in row and "Warning" in row  # overridden; usually a warning


def test_the_admin_changes_severities_in_the_table(page_client, world):
    client = page_client(world.admin)
    response = client.post("/t/TRIAL-A/settings/", _form(burned_in_annotation="blocking", series_not_in_protocol="warning",
                                                         too_few_slices="blocking"))  # too_few_slices: already blocking
    assert response.status_code == 302, response.content.decode()[:1500]
    trial = Trial.objects.get(pk=world.trial.pk)
    assert trial.qc_severity_overrides == {"burned_in_annotation": "blocking", "series_not_in_protocol": "warning"}
    # Back to "as usual": no override left.
    assert client.post("/t/TRIAL-A/settings/", _form(burned_in_annotation="blocking")).status_code == 302
    assert Trial.objects.get(pk=world.trial.pk).qc_severity_overrides == {"burned_in_annotation": "blocking"}
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="trial.update", changes__has_key=FIELD).count() == 2


def test_a_forged_severity_is_refused_in_words(page_client, world):
    body = page_client(world.admin).post("/t/TRIAL-A/settings/", _form(burned_in_annotation="fatal")).content.decode()
    assert "Choose blocking, warning or information for: burned_in_annotation." in body
    assert Trial.objects.get(pk=world.trial.pk).qc_severity_overrides == {}


def test_the_settings_page_stays_the_admins(page_client, world):
    assert page_client(world.qc).post("/t/TRIAL-A/settings/", _form(burned_in_annotation="blocking")).status_code == 403
    assert Trial.objects.get(pk=world.trial.pk).qc_severity_overrides == {}
