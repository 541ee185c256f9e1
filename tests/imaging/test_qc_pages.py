"""QC and query pages: the queue, the review page and its forms, queries, overdue visits, the dashboard."""
from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from imaging.models import QcFinding, Query, Series
from imaging.qc.services import series_qc_decide
from imaging.queries.services import (
    query_answer,
    query_cancel,
    query_raise,
    query_resolve,
)
from tests.imaging.qc_helpers import cap_requirement, qc_series
from tests.imaging.qc_page_helpers import (
    auto_query,
    finding,
    qc_visit,
    quick_series,
    received,
)
from tests.imaging.upload_helpers import upload_all
from tests.trials import factories as f
from trials.models import Visit

pytestmark = pytest.mark.django_db


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def section(text: str, element_id: str) -> str:
    """The markup from the element with this id to the end of its table/section (good enough for asserts)."""
    start = text.index(f'id="{element_id}"')
    end_tags = [text.find(t, start) for t in ("</table>", "</section>", "</ul>", "</form>")]
    return text[start: min(e for e in end_tags if e != -1)]


# --- QC queue ---------------------------------------------------------------------------------------


def test_the_queue_lists_visits_awaiting_qc_oldest_first_with_their_counts(world, page_client):
    newer = qc_visit(world.participant, "BL", days_ago=2)
    older = qc_visit(world.other_participant, "BL", days_ago=9, n_series=3)
    done = received(f.visit(world.participant, "W8"), state="accepted")
    text = html(page_client(world.qc).get("/t/TRIAL-A/qc/"))
    rows = re.findall(r'<tr data-visit="(\d+)">', text)
    assert rows == [str(older.pk), str(newer.pk)] and str(done.pk) not in rows
    row = section(text, "queue").split(f'data-visit="{older.pk}"')[1].split("</tr>")[0]
    assert "9 d" in row and ">3<" in row and "102-001" in row
    assert f"/t/TRIAL-A/qc/visits/{older.pk}/" in row


def test_the_queue_filters_by_site_and_modality(world, page_client):
    ct = qc_visit(world.participant, "BL")
    mr = qc_visit(world.other_participant, "BL", modality="MR")
    client = page_client(world.qc)
    assert re.findall(r'data-visit="(\d+)"', html(client.get("/t/TRIAL-A/qc/?site=102"))) == [str(mr.pk)]
    assert re.findall(r'data-visit="(\d+)"', html(client.get("/t/TRIAL-A/qc/?modality=CT"))) == [str(ct.pk)]
    assert re.findall(r'data-visit="(\d+)"', html(client.get("/t/TRIAL-A/qc/?modality=MR&site=101"))) == []
    assert client.get("/t/TRIAL-A/qc/?site=999").status_code == 404


def test_the_qc_analysts_home_is_the_queue(world, page_client):
    visit = qc_visit(world.participant, "BL")
    text = html(page_client(world.qc).get("/t/TRIAL-A/"))
    assert 'id="qc-queue"' in text and f'data-visit="{visit.pk}"' in text
    assert "Visits by status" in text  # the progress charts stay


@pytest.mark.parametrize("persona,status", [("admin", 200), ("sponsor", 200), ("auditor", 200), ("coordinator", 403),
                                            ("reader", 403)])
def test_core_lab_roles_see_the_queue_site_and_blinded_roles_do_not(world, page_client, persona, status):
    """Core-lab roles without the QC right see the queue read-only (as they see a visit's QC page)."""
    assert page_client(world.user(persona)).get("/t/TRIAL-A/qc/").status_code == status


def test_people_outside_the_trial_do_not_find_its_pages(world, page_client):
    for url in ("/t/TRIAL-A/qc/", "/t/TRIAL-A/queries/", "/t/TRIAL-A/qc/dashboard/", "/t/TRIAL-A/visits/overdue/"):
        assert page_client(world.admin_b).get(url).status_code == 404
        assert page_client(world.outsider).get(url).status_code == 404
        assert page_client(None).get(url).status_code == 302  # to the login page


# --- the review page --------------------------------------------------------------------------------


@pytest.fixture
def thick(world, api):
    """Baseline of 101-001 uploaded through the API with a 7 mm series against a 5 mm maximum."""
    cap_requirement(world.timepoints[0])
    visit = f.visit(world.participant, "BL")
    upload_all(api(world.coordinator), visit.pk, qc_series(thickness=7.0, description="CHEST 7mm", series_number=3))
    return Visit.objects.get(pk=visit.pk)


def test_the_review_page_shows_header_values_beside_the_requirement_with_failures_highlighted(world, page_client, thick):
    text = html(page_client(world.qc).get(f"/t/TRIAL-A/qc/visits/{thick.pk}/"))
    series = Series.objects.get(study__visit=thick)
    card = text.split(f'id="series-{series.pk}"')[1].split("</section>")[0]
    row = re.search(r'<tr class="([^"]*)" data-param="Slice thickness"><th>Slice thickness</th><td>([^<]*)</td><td>([^<]*)</td>', card)
    assert row is not None, card
    assert "flag-blocking" in row.group(1) and row.group(2) == "7 mm" and row.group(3) == "≤ 5 mm"
    modality = re.search(r'<tr class="([^"]*)" data-param="Modality">', card)
    assert modality.group(1) == ""  # CT as required: not flagged
    assert "slice thickness 7.0 mm exceeds the protocol maximum of 5.0 mm" in card
    # A strip of frames from the viewer's thumbnail endpoint, and the way to the viewer.
    thumbs = re.findall(r'<img src="(/api/instances/\d+/thumbnail)"', card)
    assert 1 < len(thumbs) <= 5
    assert f"/t/TRIAL-A/viewer/visits/{thick.pk}/" in card
    assert 'id="decide-' in card and f'name="s{series.pk}-reason"' in card
    assert "Chest/abdomen/pelvis" in section(text, "requirements")


def test_the_thumbnails_of_the_strip_are_served(world, page_client, thick):
    client = page_client(world.qc)
    text = html(client.get(f"/t/TRIAL-A/qc/visits/{thick.pk}/"))
    url = re.search(r'<img src="(/api/instances/\d+/thumbnail)"', text).group(1)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_the_analyst_fails_a_series_with_a_reason_and_the_visit_moves_into_qc(world, page_client, thick):
    series = Series.objects.get(study__visit=thick)
    url = f"/t/TRIAL-A/qc/visits/{thick.pk}/"
    p = f"s{series.pk}"
    client = page_client(world.qc)
    response = client.post(url, {"form": "decide", "series": series.pk, f"{p}-status": "failed", f"{p}-reason": "protocol_deviation",
                                 f"{p}-comment": "7 mm slices; thin recon needed."})
    assert response.status_code == 302 and response["Location"] == f"{url}#series-{series.pk}"
    series.refresh_from_db()
    assert (series.qc_status, series.qc_reason, series.qc_by) == ("failed", "protocol_deviation", world.qc)
    assert Visit.objects.get(pk=thick.pk).state == "in_qc"
    event = AuditEvent.objects.filter(action="series.qc_decide").last()
    assert event.actor == world.qc and event.reason == "7 mm slices; thin recon needed."


def test_failing_without_a_comment_shows_the_services_error_on_the_form(world, page_client, thick):
    series = Series.objects.get(study__visit=thick)
    p = f"s{series.pk}"
    response = page_client(world.qc).post(f"/t/TRIAL-A/qc/visits/{thick.pk}/", {
        "form": "decide", "series": series.pk, f"{p}-status": "failed", f"{p}-reason": "image_quality", f"{p}-comment": ""})
    assert response.status_code == 200
    assert "Say why the series fails." in response.content.decode()
    assert Series.objects.get(pk=series.pk).qc_status == "pending"


def test_a_series_of_another_visit_cannot_be_decided_from_this_page(world, page_client, thick):
    other = quick_series(received(f.visit(world.other_participant, "BL")), 1)
    response = page_client(world.qc).post(f"/t/TRIAL-A/qc/visits/{thick.pk}/", {
        "form": "decide", "series": other.pk, f"s{other.pk}-status": "passed", f"s{other.pk}-reason": "meets_protocol"})
    assert response.status_code == 404
    assert Series.objects.get(pk=other.pk).qc_status == "pending"


def test_the_analyst_raises_a_manual_query_about_a_series(world, page_client, thick, mailoutbox):
    series = Series.objects.get(study__visit=thick)
    due = timezone.localdate() + dt.timedelta(days=10)
    response = page_client(world.qc).post(f"/t/TRIAL-A/qc/visits/{thick.pk}/", {
        "form": "raise", "q-category": "image_quality", "q-series": series.pk, "q-subject": "Motion artefacts",
        "q-message": "Series 3 shows breathing artefacts; please re-send a breath-hold acquisition.",
        "q-requests_reupload": "on", "q-due_date": due.isoformat()})
    assert response.status_code == 302
    query = Query.objects.get(visit=thick, is_automatic=False)
    assert (query.series, query.category, query.raised_by, query.due_date, query.requests_reupload) == (
        series, "image_quality", world.qc, due, True)
    assert any(m.to == ["coord_101@example.org"] and "New query" in m.subject for m in mailoutbox)


def test_acceptance_lists_what_is_missing_and_refuses_until_done(world, page_client, thick):
    client = page_client(world.qc)
    url = f"/t/TRIAL-A/qc/visits/{thick.pk}/"
    text = html(client.get(url))
    problems = section(text, "acceptance-problems")
    assert "need a pass or fail decision" in problems and "still open" in problems
    assert re.search(r'id="accept-visit"\s+disabled', text)
    response = client.post(url, {"form": "accept", "a-comment": ""})
    assert response.status_code == 200 and "need a pass or fail decision" in response.content.decode()
    assert Visit.objects.get(pk=thick.pk).state == "received"


def test_a_complete_visit_is_accepted_from_the_page_and_turns_green_on_the_grid(world, page_client):
    visit = received(f.visit(world.participant, "BL"))
    series = quick_series(visit, 1)
    series_qc_decide(actor=world.qc, series=series, status="passed", reason="meets_protocol")
    client = page_client(world.qc)
    url = f"/t/TRIAL-A/qc/visits/{visit.pk}/"
    assert 'id="acceptance-ready"' in html(client.get(url))
    assert client.post(url, {"form": "accept", "a-comment": "All good."}).status_code == 302
    visit.refresh_from_db()
    assert visit.state == "accepted"
    assert "QC accepted this visit" in html(client.get(url))
    grid = html(client.get("/t/TRIAL-A/visits/"))
    assert re.search(rf'<td class="cell status-accepted" data-status="accepted">\s*<a class="cell-link" '
                     rf'href="/t/TRIAL-A/visits/{visit.pk}/"', grid)


@pytest.mark.parametrize("persona", ["admin", "sponsor", "auditor"])
def test_other_core_lab_roles_see_the_review_read_only(world, page_client, persona, thick):
    client = page_client(world.user(persona))
    text = html(client.get(f"/t/TRIAL-A/qc/visits/{thick.pk}/"))
    assert "Read-only" in text and 'id="raise-form"' not in text and 'class="decide-form"' not in text
    assert 'id="accept-form"' not in text
    series = Series.objects.get(study__visit=thick)
    response = client.post(f"/t/TRIAL-A/qc/visits/{thick.pk}/", {
        "form": "decide", "series": series.pk, f"s{series.pk}-status": "passed", f"s{series.pk}-reason": "meets_protocol"})
    assert response.status_code == 403
    assert Series.objects.get(pk=series.pk).qc_status == "pending"


@pytest.mark.parametrize("persona,status", [("coordinator", 403), ("reader", 403), ("other_coordinator", 403),
                                            ("admin_b", 404), ("outsider", 404)])
def test_sites_and_outsiders_cannot_open_the_review_page(world, page_client, persona, status):
    visit = qc_visit(world.participant, "BL")
    assert page_client(world.user(persona)).get(f"/t/TRIAL-A/qc/visits/{visit.pk}/").status_code == status


def test_a_visit_of_another_trial_is_not_found_under_this_trial(world, page_client):
    other = qc_visit(world.participant_b, "BL")
    assert page_client(world.qc).get(f"/t/TRIAL-A/qc/visits/{other.pk}/").status_code == 404


def test_the_finding_history_keeps_earlier_runs_apart(world, page_client):
    visit = qc_visit(world.participant, "BL")
    series = Series.objects.filter(study__visit=visit).first()
    finding(visit, series, code="missing_slices", current=False)
    text = html(page_client(world.qc).get(f"/t/TRIAL-A/qc/visits/{visit.pk}/"))
    history = text.split('id="finding-history"')[1].split("</details>")[0]
    assert 'data-code="missing_slices"' in history and "replaced by a later QC run" in history
    card = text.split(f'id="series-{series.pk}"')[1].split("</section>")[0]
    assert 'data-code="missing_slices"' not in card and 'data-code="slice_thickness_exceeded"' in card


def test_shifted_image_dates_never_reach_the_page(world, page_client):
    visit = qc_visit(world.participant, "BL")
    finding(visit, None, code="scan_date_outside_window", details={
        "scan_date": "2011-03-04", "window_start": "2011-01-01", "window_end": "2011-02-01", "days_outside": 31})
    finding(visit, None, code="multiple_studies", details={"studies": [
        {"study_uid": "2.25.1", "series_numbers": [3], "scan_date": "2011-03-05"},
        {"study_uid": "2.25.2", "series_numbers": [4, 5], "scan_date": "2011-03-06"}]})
    text = html(page_client(world.qc).get(f"/t/TRIAL-A/qc/visits/{visit.pk}/"))
    assert "2011-0" not in text and "days outside" in text
    assert "series numbers 3 | series numbers 4, 5" in text and "2.25.1" not in text


# --- queries ----------------------------------------------------------------------------------------


def test_the_queries_page_lists_the_trials_queries_with_age_and_due_date(world, page_client):
    visit = qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)
    late = auto_query(visit, finding(visit, None, code="multiple_studies"))
    Query.objects.filter(pk=late.pk).update(due_date=dt.date.today() - dt.timedelta(days=2))
    Query.objects.filter(pk=late.pk).update(created_at=timezone.now() - dt.timedelta(days=12))
    text = html(page_client(world.qc).get("/t/TRIAL-A/queries/"))
    assert len(re.findall(r'<tr data-query="\d+"', text)) == 3
    row = text.split(f'data-query="{late.pk}"')[1].split("</tr>")[0]
    assert "12 d" in row and "overdue" in row and "automated QC" in row and "101-001 · BL" in row


@pytest.mark.parametrize("params,expected", [
    ("state=open", {"auto"}), ("state=answered", {"manual"}), ("state=open,answered", {"auto", "manual"}),
    ("automatic=1", {"auto"}), ("automatic=0", {"manual"}), ("category=acquisition", {"auto"}),
    ("age=0-7", {"auto", "manual"}), ("age=8-14", set()), ("site=102", set()), ("site=101", {"auto", "manual"}),
])
def test_the_queries_page_filters(world, page_client, params, expected):
    visit = qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)
    ids = {"auto": str(Query.objects.get(visit=visit, is_automatic=True).pk),
           "manual": str(Query.objects.get(visit=visit, is_automatic=False).pk)}
    shown = set(re.findall(r'<tr data-query="(\d+)"', html(page_client(world.qc).get(f"/t/TRIAL-A/queries/?{params}"))))
    assert shown == {ids[k] for k in expected}


def test_a_site_coordinator_sees_only_their_sites_queries(world, page_client):
    mine = qc_visit(world.participant, "BL")
    theirs = qc_visit(world.other_participant, "BL")
    text = html(page_client(world.coordinator).get("/t/TRIAL-A/queries/"))
    shown = set(re.findall(r'<tr data-query="(\d+)"', text))
    assert shown == {str(q.pk) for q in Query.objects.filter(visit=mine)}
    assert not shown & {str(q.pk) for q in Query.objects.filter(visit=theirs)}
    assert 'name="site"' not in text  # no site filter for a single site


@pytest.mark.parametrize("persona", ["reader", "adjudicator"])
def test_blinded_roles_have_no_query_or_tracking_pages(world, page_client, persona):
    client = page_client(world.user(persona))
    for url in ("/t/TRIAL-A/queries/", "/t/TRIAL-A/visits/overdue/", "/t/TRIAL-A/qc/dashboard/"):
        assert client.get(url).status_code == 403


def test_the_query_page_shows_the_finding_behind_an_automatic_query(world, page_client):
    visit = qc_visit(world.participant, "BL")
    query = Query.objects.get(visit=visit, is_automatic=True)
    text = html(page_client(world.coordinator).get(f"/t/TRIAL-A/queries/{query.pk}/"))
    cause = section(text, "query-cause")
    assert "slice thickness exceeded" in cause and "measured (mm)" in cause and "7" in cause
    assert "ICTMS automated QC" in text and "due " in text and 'id="query-age"' in text
    QcFinding.objects.filter(visit=visit).update(is_current=False)
    text = html(page_client(world.coordinator).get(f"/t/TRIAL-A/queries/{query.pk}/"))
    assert "no longer finds this problem" in section(text, "query-cause")


def test_the_site_answers_with_a_reupload_from_the_query_page_and_qc_resolves(world, page_client, api, thick, mailoutbox):
    query = Query.objects.get(visit=thick, is_automatic=True)
    submission = upload_all(api(world.coordinator), thick.pk, qc_series(thickness=7.0, series_number=3, seed=9,
                                                                         description="CHEST 7mm"))
    site = page_client(world.coordinator)
    text = html(site.get(f"/t/TRIAL-A/queries/{query.pk}/"))
    assert f'<option value="{submission["id"]}">' in text
    response = site.post(f"/t/TRIAL-A/queries/{query.pk}/", {"action": "answer", "message": "Thin recon attached.",
                                                            "submission": submission["id"]})
    assert response.status_code == 302
    query.refresh_from_db()
    assert query.state == "answered" and query.messages.last().submission_id == submission["id"]
    assert any(m.to == ["qc_a@example.org"] for m in mailoutbox)
    assert site.post(f"/t/TRIAL-A/queries/{query.pk}/", {"action": "resolve", "message": "done"}).status_code == 403
    qc = page_client(world.qc)
    assert qc.post(f"/t/TRIAL-A/queries/{query.pk}/", {"action": "resolve", "message": "Thanks."}).status_code == 302
    query.refresh_from_db()
    assert query.state == "resolved"
    text = html(site.get(f"/t/TRIAL-A/queries/{query.pk}/"))
    assert "thread can no longer change" in text and 'id="query-actions"' not in text


# --- the site coordinator's home and the visit page -------------------------------------------------------


def test_the_site_coordinators_home_lists_their_open_queries(world, page_client):
    mine = qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)
    qc_visit(world.other_participant, "BL")
    text = html(page_client(world.coordinator).get("/t/TRIAL-A/participants/"))
    panel = text.split('id="open-queries"')[1].split("</section>")[0]
    to_answer = Query.objects.get(visit=mine, state="open")
    answered = Query.objects.get(visit=mine, state="answered")
    assert re.findall(r'data-query="(\d+)"', panel) == [str(to_answer.pk)]
    assert f"#{answered.pk}" in panel and "1 to answer" in panel
    assert "102-001" not in panel


def test_the_open_queries_panel_is_only_for_site_roles(world, page_client):
    qc_visit(world.participant, "BL")
    assert 'id="open-queries"' not in html(page_client(world.qc).get("/t/TRIAL-A/participants/"))
    assert 'id="open-queries"' not in html(page_client(world.admin).get("/t/TRIAL-A/participants/"))


def test_the_visit_page_shows_its_queries_and_current_findings(world, page_client):
    visit = qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)
    finding(visit, None, code="missing_slices", current=False)
    text = html(page_client(world.coordinator).get(f"/t/TRIAL-A/visits/{visit.pk}/"))
    assert len(re.findall(r'<tr data-state="(open|answered)"', section(text, "visit-queries"))) == 2
    findings = section(text, "visit-qc-findings")
    assert 'data-code="slice_thickness_exceeded"' in findings and 'data-code="missing_slices"' not in findings
    assert 'id="qc-review"' not in text
    assert 'id="qc-review"' in html(page_client(world.qc).get(f"/t/TRIAL-A/visits/{visit.pk}/"))


def test_the_navigation_leads_each_role_to_its_pages(world, page_client):
    qc_nav = html(page_client(world.qc).get("/t/TRIAL-A/schedule/"))
    for url in ("/t/TRIAL-A/qc/", "/t/TRIAL-A/queries/", "/t/TRIAL-A/qc/dashboard/", "/t/TRIAL-A/visits/overdue/"):
        assert f'href="{url}"' in qc_nav
    site_nav = html(page_client(world.coordinator).get("/t/TRIAL-A/schedule/"))
    assert 'href="/t/TRIAL-A/queries/"' in site_nav and 'href="/t/TRIAL-A/qc/"' not in site_nav
    assert 'href="/t/TRIAL-A/qc/dashboard/"' not in site_nav
    reader_nav = html(page_client(world.reader).get("/t/TRIAL-A/schedule/"))
    assert "/queries/" not in reader_nav and "/qc/" not in reader_nav


# --- overdue visits and the dashboard ---------------------------------------------------------------


def test_overdue_visits_are_those_whose_window_closed_without_accepted_images(world, page_client):
    today = dt.date.today()
    p = f.participant(world.coordinator, world.site, "101-050", treatment_start=today - dt.timedelta(days=80))
    gone = f.participant(world.coordinator, world.site, "101-051", treatment_start=today - dt.timedelta(days=80))
    gone.status = "withdrawn"
    gone.save()
    far = f.participant(world.other_coordinator, world.other_site, "102-050", treatment_start=today - dt.timedelta(days=80))
    bl, w8 = f.visit(p, "BL"), f.visit(p, "W8")  # BL closed 80 days ago, W8 closed 17 days ago
    received(w8)  # received, still in QC: overdue too
    received(f.visit(far, "BL"), state="accepted")
    text = html(page_client(world.qc).get("/t/TRIAL-A/visits/overdue/"))
    rows = re.findall(r'<tr data-visit="(\d+)">', text)
    # The world's 101-001 and 102-001 started treatment 30 days ago: their baselines are late too.
    world_bls = [str(f.visit(world.participant, "BL").pk), str(f.visit(world.other_participant, "BL").pk)]
    # The latest first. W8 arrived 3 days ago, 14 days after its window closed: it is 14 days late (the core
    # lab's review since is not counted), so 102-050's W8, with nothing sent 17 days after its window, comes first.
    assert rows[0] == str(bl.pk) and set(rows[1:3]) == set(world_bls)
    assert rows[3:5] == [str(f.visit(far, "W8").pk), str(w8.pk)]
    assert ">14<" in text.split(f'data-visit="{w8.pk}"')[1].split("</tr>")[0]
    assert str(f.visit(gone, "BL").pk) not in rows and str(f.visit(far, "BL").pk) not in rows
    assert str(f.visit(p, "W16").pk) not in rows  # its window is still to come
    bl_row = text.split(f'data-visit="{bl.pk}"')[1].split("</tr>")[0]
    assert ">80<" in bl_row and "Overdue" in bl_row
    assert "Received" in text.split(f'data-visit="{w8.pk}"')[1].split("</tr>")[0]
    assert "<svg" in section(text, "overdue-by-site")


def test_days_late_count_only_until_the_site_s_images_arrived(world, page_client):
    today = dt.date.today()
    p = f.participant(world.coordinator, world.site, "101-070", treatment_start=today - dt.timedelta(days=80))
    bl, w8 = f.visit(p, "BL"), f.visit(p, "W8")  # windows closed 80 and 17 days ago
    received(bl, days_ago=75)  # five days late, then in core-lab review for 75 days
    received(w8, days_ago=20)  # in time: only the core lab is still at it
    text = html(page_client(world.qc).get("/t/TRIAL-A/visits/overdue/"))
    assert re.search(r'<td class="num">5</td>', text.split(f'data-visit="{bl.pk}"')[1].split("</tr>")[0])
    assert re.search(r'<td class="num">0</td>', text.split(f'data-visit="{w8.pk}"')[1].split("</tr>")[0])
    assert "not counted against the site" in text


def test_chart_labels_are_not_clipped(world, page_client):
    world.site.name = "Boston Medical Center Department of Radiology"
    world.site.save()
    text = html(page_client(world.qc).get("/t/TRIAL-A/visits/overdue/"))
    chart = section(text, "overdue-by-site")
    assert f">101 {world.site.name}</text>" in chart
    assert 'role="img" aria-label="Overdue visits per site"' in chart


def test_a_site_coordinator_sees_only_their_sites_overdue_visits(world, page_client):
    today = dt.date.today()
    mine = f.participant(world.coordinator, world.site, "101-060", treatment_start=today - dt.timedelta(days=80))
    theirs = f.participant(world.other_coordinator, world.other_site, "102-060", treatment_start=today - dt.timedelta(days=80))
    text = html(page_client(world.coordinator).get("/t/TRIAL-A/visits/overdue/"))
    rows = set(re.findall(r'<tr data-visit="(\d+)">', text))
    assert str(f.visit(mine, "BL").pk) in rows and str(f.visit(theirs, "BL").pk) not in rows
    assert f'href="/t/TRIAL-A/visits/{f.visit(mine, "BL").pk}/submit/"' in text


def test_the_dashboard_charts_the_backlog_and_first_pass_acceptance(world, page_client):
    v1 = qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)  # site 101: 1 open + 1 answered
    old = Query.objects.get(visit=v1, state="open")
    Query.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=20))
    received(f.visit(world.other_participant, "BL"), state="accepted")  # 102: accepted with no query
    queried = received(f.visit(world.other_participant, "W8"), state="accepted")  # 102: accepted after a query
    q = query_raise(actor=world.qc, visit=queried, subject="x", message="Please confirm the date.")
    query_answer(actor=world.other_coordinator, query=q, message="Confirmed.")
    query_resolve(actor=world.qc, query=q, message="Thanks.")
    withdrawn = received(f.visit(world.participant, "W8"), state="accepted")  # 101: a withdrawn query does not count
    query_cancel(actor=world.qc, query=query_raise(actor=world.qc, visit=withdrawn, subject="x", message="Sorry, wrong visit."),
                 message="Raised by mistake.")
    text = html(page_client(world.admin).get("/t/TRIAL-A/qc/dashboard/"))
    assert "cdn" not in text.lower() and "<script src=\"http" not in text
    by_site = section(text, "backlog-by-site")
    row101 = by_site.split('data-label="101 ')[1].split("</g>")[0]
    assert 'data-total="2"' in by_site.split('data-label="101 ')[1][:40]
    assert re.search(r'class="seg seg-age0"[^>]*data-value="1"', row101)  # answered, raised today
    assert re.search(r'class="seg seg-age2"[^>]*data-value="1"', row101)  # open for 20 days
    by_age = section(text, "backlog-by-age")
    assert 'data-label="15-30 days" data-total="1"' in by_age and 'data-label="0-7 days" data-total="1"' in by_age
    fp = section(text, "first-pass")
    assert "100 % · 1 of 1" in fp.split('data-label="101 ')[1].split("</g>")[0]
    assert "50 % · 1 of 2" in fp.split('data-label="102 ')[1].split("</g>")[0]
    assert "without any query" in fp
    table = section(text, "site-table")
    row = table.split('data-site="102"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row)[-2:] == ["2", "1"]


def test_the_dashboard_counts_past_due_queries(world, page_client):
    visit = qc_visit(world.participant, "BL")
    Query.objects.filter(visit=visit).update(due_date=dt.date.today() - dt.timedelta(days=1))
    text = html(page_client(world.qc).get("/t/TRIAL-A/qc/dashboard/"))
    assert '<strong id="kpi-overdue">1</strong>' in text and '<strong id="kpi-queue">1</strong>' in text


@pytest.mark.parametrize("persona,status", [("qc", 200), ("admin", 200), ("sponsor", 200), ("auditor", 200),
                                            ("coordinator", 403), ("reader", 403)])
def test_the_dashboard_is_for_the_core_lab(world, page_client, persona, status):
    assert page_client(world.user(persona)).get("/t/TRIAL-A/qc/dashboard/").status_code == status


def test_a_series_the_requirement_row_calls_failing_says_so_on_its_own_card(world, page_client, api):
    """The requirement row and the series card come from the same stored QC run: the complete
    series serves the requirement, and the one with missing slices says why it does not."""
    cap_requirement(world.timepoints[0])
    visit = f.visit(world.participant, "BL")
    study = "1.2.826.0.1.3680043.8.498.5550001"
    files = (qc_series(12, description="CAP 2.5MM", series_number=3, study_uid=study)
             + qc_series(12, missing=(5, 6), description="CAP 2.5MM B", series_number=4, study_uid=study, seed=1))
    upload_all(api(world.coordinator), visit.pk, files)
    text = html(page_client(world.qc).get(f"/t/TRIAL-A/qc/visits/{visit.pk}/"))
    row = unescape(section(text, "requirements"))
    assert "Met: series 3" in row and "series 4 'CAP 2.5MM B' (fails: missing slices)" in row, row
    gappy = Series.objects.get(study__visit=visit, series_number=4)
    card = unescape(text.split(f'id="series-{gappy.pk}"')[1].split("</section>")[0])
    assert "Automated QC found nothing" not in card
    assert "Not used for the CT of the chest/abdomen/pelvis (another series serves it): Series 4 'CAP 2.5MM B'" in card, card
    assert "missing" in card and 'data-code="missing_slices"' in card
    assert "Automated QC ran" in section(text, "qc-run")
    # Nothing blocks: the visit needs no query about a series nobody uses.
    assert not Query.objects.filter(visit=visit).exists()


def test_the_review_page_shows_the_stored_run_without_running_qc_again(world, page_client, thick, monkeypatch):
    from imaging.models import QcRun
    from imaging.qc.rules import evaluate as engine

    def refuse(*args, **kwargs):
        raise AssertionError("the page ran the QC engine")

    monkeypatch.setattr(engine, "evaluate_visit", refuse)
    monkeypatch.setattr(engine, "measure_series", refuse)
    text = html(page_client(world.qc).get(f"/t/TRIAL-A/qc/visits/{thick.pk}/"))
    run = QcRun.objects.get(visit=thick)
    assert run.blocking == 1 and set(QcFinding.objects.filter(visit=thick, is_current=True).values_list("run", flat=True)) == {run.pk}
    assert '<td>7 mm</td><td>≤ 5 mm</td>' in text
    assert "Fails: slice thickness exceeded" in section(text, "requirements")


def test_the_dashboard_follows_enrolment_images_and_the_query_backlog_month_by_month(world, page_client):
    """Trends where people follow a trend (#17 item 10): a line chart with a table of the same numbers."""
    from imaging.qc.selectors import monthly_counts
    from trials.models import Participant

    now = timezone.now()
    two_months_ago = (now.replace(day=1) - dt.timedelta(days=40)).replace(day=15)
    Participant.objects.filter(pk=world.participant.pk).update(consent_date=two_months_ago.date())
    v1 = qc_visit(world.participant, "BL", qc=world.qc, days_ago=0)  # a blocking finding's query and a manual one, this month
    old = Query.objects.filter(visit=v1).order_by("id").first()
    Query.objects.filter(pk=old.pk).update(created_at=two_months_ago)  # raised two months ago, still open
    resolved = Query.objects.filter(visit=v1).exclude(pk=old.pk).first()
    Query.objects.filter(pk=resolved.pk).update(created_at=two_months_ago, closed_at=two_months_ago, state="resolved")
    rows = {m: (e, r, b) for m, e, r, b in monthly_counts(user=world.admin, trial=world.trial)}
    first = f"{two_months_ago.year:04d}-{two_months_ago.month:02d}"
    this = f"{now.year:04d}-{now.month:02d}"
    assert rows[first][0] == 1 and rows[first][2] == 1  # enrolled then; one query still open at its end
    assert rows[this][1] == 1 and rows[this][2] == 1  # the images arrived this month; the old query still waits
    assert len(rows) == 3  # the month in between is shown too, with its backlog
    text = html(page_client(world.admin).get("/t/TRIAL-A/qc/dashboard/"))
    trends = section(text, "trends")
    assert 'id="trend-chart" role="img"' in trends and "Queries unresolved at month end" in trends
    table = section(text, "trend-table")
    assert f'<th scope="row">{first}</th><td>1</td><td>0</td><td>1</td>' in table


def test_every_dashboard_chart_has_an_accessible_name_and_a_table_of_its_numbers(world, page_client):
    qc_visit(world.participant, "BL", qc=world.qc, coordinator=world.coordinator)
    text = html(page_client(world.admin).get("/t/TRIAL-A/qc/dashboard/"))
    charts = re.findall(r"<svg[^>]*>", text)
    assert len(charts) >= 4
    for svg in charts:
        assert 'role="img"' in svg and re.search(r'aria-label(ledby)?="[^"]+"', svg), svg
    for section_id, table_id in (("backlog-by-site", "site-table"), ("backlog-by-age", "age-table"),
                                 ("trends", "trend-table"), ("first-pass", "site-table")):
        assert f'id="{section_id}"' in text and f'id="{table_id}"' in text
    ages = section(text, "age-table")
    assert '<th scope="row">0-7 days</th><td>1</td><td>1</td>' in ages
