"""Case files and the CLI body behind `manage.py recist FILE.json [--check]` (recist-cases-format.md)."""

import copy
import io
import json
from pathlib import Path

import pytest

from reads.recist import compare_with_expected, evaluate_cases, run_cli

DATA = Path(__file__).parent / "data"
EXAMPLES = DATA / "recist-examples.json"
EXTRA = DATA / "recist-cases-extra.json"


def run(path, check=False):
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run_cli(str(path), check, stdout, stderr)
    return status, stdout.getvalue(), stderr.getvalue()


def write(tmp_path, cases):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    return path


@pytest.mark.parametrize("path", [EXAMPLES, EXTRA], ids=["examples", "extra"])
def test_every_case_file_matches_its_expected_results(path):
    status, stdout, stderr = run(path, check=True)
    assert status == 0, stderr
    assert "0 differ from expected, 0 malformed" in stderr
    results = json.loads(stdout)
    cases = json.loads(path.read_text())
    assert [r["id"] for r in results] == [c["id"] for c in cases]


@pytest.mark.parametrize(
    "case", json.loads(EXAMPLES.read_text()) + json.loads(EXTRA.read_text()), ids=lambda c: c["id"]
)
def test_each_case_on_its_own(case, tmp_path):
    status, _, stderr = run(write(tmp_path, [case]), check=True)
    assert status == 0, stderr


def test_output_has_exactly_the_documented_shape_and_number_types():
    results, errors = evaluate_cases(json.loads(EXAMPLES.read_text()))
    assert errors == []
    first = results[0]
    assert list(first) == [
        "id",
        "baseline_sum_mm",
        "per_followup",
        "best_overall_response_unconfirmed",
        "best_overall_response_confirmed",
        "date_of_progression_weeks",
    ]
    assert list(first["per_followup"][0]) == [
        "sum_mm",
        "nadir_mm",
        "pct_change_from_baseline",
        "pct_change_from_nadir",
        "target_response",
        "non_target_response",
        "overall_response",
    ]
    assert isinstance(first["baseline_sum_mm"], int)
    assert isinstance(first["per_followup"][1]["pct_change_from_baseline"], float)
    r28 = next(r for r in results if r["id"] == "R28-rounding-pr-boundary")
    assert r28["per_followup"][0]["sum_mm"] == 175.1 and isinstance(
        r28["per_followup"][1]["sum_mm"], int
    )


def test_printed_json_writes_integral_values_without_decimals(tmp_path):
    _, stdout, _ = run(EXAMPLES)
    assert '"baseline_sum_mm": 70,' in stdout
    assert '"pct_change_from_baseline": -40.0,' in stdout
    assert '"date_of_progression_weeks": null' in stdout
    assert '"sum_mm": 175.1,' in stdout


def test_check_reports_every_difference_with_its_path_and_fails(tmp_path):
    cases = json.loads(EXAMPLES.read_text())[:1]
    cases[0]["expected"]["per_followup"][1]["pct_change_from_nadir"] = -6.8
    cases[0]["expected"]["best_overall_response_confirmed"] = "SD"
    status, stdout, stderr = run(write(tmp_path, cases), check=True)
    assert status == 1
    assert "R01-plain-pr: per_followup[1].pct_change_from_nadir: expected -6.8, got -6.7" in stderr
    assert 'R01-plain-pr: best_overall_response_confirmed: expected "SD", got "PR"' in stderr
    assert "1 differ from expected" in stderr
    assert json.loads(stdout)[0]["id"] == "R01-plain-pr"


def test_without_check_differences_are_not_looked_at(tmp_path):
    cases = json.loads(EXAMPLES.read_text())[:1]
    cases[0]["expected"]["best_overall_response_confirmed"] = "SD"
    assert run(write(tmp_path, cases))[0] == 0


MALFORMED = [
    ("unknown lesion", ("followups", 0, "targets", "T9"), 10, "unknown target T9"),
    (
        "too small target",
        ("baseline", "targets", 0, "diameter_mm"),
        9,
        "long axis of at least 10 mm",
    ),
    ("out of order", ("followups", 1, "weeks"), 4, "is not after follow-up 1 (week 8)"),
]


@pytest.mark.parametrize(
    ("name", "path", "value", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_case_is_reported_with_id_and_reason_and_others_still_run(
    tmp_path, name, path, value, fragment
):
    good, bad, other = copy.deepcopy(json.loads(EXAMPLES.read_text())[:3])
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    status, stdout, stderr = run(write(tmp_path, [good, bad, other]), check=True)
    assert status == 1
    assert f"{bad['id']}: malformed case:" in stderr and fragment in stderr
    results = json.loads(stdout)
    assert results[0]["baseline_sum_mm"] == 70 and results[2]["baseline_sum_mm"] == 80
    assert results[1]["id"] == bad["id"] and any(fragment in e for e in results[1]["errors"])


def test_too_many_targets_and_too_many_per_organ_are_malformed(tmp_path):
    case = json.loads(EXAMPLES.read_text())[0]
    case["baseline"]["targets"] = [
        {"lesion_id": f"T{i}", "organ": organ, "is_node": False, "diameter_mm": 20}
        for i, organ in enumerate(["liver", "liver", "liver", "lung", "bone", "brain"], start=1)
    ]
    status, _, stderr = run(write(tmp_path, [case]))
    assert status == 1
    assert "6 target lesions (T1, T2, T3, T4, T5, T6): at most 5 are allowed" in stderr
    assert "3 target lesions in liver (T1, T2, T3): at most 2 per organ" in stderr


def test_case_without_an_id_is_named_by_position(tmp_path):
    status, _, stderr = run(write(tmp_path, [{"baseline": {"targets": [], "non_targets": []}}]))
    assert status == 1 and stderr.startswith("case #1: malformed case: baseline has no target")


def test_unreadable_files_exit_with_2(tmp_path):
    assert run(tmp_path / "missing.json")[0] == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    status, _, stderr = run(bad)
    assert status == 2 and "not valid JSON" in stderr
    bad.write_text('{"id": "x"}')
    assert run(bad)[0] == 2


def test_unknown_protocol_keys_are_warned_about_but_the_case_runs(tmp_path):
    case = json.loads(EXAMPLES.read_text())[0]
    case["protocol"] = {"sd_min_weeks": 6, "colour": "blue"}
    status, _, stderr = run(write(tmp_path, [case]), check=True)
    assert status == 0
    assert "R01-plain-pr: warning: protocol.colour is not a known setting" in stderr


def test_case_without_expected_is_noted_under_check(tmp_path):
    case = json.loads(EXAMPLES.read_text())[0]
    del case["expected"]
    status, _, stderr = run(write(tmp_path, [case]), check=True)
    assert status == 0 and "no expected block" in stderr


def test_compare_with_expected_treats_70_and_70_0_alike_and_lists_paths():
    result = {"a": 70, "b": [{"c": None, "d": "PR"}], "e": 1.5}
    assert compare_with_expected(result, {"a": 70.0, "b": [{"c": None, "d": "PR"}]}) == []
    assert compare_with_expected(result, {"a": 71, "b": [{"c": 0, "d": "PR"}, {}], "z": 1}) == [
        "a: expected 71, got 70",
        "b: expected 2 entries, got 1",
        "b[0].c: expected 0, got null",
        "z: expected 1, got nothing",
    ]
    assert compare_with_expected({"x": True}, {"x": 1}) == ["x: expected 1, got true"]
