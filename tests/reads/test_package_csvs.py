"""reads/results.csv (final and per reader, with the source of the final result) and reads/lesions.csv."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reads.package.csvs import AUDIT_COLUMNS, LESION_COLUMNS, RESULT_COLUMNS, AuditRow, audit_csv, lesions_csv, results_csv
from reads.package.model import PackageInputError, tracking_uid
from tests.reads.package_trial import STUDYID, build_trial


@pytest.fixture(scope="module")
def trial():
    return build_trial()[0]


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_results_have_a_final_row_and_a_row_per_reader_for_every_timepoint(trial):
    rows = parse(results_csv(trial))
    assert list(rows[0]) == list(RESULT_COLUMNS)
    keys = [(r["subject"], r["visitnum"], r["read"]) for r in rows]
    assert keys[:3] == [("101-001", "1", "FINAL"), ("101-001", "1", "RADIOLOGIST 1"), ("101-001", "1", "RADIOLOGIST 2")]
    assert len(rows) == 3 * 3 + 2 * 2 + 2 * 3  # 101-001: 3 timepoints x 3 rows; 101-002: 2 x 2; 102-001: 2 x 3


def test_final_rows_name_their_source_and_the_accepted_reader(trial):
    final = {(r["subject"], r["visitnum"]): r for r in parse(results_csv(trial)) if r["read"] == "FINAL"}
    assert {(k, r["source"], r["evaluator"]) for k, r in final.items() if k[0] == "101-001"} == {
        (("101-001", v), "ADJUDICATOR", "RADIOLOGIST 2") for v in ("1", "2", "3")}
    assert final[("102-001", "2")]["source"] == "AGREEMENT" and final[("102-001", "2")]["evaluator"] == "RADIOLOGIST 1"
    assert final[("101-002", "2")]["source"] == "SINGLE READ"
    week16 = final[("101-001", "3")]
    assert (week16["overall_response"], week16["best_response"], week16["sum_mm"]) == ("PD", "PD", "25")
    assert (week16["progression_visit"], week16["progression_visitnum"], week16["progression_date"]) == ("WEEK 16", "3", "2024-06-21")
    assert (week16["change_from_baseline_pct"], week16["new_lesions"], week16["study_day"]) == ("-67.5", "YES", "109")


def test_reader_rows_keep_each_readers_own_results(trial):
    rows = {(r["subject"], r["visitnum"], r["read"]): r for r in parse(results_csv(trial))}
    r1 = rows[("101-001", "2", "RADIOLOGIST 1")]
    assert (r1["overall_response"], r1["sum_mm"], r1["change_from_baseline_pct"], r1["accepted"]) == ("PR", "45", "-35.7", "")
    assert rows[("101-001", "2", "RADIOLOGIST 2")]["sum_mm"] == ""  # a target was not evaluable
    assert rows[("101-002", "2", "RADIOLOGIST 1")]["change_from_baseline_pct"] == "-100.0"
    assert rows[("102-001", "2", "RADIOLOGIST 2")]["non_target_response"] == "NA"
    assert rows[("101-001", "2", "RADIOLOGIST 1")]["non_target_response"] == "NON_CR_NON_PD"


def test_lesions_list_every_observation_with_the_counted_value_image_and_tracking_uid(trial):
    rows = parse(lesions_csv(trial))
    assert list(rows[0]) == list(LESION_COLUMNS)
    by_key = {(r["subject"], r["link_id"], r["visitnum"]): r for r in rows}
    assert len(by_key) == len(rows)
    small = by_key[("101-001", "R2-T01", "3")]
    assert (small["status"], small["counted_mm"], small["long_axis_mm"]) == ("too_small", "5", "")
    gone = by_key[("101-002", "R1-T01", "2")]
    assert (gone["status"], gone["counted_mm"]) == ("disappeared", "0")
    ne = by_key[("101-001", "R2-T02", "2")]
    assert (ne["status"], ne["not_evaluable_reason"], ne["counted_mm"]) == ("not_evaluable", "motion artefact", "")
    node = by_key[("101-001", "R1-T02", "1")]
    assert (node["lymph_node"], node["long_axis_mm"], node["short_axis_mm"], node["counted_mm"]) == ("Y", "26", "20", "20")
    assert json.loads(node["short_axis_points"]) == [[10.0, 2.0], [10.0, pytest.approx(2.0 + 20 / 0.7)]]
    assert node["sop_instance_uid"] and node["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.2"
    assert node["tracking_uid"] == tracking_uid(STUDYID, f"{STUDYID}-101-001", "R1-T02")
    assert {r["tracking_uid"] for r in rows if r["link_id"] == "R1-T02" and r["subject"] == "101-001"} == {node["tracking_uid"]}
    non_target = by_key[("101-001", "R1-NT01", "3")]
    assert (non_target["status"], non_target["counted_mm"], non_target["sop_instance_uid"]) == ("absent", "", "")


def test_audit_csv_lists_events_in_time_order_with_role_pseudonyms():
    later = AuditRow(datetime(2024, 7, 1, 12, tzinfo=UTC), "ADJUDICATOR", "adjudication.decide", "adjudication", "7", "101-001")
    earlier = AuditRow(datetime(2024, 7, 1, 13, tzinfo=timezone(timedelta(hours=2))), "RADIOLOGIST 2", "read.sign", "task", "3",
                       "101-001", "WEEK 8")
    rows = parse(audit_csv([later, earlier]))
    assert list(rows[0]) == list(AUDIT_COLUMNS)
    assert [(r["at"], r["actor"]) for r in rows] == [
        ("2024-07-01T11:00:00+00:00", "RADIOLOGIST 2"), ("2024-07-01T12:00:00+00:00", "ADJUDICATOR")]
    assert rows[0]["visit"] == "WEEK 8"


def test_audit_csv_refuses_an_actor_that_is_a_name():
    with pytest.raises(PackageInputError, match="not a role pseudonym"):
        audit_csv([AuditRow(datetime(2024, 7, 1, tzinfo=UTC), "Dr Jane Doe", "read.sign", "task", "1")])
