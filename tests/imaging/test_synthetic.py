"""The synthetic DICOM generator: geometry, measurable lesions, gaps, encodings, planted PHI and finding it again."""
from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from tests.imaging import synthetic


def hounsfield(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_a_ct_series_has_consistent_geometry_and_uids():
    datasets = synthetic.make_ct_series(5, rows=64, cols=64, slice_thickness=2.0, spacing=2.5).datasets
    assert [int(ds.InstanceNumber) for ds in datasets] == [1, 2, 3, 4, 5]
    assert [float(ds.ImagePositionPatient[2]) for ds in datasets] == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1 and len({ds.SOPInstanceUID for ds in datasets}) == 5
    assert all(float(ds.SliceThickness) == 2.0 and ds.Modality == "CT" for ds in datasets)


def test_missing_instances_leave_a_gap():
    datasets = synthetic.make_ct_series(6, rows=16, cols=16, missing_instances=(3, 4)).datasets
    assert [int(ds.InstanceNumber) for ds in datasets] == [1, 2, 5, 6]


def test_a_lesion_is_a_bright_sphere_of_the_stated_diameter():
    lesion = synthetic.Lesion(center_mm=(20.0, -10.0, 10.0), diameter_mm=20.0, hu=120.0)
    datasets = synthetic.make_ct_series(9, rows=128, cols=128, pixel_spacing=1.0, slice_thickness=2.5,
                                        lesions=[lesion]).datasets
    middle = next(ds for ds in datasets if float(ds.ImagePositionPatient[2]) == 10.0)
    image = hounsfield(middle)
    x0, y0 = (float(value) for value in middle.ImagePositionPatient[:2])
    column, row = round(20.0 - x0), round(-10.0 - y0)
    assert image[row, column] > 90
    width = np.count_nonzero(image[row, :] > 90)
    assert 18 <= width <= 22  # 20 mm at 1 mm per pixel
    assert hounsfield(datasets[0])[row, column] < 80  # z = 0 mm is outside the sphere
    body = image[64, 64]
    assert 0 < body < 80 and image[0, 0] < -900  # soft tissue inside, air outside


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, RLELossless, JPEG2000Lossless])
def test_compressed_and_implicit_series_decode_to_the_same_phantom(syntax):
    plain = synthetic.make_ct_series(1, rows=32, cols=32, seed=1).datasets[0]
    encoded = synthetic.make_ct_series(1, rows=32, cols=32, seed=1, transfer_syntax=syntax).datasets[0]
    back = pydicom.dcmread(io.BytesIO(synthetic.to_bytes(encoded)))
    assert back.file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(back.pixel_array, plain.pixel_array)


def test_phi_values_are_distinct_and_cover_every_kind():
    series = synthetic.make_ct_series(2, rows=16, cols=16, phi=True)
    tokens = [value.token for value in series.planted]
    assert len(tokens) == len(set(tokens))
    by_kind = {kind: [value for value in series.planted if value.kind == kind] for kind in
               ("text", "uid", "date", "time", "number", "bytes")}
    assert all(by_kind.values())
    assert len(by_kind["date"]) > 100
    assert len({value.token for value in by_kind["uid"] if value.where == "SOPInstanceUID"}) == 2


def test_find_planted_sees_values_next_to_binary_bytes_but_not_inside_uids():
    date = synthetic.PlantedValue("20240313", "date", "StudyDate")
    uid = synthetic.PlantedValue("1.2.826.0.1.3680043.8.498.123", "uid", "SOPInstanceUID")
    text = synthetic.PlantedValue("PHI00100010X", "text", "PatientName")
    planted = [date, uid, text]
    assert synthetic.find_planted(b"DA\x08\x0020240313\x32\x00", planted) == [date]  # next tag starts with "2"
    assert synthetic.find_planted(b"\x001.2.826.0.1.3680043.8.498.1234\x00", planted) == [uid]
    assert synthetic.find_planted(b"2.25.9920240313551", planted) == []
    assert synthetic.find_planted(b"20240313083015.5", planted) == [date]  # the date of a DT
    assert synthetic.find_planted(b"xxPHI00100010Xyy", planted, allow_kinds=("text",)) == []


def test_special_files_for_the_bad_input_paths():
    assert synthetic.make_empty_file() == b""
    assert not synthetic.make_not_dicom().startswith(b"\x08\x00")
    bare = synthetic.make_file_without_meta()
    assert bare[128:132] != b"DICM" and pydicom.dcmread(io.BytesIO(bare), force=True).Modality == "CT"
    data = synthetic.to_bytes(synthetic.make_ct_series(1, rows=16, cols=16).datasets[0])
    assert synthetic.make_truncated(data, keep=100) == data[:100]
    assert len(synthetic.make_truncated(data, keep=0.5)) == len(data) // 2
    assert pydicom.dcmread(io.BytesIO(synthetic.make_dicomdir())).file_meta.MediaStorageSOPClassUID == \
        "1.2.840.10008.1.3.10"
    us = synthetic.make_ultrasound()
    assert us.BurnedInAnnotation == "YES" and us.Modality == "US"
    assert synthetic.make_secondary_capture().SOPClassUID == synthetic.SECONDARY_CAPTURE_STORAGE


def test_write_ct_series_streams_files_to_disk(tmp_path):
    folder = tmp_path / "series"
    series = synthetic.write_ct_series(folder, 3, rows=16, cols=16, phi=True)
    assert sorted(path.name for path in folder.iterdir()) == ["IMG00001.dcm", "IMG00002.dcm", "IMG00003.dcm"]
    assert series.datasets == [] and series.planted
    assert synthetic.find_planted((folder / "IMG00002.dcm").read_bytes(), series.planted)
