"""The audit trail page: filters, before/after, CSV export."""
from __future__ import annotations

import csv
import io

from audit.models import AuditEvent
from trials import services


def test_the_page_shows_who_what_before_after_and_why(world, page_client):
    services.site_update(actor=world.admin, site=world.site, name="Renamed Site")
    from trials.models import Membership

    services.membership_remove(actor=world.admin, membership=Membership.objects.get(user=world.sponsor, trial=world.trial),
                               reason="contract ended")
    body = page_client(world.auditor).get("/t/TRIAL-A/audit/").content.decode()
    assert "site.update" in body and "Renamed Site" in body and "Site 101" in body
    assert "contract ended" in body and "admin_a" in body


def test_filters_by_action_user_object_and_date(world, page_client):
    services.site_update(actor=world.admin, site=world.site, name="Filtered")
    client = page_client(world.admin)
    body = client.get("/t/TRIAL-A/audit/?action=site.update").content.decode()
    assert "Filtered" in body and "participant.enrol" not in body.split("<tbody>")[1]
    body = client.get("/t/TRIAL-A/audit/?user=coord_102").content.decode().split("<tbody>")[1]
    assert "102-001" in body and "101-001" not in body
    body = client.get(f"/t/TRIAL-A/audit/?object=trials.participant:{world.participant.pk}").content.decode()
    assert "101-001" in body.split("<tbody>")[1] and "102-001" not in body.split("<tbody>")[1]
    body = client.get("/t/TRIAL-A/audit/?from=2000-01-01&to=2000-01-02").content.decode()
    assert "No events match" in body


def test_another_trials_events_never_appear(world, page_client):
    body = page_client(world.admin).get("/t/TRIAL-A/audit/").content.decode()
    assert "201-001" not in body


def test_csv_export_has_every_matching_event_and_is_audited(world, page_client):
    response = page_client(world.auditor).get("/t/TRIAL-A/audit/export.csv?action=participant.")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["object"] for r in rows} == {"101-001", "102-001"}
    assert all(r["trial"] == "TRIAL-A" and len(r["hash"]) == 64 for r in rows)
    assert AuditEvent.objects.filter(action="audit.export", actor=world.auditor).exists()


def test_csv_cells_cannot_inject_formulas(world, page_client):
    from trials.models import Membership

    services.membership_remove(actor=world.admin, membership=Membership.objects.get(user=world.sponsor, trial=world.trial),
                               reason='=HYPERLINK("http://x")')
    response = page_client(world.admin).get("/t/TRIAL-A/audit/export.csv?action=membership.remove")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["reason"] == "'=HYPERLINK(\"http://x\")"


def test_list_page_query_count_is_constant(world, page_client, django_assert_max_num_queries):
    client = page_client(world.admin)
    client.get("/t/TRIAL-A/audit/")
    for i in range(30):
        services.site_update(actor=world.admin, site=world.site, name=f"n{i}")
    # 17: every page asks once for the user's global rights (the "Create a trial" link), two queries; the
    # trail asks once which trials' arms the viewer may see (audit.blinding).
    with django_assert_max_num_queries(17):
        client.get("/t/TRIAL-A/audit/")
