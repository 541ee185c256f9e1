"""SAS transport v5 (XPT, as FDA receives it) and CSV copies of the SDTM datasets (pure, no Django).

Input: a `reads.package.sdtm.Dataset` (from `sdtm.build_datasets`). pyreadstat writes the file
(`write_xport(..., file_format_version=5)`) with the dataset name and label and every column
label from the shared variable metadata; Char columns get the width of their longest value,
Num columns are 8-byte doubles with empty values as SAS missing. pyreadstat writes only to a
path, so `xpt_bytes` goes through a temporary file (SDTM datasets are small next to the images).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyreadstat

from .model import PackageInputError
from .sdtm import Dataset, Value

__all__ = ["XPT_MAX_CHAR", "csv_bytes", "dataframe", "write_xpt", "xpt_bytes"]

XPT_MAX_CHAR = 200  # SAS transport v5 limit for a character variable


def dataframe(dataset: Dataset) -> pd.DataFrame:
    """The dataset as a DataFrame: Char columns as str, Num columns as float64 (None -> NaN)."""
    columns: dict[str, pd.Series] = {}
    for variable in dataset.spec.variables:
        values = dataset.values(variable.name)
        if variable.type == "Num":
            columns[variable.name] = pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64")
        else:
            columns[variable.name] = pd.Series(["" if v is None else str(v) for v in values], dtype="object")
    return pd.DataFrame(columns)


def write_xpt(dataset: Dataset, path: str | os.PathLike[str]) -> None:
    """Write the dataset as a SAS transport v5 file at `path`."""
    for variable in dataset.spec.variables:
        if variable.type == "Char" and dataset.length(variable) > XPT_MAX_CHAR:
            raise PackageInputError(
                f"{dataset.name}.{variable.name} has a value longer than {XPT_MAX_CHAR} bytes, the XPT v5 limit"
            )
    pyreadstat.write_xport(
        dataframe(dataset),
        os.fspath(path),
        file_label=dataset.spec.label,
        column_labels=[v.label for v in dataset.spec.variables],
        table_name=dataset.name,
        file_format_version=5,
    )


def xpt_bytes(dataset: Dataset) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ictms-xpt-") as tmp:
        path = Path(tmp) / f"{dataset.name.lower()}.xpt"
        write_xpt(dataset, path)
        return path.read_bytes()


def _csv_value(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def csv_bytes(dataset: Dataset) -> bytes:
    """The CSV copy: a header of variable names, then the rows; numbers without a trailing .0, UTF-8."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    names = [v.name for v in dataset.spec.variables]
    writer.writerow(names)
    for row in dataset.rows:
        writer.writerow([_csv_value(row[name]) for name in names])
    return out.getvalue().encode("utf-8")
