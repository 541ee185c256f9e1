"""The header side panel rows (imaging.viewer.render.header_summary)."""

from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.sequence import Sequence

from imaging.viewer.render import header_summary
from tests.imaging import render_samples as samples


def read_back(ds: Dataset, tmp_path: Path) -> Dataset:
    """Values as a stored file gives them (DS keeps its original text)."""
    return dcmread(samples.write(ds, tmp_path / "header.dcm"))


def test_header_lists_file_meta_and_elements_without_pixel_data(tmp_path: Path) -> None:
    ds = samples.ct_signed()
    ds.WindowCenter = ["40", "-600"]
    rows = header_summary(read_back(ds, tmp_path))
    keywords = [row.keyword for row in rows]
    assert rows[0].tag.startswith("(0002,")  # file meta first
    assert "TransferSyntaxUID" in keywords
    assert "PixelData" not in keywords
    by_keyword = {row.keyword: row for row in rows}
    assert by_keyword["Modality"] == ("(0008,0060)", "Modality", "CS", "CT")
    assert by_keyword["WindowCenter"].value == "40\\-600"
    assert by_keyword["PatientName"].value == "Render^Test"


def test_sequences_are_flattened_with_one_marker_per_level(tmp_path: Path) -> None:
    rows = header_summary(read_back(samples.enhanced_mr(frames=2), tmp_path))
    start = next(i for i, row in enumerate(rows) if row.keyword == "PerFrameFunctionalGroupsSequence")
    assert rows[start].vr == "SQ" and rows[start].value == "2 item(s)"
    assert rows[start + 1] == (">(FFFE,E000)", "Item", "", "#1")
    nested = next(row for row in rows[start:] if row.keyword == "WindowCenter")
    assert nested.tag == ">>(0028,1050)" and nested.depth == 2 and float(nested.value) == 500


def test_long_values_are_truncated_and_large_binaries_left_out() -> None:
    ds = Dataset()
    ds.StudyDescription = "x" * 60
    ds.ImageComments = "y" * 500
    ds.add_new(0x00091010, "OB", b"\x01\x02")
    ds.add_new(0x00091011, "OB", bytes(4096))
    ds.ReferencedImageSequence = Sequence([Dataset()])
    rows = {row.tag: row for row in header_summary(ds, max_value_chars=40)}
    assert rows["(0020,4000)"].value == "y" * 39 + "\u2026"
    assert rows["(0009,1010)"].value == "01 02"
    assert "(0009,1011)" not in rows
    assert rows["(0008,1140)"].value == "1 item(s)"
