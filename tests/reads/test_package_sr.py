"""TID 1500 SR per read and timepoint: read back with highdicom (axes, polylines, tracking UIDs), dciodvfy and dcmtk."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal as D

import highdicom as hd
import pytest
from pydicom import dcmread

from reads.package.model import PackageInputError, lesion_link_id, tracking_uid
from reads.package.sr import OHIF_BIDIRECTIONAL, OHIF_LENGTH, build_measurement_report, sr_bytes
from tests.reads.package_trial import build_trial


@pytest.fixture(scope="module")
def built():
    return build_trial()


def _report(built, subject_index, slot, visitnum, tmp_path):
    trial, images = built
    subject = trial.subjects[subject_index]
    read = next(r for r in subject.reads if r.slot == slot)
    sr = build_measurement_report(trial, subject, read, D(visitnum), evidence=images.for_visit(subject.code, D(visitnum)))
    path = tmp_path / f"{subject.code}-{slot}-{visitnum}.dcm"
    path.write_bytes(sr_bytes(sr))
    return trial, subject, read, path


def _measurements(group):
    # get_measurements() also returns the Time Point Order NUM of the time point context.
    return {m.name.meaning: m for m in group.get_measurements() if m.name.meaning != "Time Point Order"}


def test_highdicom_reads_back_both_axes_with_their_polylines_and_images(built, tmp_path):
    trial, subject, read, path = _report(built, 0, 1, 2, tmp_path)
    sr = hd.sr.srread(path)
    groups = {g.finding_type.meaning: g for g in sr.content.get_image_measurement_groups()}
    assert set(groups) == {"R1-T01", "R1-T02", "R1-NT01"}
    for lesion in read.lesions:
        obs = next(o for o in read.observations_at(D(2)) if o.lesion == lesion.identity)
        group = groups[lesion_link_id(1, lesion.label)]
        assert group.tracking_uid == tracking_uid(trial.studyid, trial.usubjid(subject), lesion_link_id(1, lesion.label))
        measurements = _measurements(group)
        if not obs.is_measured:
            assert measurements == {} and group.tracking_identifier == "R1-NT01"
            continue
        assert group.tracking_identifier == OHIF_BIDIRECTIONAL
        assert set(measurements) == {"Long Axis", "Short Axis"}
        for name, mm, points in (("Long Axis", obs.long_axis_mm, obs.long_axis), ("Short Axis", obs.short_axis_mm, obs.short_axis)):
            measurement = measurements[name]
            assert measurement.value == float(mm)
            assert measurement.unit.value == "mm"
            (coordinates,) = measurement.referenced_coordinates
            assert coordinates.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
            assert coordinates.value.flatten().tolist() == pytest.approx([c for p in points for c in p], abs=1e-4)
            source = coordinates.ContentSequence[0].ReferencedSOPSequence[0]
            assert source.ReferencedSOPInstanceUID == obs.image.sop_instance_uid
            assert source.ReferencedSOPClassUID == obs.image.sop_class_uid


def test_tracking_uids_are_stable_across_timepoints_and_rebuilds(built, tmp_path):
    uids = []
    for visitnum in (1, 2, 3):
        _, _, _, path = _report(built, 0, 2, visitnum, tmp_path)
        groups = hd.sr.srread(path).content.get_image_measurement_groups()
        uids.append({g.finding_type.meaning: g.tracking_uid for g in groups})
    assert uids[0]["R2-T01"] == uids[1]["R2-T01"] == uids[2]["R2-T01"]
    assert uids[0]["R2-T02"] == uids[2]["R2-T02"]
    assert len(set(uids[2].values())) == len(uids[2])
    first = _report(built, 0, 2, 3, tmp_path)[3].read_bytes()
    again = _report(built, 0, 2, 3, tmp_path / "..")[3].read_bytes()
    assert first == again


def test_special_lesions_carry_their_status_and_one_axis_is_a_length(built, tmp_path):
    _, _, _, path = _report(built, 0, 2, 3, tmp_path)
    groups = {g.finding_type.meaning: g for g in hd.sr.srread(path).content.get_image_measurement_groups()}
    status = {name: {q.name.meaning: q.value.meaning for q in g.get_qualitative_evaluations()} for name, g in groups.items()}
    assert status["R2-T01"]["Lesion status"] == "Too small to measure"
    assert status["R2-T01"]["Baseline Category"] == "Target Lesion at Baseline"
    assert status["R2-NT01"]["Lesion status"] == "Unequivocal progression"
    assert groups["R2-N01"].tracking_identifier == OHIF_LENGTH
    assert set(_measurements(groups["R2-N01"])) == {"Long Axis"}
    assert _measurements(groups["R2-T01"]) == {}


def test_time_point_observer_and_verification_never_name_a_person(built, tmp_path):
    _, subject, _, path = _report(built, 0, 2, 2, tmp_path)
    ds = dcmread(path)
    assert ds.VerificationFlag == "VERIFIED" and ds.CompletionFlag == "COMPLETE"
    assert str(ds.VerifyingObserverSequence[0].VerifyingObserverName) == "RADIOLOGIST 2^"
    assert ds.VerifyingObserverSequence[0].VerificationDateTime == "20240701110000"
    assert ds.ContentDate == "20240701"
    sr = hd.sr.srread(path)
    (observer,) = sr.content.get_observer_contexts()
    assert str(observer.observer_identifying_attributes.name) == "RADIOLOGIST 2^"
    group = sr.content.get_image_measurement_groups()[0]
    context = {item.name.meaning: item for item in group[0].ContentSequence if item.name.meaning.startswith("Time Point")}
    assert context["Time Point"].value == "WEEK 8"
    assert context["Time Point Order"].value == 2
    assert context["Time Point Type"].value.meaning == "Posttreatment"
    assert ds.StudyInstanceUID == built[1].for_visit(subject.code, D(2))[0].StudyInstanceUID


def test_dciodvfy_reports_no_error(built, tmp_path):
    if shutil.which("dciodvfy") is None:
        pytest.skip("dicom3tools' dciodvfy is not installed")
    for subject_index, slot, visitnum in ((0, 1, 1), (0, 2, 2), (0, 2, 3), (1, 1, 2), (2, 2, 2)):
        _, _, _, path = _report(built, subject_index, slot, visitnum, tmp_path)
        out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], errors
        assert "Comprehensive3DSR" in out.stdout + out.stderr


def test_dcmtk_parses_the_report(built, tmp_path):
    if shutil.which("dsrdump") is None:
        pytest.skip("dcmtk's dsrdump is not installed")
    _, _, _, path = _report(built, 0, 2, 3, tmp_path)
    out = subprocess.run(["dsrdump", "+Pl", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"Long Axis"' in out.stdout and '"Short Axis"' in out.stdout
    assert '"Cornerstone3DTools@^0.1.0:Length"' in out.stdout and '"RADIOLOGIST 2^"' in out.stdout


def test_a_measurement_without_its_image_header_is_refused(built):
    trial, images = built
    subject = trial.subjects[0]
    with pytest.raises(PackageInputError, match="no evidence header for image"):
        build_measurement_report(trial, subject, subject.reads[0], D(2), evidence=images.for_visit(subject.code, D(3)))
