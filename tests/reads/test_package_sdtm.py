"""SDTM TU/TR/RS rules of reads.md on a generated trial with single and double reads, an adjudication and special lesions."""

from __future__ import annotations

from collections import defaultdict

import pytest

from reads.package.sdtm import DATASET_SPECS, Variable, build_datasets
from tests.reads.package_trial import STUDYID, build_trial

RESPONSES = {"CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD"}


@pytest.fixture(scope="module")
def datasets():
    return build_datasets(build_trial()[0])


def rows(datasets, name, **where):
    return [r for r in datasets[name].rows if all(r[k] == v for k, v in where.items())]


def test_every_variable_of_the_spec_is_present_and_required_ones_are_never_empty(datasets):
    for name, dataset in datasets.items():
        names = [v.name for v in DATASET_SPECS[name].variables]
        for row in dataset.rows:
            assert list(row) == names
            for variable in DATASET_SPECS[name].variables:
                if variable.core == "Req":
                    assert row[variable.name] not in ("", None), f"{name}.{variable.name} empty"
        assert {r["DOMAIN"] for r in dataset.rows} == {name}
        assert {r["STUDYID"] for r in dataset.rows} == {STUDYID}


def test_variable_names_labels_and_dataset_labels_fit_sas_transport_v5():
    for spec in DATASET_SPECS.values():
        assert len(spec.label) <= 40
        for variable in spec.variables:
            assert len(variable.name) <= 8 and len(variable.label) <= 40
    with pytest.raises(ValueError, match="at most 8"):
        Variable("TRTOOLONG", "x", "Char", "Perm", "Assigned")
    with pytest.raises(ValueError, match="longer than 40"):
        Variable("TRX", "x" * 41, "Char", "Perm", "Assigned")


def test_usubjid_is_studyid_hyphen_subject_code(datasets):
    for dataset in datasets.values():
        assert {r["USUBJID"] for r in dataset.rows} == {f"{STUDYID}-101-001", f"{STUDYID}-101-002", f"{STUDYID}-102-001"}


def test_evaluator_variables_are_filled_on_every_row_and_never_name_anyone(datasets):
    for name, dataset in datasets.items():
        for row in dataset.rows:
            assert row[f"{name}EVAL"] == "INDEPENDENT ASSESSOR"
            assert row[f"{name}EVALID"] in ("RADIOLOGIST 1", "RADIOLOGIST 2")


def test_seq_is_unique_and_consecutive_per_subject(datasets):
    for name, dataset in datasets.items():
        by_subject = defaultdict(list)
        for row in dataset.rows:
            by_subject[row["USUBJID"]].append(row[f"{name}SEQ"])
        for seqs in by_subject.values():
            assert seqs == list(range(1, len(seqs) + 1))


def test_dates_are_the_site_scan_dates_with_study_days_counted_from_treatment_start(datasets):
    """Treatment start 2024-03-05: screening 2024-03-01 is day -4, week 8 2024-04-26 is 52 days later: day 53."""
    expected = {1: ("2024-03-01", -4), 2: ("2024-04-26", 53), 3: ("2024-06-21", 109)}
    for name, dataset in datasets.items():
        for row in dataset.rows:
            assert (row[f"{name}DTC"], row[f"{name}DY"]) == expected[row["VISITNUM"]]


def test_tu_identifies_each_lesion_once_per_reader_with_controlled_terms(datasets):
    tu = datasets["TU"].rows
    assert {r["TUTESTCD"] for r in tu} == {"TUMIDENT"}
    assert {r["TUTEST"] for r in tu} == {"Tumor Identification"}
    assert {r["TUORRES"] for r in tu} == {"TARGET", "NON-TARGET", "NEW"}
    assert all(r["TUORRES"] == r["TUSTRESC"] for r in tu)
    keys = [(r["USUBJID"], r["TULNKID"]) for r in tu]
    assert len(keys) == len(set(keys))
    new = rows(datasets, "TU", USUBJID=f"{STUDYID}-101-001", TULNKID="R2-N01")
    assert [(r["VISIT"], r["TULOC"], r["TUMETHOD"]) for r in new] == [("WEEK 16", "LIVER", "CT SCAN")]
    node = rows(datasets, "TU", USUBJID=f"{STUDYID}-101-001", TULNKID="R1-T02")[0]
    assert (node["TULOC"], node["VISIT"]) == ("LYMPH NODE", "SCREENING")


def test_every_tr_link_id_points_at_a_tu_lesion_of_the_same_reader_and_every_lesion_has_results(datasets):
    tu = {(r["USUBJID"], r["TULNKID"]): r["TUEVALID"] for r in datasets["TU"].rows}
    linked = set()
    for row in datasets["TR"].rows:
        if row["TRTESTCD"] == "SUMDIAM":
            assert row["TRLNKID"] == ""
            continue
        key = (row["USUBJID"], row["TRLNKID"])
        assert tu[key] == row["TREVALID"]
        assert row["TRLNKID"].startswith("R1-" if row["TREVALID"] == "RADIOLOGIST 1" else "R2-")
        linked.add(key)
    assert linked == set(tu)


def test_tr_link_groups_tie_each_reads_timepoint_to_its_overall_response(datasets):
    tr_groups = {(r["USUBJID"], r["TREVALID"], r["VISITNUM"]): r["TRLNKGRP"] for r in datasets["TR"].rows}
    overall = rows(datasets, "RS", RSTESTCD="OVRLRESP")
    assert overall
    for row in overall:
        assert row["RSLNKGRP"] == tr_groups[(row["USUBJID"], row["RSEVALID"], row["VISITNUM"])]
    assert tr_groups[(f"{STUDYID}-101-001", "RADIOLOGIST 2", 3)] == "R2-A3"
    assert {r["RSLNKGRP"] for r in datasets["RS"].rows if r["RSTESTCD"] != "OVRLRESP"} == {""}


def test_exactly_one_read_is_accepted_per_subject_and_timepoint(datasets):
    for name in ("TR", "RS"):
        accepted = defaultdict(set)
        seen = set()
        for row in datasets[name].rows:
            seen.add((row["USUBJID"], row["VISITNUM"]))
            if row[f"{name}ACPTFL"] == "Y":
                accepted[(row["USUBJID"], row["VISITNUM"])].add(row[f"{name}EVALID"])
            else:
                assert row[f"{name}ACPTFL"] == ""
        assert set(accepted) == seen
        assert all(len(evaluators) == 1 for evaluators in accepted.values())
    flags = {(r["USUBJID"], r["VISITNUM"], r["RSEVALID"]): r["RSACPTFL"] for r in rows(datasets, "RS", RSTESTCD="OVRLRESP")}
    # Adjudicated for RADIOLOGIST 2; readers agree on 102-001, so RADIOLOGIST 1 (the charter default) is reported.
    assert flags[(f"{STUDYID}-101-001", 3, "RADIOLOGIST 2")] == "Y"
    assert flags[(f"{STUDYID}-101-001", 3, "RADIOLOGIST 1")] == ""
    assert flags[(f"{STUDYID}-102-001", 2, "RADIOLOGIST 1")] == "Y"
    assert flags[(f"{STUDYID}-101-002", 2, "RADIOLOGIST 1")] == "Y"


def test_target_measurements_use_ldiam_for_lesions_and_saxis_for_nodes(datasets):
    subject = f"{STUDYID}-101-001"
    t1 = rows(datasets, "TR", USUBJID=subject, TRLNKID="R1-T01")
    assert [(r["TRTESTCD"], r["TRORRES"], r["TRSTRESN"], r["TRORRESU"], r["TRSTRESU"]) for r in t1] == [
        ("LDIAM", "50", 50, "mm", "mm"), ("LDIAM", "30", 30, "mm", "mm"), ("LDIAM", "22", 22, "mm", "mm")]
    node = rows(datasets, "TR", USUBJID=subject, TRLNKID="R1-T02")
    assert [(r["TRTESTCD"], r["TRTEST"], r["TRSTRESN"]) for r in node] == [
        ("SAXIS", "Short Axis", 20), ("SAXIS", "Short Axis", 15), ("SAXIS", "Short Axis", 12)]


def test_too_small_is_standardized_to_5_mm_keeping_the_original_text(datasets):
    (row,) = rows(datasets, "TR", USUBJID=f"{STUDYID}-101-001", TRLNKID="R2-T01", VISITNUM=3)
    assert (row["TRORRES"], row["TRSTRESC"], row["TRSTRESN"], row["TRSTRESU"]) == ("TOO SMALL TO MEASURE", "5", 5, "mm")
    assert row["TRORRESU"] == ""


def test_a_not_evaluable_target_is_not_done_with_its_reason_and_a_disappeared_one_is_zero(datasets):
    (ne,) = rows(datasets, "TR", USUBJID=f"{STUDYID}-101-001", TRLNKID="R2-T02", VISITNUM=2)
    assert (ne["TRSTAT"], ne["TRREASND"], ne["TRORRES"], ne["TRSTRESN"]) == ("NOT DONE", "motion artefact", "", None)
    (gone,) = rows(datasets, "TR", USUBJID=f"{STUDYID}-101-002", TRLNKID="R1-T01", VISITNUM=2)
    assert (gone["TRORRES"], gone["TRSTRESN"]) == ("0", 0)
    (total,) = rows(datasets, "TR", USUBJID=f"{STUDYID}-101-001", TREVALID="RADIOLOGIST 2", VISITNUM=2, TRTESTCD="SUMDIAM")
    assert (total["TRSTAT"], total["TRSTRESN"]) == ("NOT DONE", None)


def test_sum_of_diameters_per_read_and_timepoint(datasets):
    sums = {(r["TREVALID"], r["VISITNUM"]): r["TRSTRESN"]
            for r in rows(datasets, "TR", USUBJID=f"{STUDYID}-101-001", TRTESTCD="SUMDIAM")}
    assert sums == {("RADIOLOGIST 1", 1): 70, ("RADIOLOGIST 1", 2): 45, ("RADIOLOGIST 1", 3): 34,
                    ("RADIOLOGIST 2", 1): 77, ("RADIOLOGIST 2", 2): None, ("RADIOLOGIST 2", 3): 25}


def test_non_targets_and_new_lesions_report_tumor_state(datasets):
    states = {(r["TRLNKID"], r["VISITNUM"]): r["TRORRES"]
              for r in rows(datasets, "TR", USUBJID=f"{STUDYID}-101-001", TRTESTCD="TUMSTATE")}
    assert states[("R1-NT01", 3)] == "ABSENT"
    assert states[("R2-NT01", 3)] == "UNEQUIVOCAL PROGRESSION"
    assert states[("R2-N01", 3)] == "PRESENT"
    (equivocal,) = rows(datasets, "TR", USUBJID=f"{STUDYID}-102-001", TRLNKID="R2-N01", TRTESTCD="TUMSTATE")
    assert equivocal["TRORRES"] == "EQUIVOCAL"
    allowed = {"PRESENT", "ABSENT", "UNEQUIVOCAL PROGRESSION", "NOT EVALUABLE", "EQUIVOCAL"}
    assert {r["TRORRES"] for r in rows(datasets, "TR", TRTESTCD="TUMSTATE")} <= allowed
    assert {r["TRTESTCD"] for r in datasets["TR"].rows} == {"LDIAM", "SAXIS", "SUMDIAM", "TUMSTATE"}


def test_rs_holds_the_responses_per_follow_up_in_cdisc_terms(datasets):
    rs = datasets["RS"].rows
    assert {r["RSCAT"] for r in rs} == {"RECIST 1.1"}
    assert 1 not in {r["VISITNUM"] for r in rs}, "the baseline has no response"
    for row in rs:
        assert row["RSORRES"] == row["RSSTRESC"]
        if row["RSTESTCD"] == "NEWLPROG":
            assert row["RSORRES"] in ("EQUIVOCAL", "UNEQUIVOCAL")
        else:
            assert row["RSORRES"] in RESPONSES
    r2 = {(r["VISITNUM"], r["RSTESTCD"]): r["RSORRES"]
          for r in rows(datasets, "RS", USUBJID=f"{STUDYID}-101-001", RSEVALID="RADIOLOGIST 2")}
    assert r2 == {(2, "TRGRESP"): "NE", (2, "NTRGRESP"): "NON-CR/NON-PD", (2, "OVRLRESP"): "NE",
                  (3, "TRGRESP"): "PR", (3, "NTRGRESP"): "PD", (3, "NEWLPROG"): "UNEQUIVOCAL", (3, "OVRLRESP"): "PD"}
    no_non_targets = {r["RSTESTCD"] for r in rows(datasets, "RS", USUBJID=f"{STUDYID}-102-001", RSEVALID="RADIOLOGIST 1")}
    assert no_non_targets == {"TRGRESP", "OVRLRESP"}
    per_timepoint = defaultdict(int)
    for row in rows(datasets, "RS", RSTESTCD="OVRLRESP"):
        per_timepoint[(row["USUBJID"], row["RSEVALID"], row["VISITNUM"])] += 1
    assert set(per_timepoint.values()) == {1}
