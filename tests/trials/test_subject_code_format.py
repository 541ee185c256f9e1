"""The subject-code format is chosen (site number + separator + digits); the regex is the advanced option."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from trials.models import Participant, Trial
from trials.subject_codes import build_pattern, example, parse_pattern

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("separator,digits,code", [("-", 3, "101-001"), ("_", 4, "101_0001"), (".", 2, "101.01"),
                                                   ("/", 3, "101/001"), ("", 5, "10100001")])
def test_a_built_pattern_reads_back_and_gives_an_example_it_matches(separator, digits, code):
    import re

    pattern = build_pattern(separator, digits)
    assert parse_pattern(pattern) == (separator, digits)
    assert example(pattern, "101") == code
    assert re.fullmatch(pattern.replace("{site}", "101"), code)


def test_the_default_pattern_is_the_built_one_and_an_own_regex_is_not():
    assert parse_pattern(r"{site}-\d{3}") == ("-", 3)
    assert parse_pattern(r"{site}-[A-Z]\d{2}") is None
    assert example(r"[A-Z]{2}\d{4}", "101") is None


TRIAL_FORM = {
    "title": "Lung study", "sponsor_name": "ACME", "indication": "NSCLC", "blind_readers": "on",
    "deid_date_shift_max_days": "3650", "deid_retain_patient_characteristics": "on", "deid_retain_modified_dates": "on",
    "deid_clean_descriptors": "on", "scan_date_tolerance_days": "0", "query_due_days": "7", "qc_severity_overrides": "{}",
}


def _settings(client, **values):
    return client.post("/t/TRIAL-A/settings/", {**TRIAL_FORM, **values})


def test_the_admin_picks_separator_and_digits_and_enrolment_follows(page_client, world):
    client = page_client(world.admin)
    page = client.get("/t/TRIAL-A/settings/").content.decode()
    assert 'name="code_format" value="site"' in page and 'id="id_code_separator"' in page
    assert 'value="site" class="" id="id_code_format_0" checked' in page or 'id="id_code_format_0" checked' in page
    response = _settings(client, code_format="site", code_separator="_", code_digits="4",
                         subject_code_pattern="ignored when the format is chosen")
    assert response.status_code == 302, response.content.decode()[:2000]
    trial = Trial.objects.get(pk=world.trial.pk)
    assert trial.subject_code_pattern == r"{site}_\d{4}"
    # The form shows the stored pattern as the choice it came from.
    page = client.get("/t/TRIAL-A/settings/").content.decode()
    assert '<option value="_" selected>' in page and 'name="code_digits" value="4"' in page
    # A coordinator sees an example, not a regex, and a code in the old format is refused with it.
    coord = page_client(world.coordinator)
    assert "e.g. <code>101_0001</code>" in coord.get("/t/TRIAL-A/participants/").content.decode()
    body = coord.post("/t/TRIAL-A/participants/", {"site": world.site.pk, "subject_code": "101-002",
                                                   "status": "enrolled"}).content.decode()
    assert "does not match this trial&#x27;s subject code format (e.g. 101_0001)" in body
    coord.post("/t/TRIAL-A/participants/", {"site": world.site.pk, "subject_code": "101_0002", "status": "enrolled"})
    assert Participant.objects.filter(subject_code="101_0002").exists()


def test_an_own_regular_expression_is_the_advanced_option(page_client, world):
    client = page_client(world.admin)
    assert _settings(client, code_format="regex", subject_code_pattern=r"{site}-[A-Z]\d{2}").status_code == 302
    assert Trial.objects.get(pk=world.trial.pk).subject_code_pattern == r"{site}-[A-Z]\d{2}"
    page = client.get("/t/TRIAL-A/settings/").content.decode()
    assert 'id="id_code_format_1" checked' in page
    body = _settings(client, code_format="regex", subject_code_pattern="").content.decode()
    assert "Write the regular expression, or choose the site-number format." in body
    body = _settings(client, code_format="regex", subject_code_pattern="{site}-(").content.decode()
    assert "Not a valid regular expression" in body
    body = _settings(client, code_format="site", code_separator="-", code_digits="").content.decode()
    assert "How many digits follow the site number?" in body
    assert Trial.objects.get(pk=world.trial.pk).subject_code_pattern == r"{site}-[A-Z]\d{2}"


def test_creating_a_trial_with_the_chosen_format(page_client, world):
    world.outsider.user_permissions.add(Permission.objects.get(content_type__app_label="trials", codename="add_trial"))
    response = page_client(world.outsider).post("/trials/new/", {**TRIAL_FORM, "code": "TRIAL-C", "code_format": "site",
                                                                 "code_separator": "-", "code_digits": "3"})
    assert response.status_code == 302
    assert Trial.objects.get(code="TRIAL-C").subject_code_pattern == r"{site}-\d{3}"
