"""XPT v5 round trip with pyreadstat (every value, names, labels, widths) and the CSV copies."""

from __future__ import annotations

import csv
import io
import math

import pyreadstat
import pytest

from reads.package.model import PackageInputError
from reads.package.sdtm import Dataset, build_datasets
from reads.package.xpt import csv_bytes, write_xpt, xpt_bytes
from tests.reads.package_trial import build_trial


@pytest.fixture(scope="module")
def datasets():
    return build_datasets(build_trial()[0])


@pytest.mark.parametrize("name", ["TU", "TR", "RS"])
def test_xpt_reads_back_with_every_value_name_and_label(datasets, tmp_path, name):
    dataset = datasets[name]
    path = tmp_path / f"{name.lower()}.xpt"
    write_xpt(dataset, path)
    frame, meta = pyreadstat.read_xport(str(path))
    assert meta.table_name == name
    assert meta.file_label == dataset.spec.label
    assert meta.column_names == [v.name for v in dataset.spec.variables]
    assert meta.column_labels == [v.label for v in dataset.spec.variables]
    assert len(frame) == len(dataset.rows)
    for variable in dataset.spec.variables:
        assert meta.variable_storage_width[variable.name] == dataset.length(variable)
        for index, expected in enumerate(dataset.values(variable.name)):
            got = frame[variable.name].iloc[index]
            if variable.type == "Num":
                assert (expected is None and math.isnan(got)) or got == expected, (variable.name, index)
            else:
                assert got == expected, (variable.name, index)


def test_xpt_bytes_is_a_sas_transport_file(datasets):
    data = xpt_bytes(datasets["TU"])
    assert data.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")
    assert len(data) % 80 == 0


def test_csv_copy_has_the_same_rows_and_whole_numbers_without_decimals(datasets):
    dataset = datasets["TR"]
    parsed = list(csv.DictReader(io.StringIO(csv_bytes(dataset).decode("utf-8"))))
    assert len(parsed) == len(dataset.rows)
    assert list(parsed[0]) == [v.name for v in dataset.spec.variables]
    first = dataset.rows[0]
    assert parsed[0]["TRSEQ"] == "1" and parsed[0]["TRSTRESN"] == str(first["TRSTRESN"])
    assert all(parsed[i]["TRORRES"] == str(r["TRORRES"]) for i, r in enumerate(dataset.rows))


def test_a_value_longer_than_200_bytes_is_refused(datasets, tmp_path):
    tr = datasets["TR"]
    long_row = {**tr.rows[0], "TRREASND": "x" * 201}
    with pytest.raises(PackageInputError, match="longer than 200 bytes"):
        write_xpt(Dataset(tr.spec, (long_row,)), tmp_path / "tr.xpt")
