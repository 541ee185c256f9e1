"""Inputs: every transfer syntax keeps its pixel data byte for byte; bad files are refused in plain words."""
from __future__ import annotations

import io
import zlib
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

from imaging.deid import (
    DeidContext,
    DeidOptions,
    EmptyFileError,
    NotDicomError,
    SkippedFile,
    TooComplexError,
    TruncatedError,
    UnsupportedError,
    deidentify_bytes,
)
from tests.imaging import synthetic

SECRET = b"0123456789abcdef0123456789abcdef"
CONTEXT = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                      protocol_id="P1")


def pixel_element(data: bytes) -> bytes:
    """The raw bytes of the top-level Pixel Data element's value."""
    return pydicom.dcmread(io.BytesIO(data), force=True).PixelData


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless, JPEG2000Lossless,
     JPEGBaseline8Bit],
)
def test_pixel_data_and_transfer_syntax_are_kept_as_received(syntax):
    ds = synthetic.make_ct_series(2, rows=64, cols=64, transfer_syntax=syntax, seed=5).datasets[1]
    data = synthetic.to_bytes(ds)
    output, result = deidentify_bytes(data, CONTEXT)
    back = pydicom.dcmread(io.BytesIO(output))
    assert back.file_meta.TransferSyntaxUID == syntax == result.transfer_syntax_uid
    assert back.PixelData == pixel_element(data)
    assert output.endswith(data[data.rindex(b"\xe0\x7f\x10\x00" if syntax != ExplicitVRBigEndian
                                            else b"\x7f\xe0\x00\x10"):])
    assert back.pixel_array.shape == (64, 64)  # still decodes: the header the decoder needs is intact


def test_ultrasound_jpeg_and_secondary_capture_rle_keep_their_pixels_when_nothing_is_redacted():
    unredacted = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                             protocol_id="P1", options=DeidOptions(clean_pixel_data=False))
    for ds in (synthetic.make_ultrasound(transfer_syntax=JPEGBaseline8Bit),
               synthetic.make_secondary_capture(transfer_syntax=RLELossless)):
        data = synthetic.to_bytes(ds)
        output, result = deidentify_bytes(data, unredacted)
        assert result.burned_in.flagged and not result.burned_in.redacted
        assert pydicom.dcmread(io.BytesIO(output)).PixelData == pixel_element(data)


def test_deflated_files_are_rewritten_deflated():
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = synthetic.to_bytes(ds)
    output, result = deidentify_bytes(data, CONTEXT)
    back = pydicom.dcmread(io.BytesIO(output))
    assert result.transfer_syntax_uid == DeflatedExplicitVRLittleEndian
    assert back.PixelData == ds.PixelData and back.PatientName == "101-001"
    body = zlib.decompress(output[output.index(b"ICTMS_DEID_1") + 12:], -15)
    assert b"DOE^JANE" not in output and b"DOE^JANE" not in body


def test_a_data_set_without_file_meta_is_accepted_as_implicit_vr():
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    data = synthetic.make_file_without_meta(ds)
    assert data[128:132] != b"DICM" and data[:2] == b"\x08\x00"
    output, result = deidentify_bytes(data, CONTEXT)
    back = pydicom.dcmread(io.BytesIO(output))
    assert back.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian == result.transfer_syntax_uid
    assert back.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert back.PixelData == ds.PixelData


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"", EmptyFileError, "empty file"),
        (synthetic.make_not_dicom(), NotDicomError, "not a DICOM file"),
        (b"PK\x03\x04" + b"\x00" * 200, NotDicomError, "not a DICOM file"),
        (b"\x00" * 128 + b"DICM", TruncatedError, "truncated"),
        (b"\x08\x00\x16\x00\x1a\x00\x00\x00DOE^JOHN 19600101 MRN0001 " * 3, NotDicomError, "not a DICOM file"),
    ],
)
def test_bad_inputs_are_refused_in_plain_words(data, error, reason):
    with pytest.raises(error) as caught:
        deidentify_bytes(data, CONTEXT)
    assert caught.value.reason == reason == str(caught.value)
    # Nothing chained: a pydicom message could quote a value of the file.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.3, 0.5, 0.9, 0.999])
def test_truncated_files_are_refused_wherever_they_are_cut(fraction):
    ds = synthetic.make_ct_series(1, rows=64, cols=64, phi=True).datasets[0]
    data = synthetic.to_bytes(ds)
    cut = synthetic.make_truncated(data, keep=fraction)
    with pytest.raises((TruncatedError, NotDicomError)) as caught:
        deidentify_bytes(cut, CONTEXT)
    assert "PHI" not in str(caught.value)


def test_truncated_encapsulated_pixel_data_is_refused():
    data = synthetic.to_bytes(synthetic.make_ct_series(1, rows=64, cols=64, transfer_syntax=RLELossless).datasets[0])
    with pytest.raises(TruncatedError):
        deidentify_bytes(data[:-20], CONTEXT)


def test_native_pixel_data_shorter_than_the_image_is_refused():
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    ds.PixelData = ds.PixelData[:100]
    with pytest.raises(TruncatedError):
        deidentify_bytes(synthetic.to_bytes(ds), CONTEXT)


def test_an_image_header_without_its_pixel_data_is_refused():
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    del ds.PixelData
    with pytest.raises(TruncatedError):
        deidentify_bytes(synthetic.to_bytes(ds), CONTEXT)


def test_a_file_without_sop_instance_uid_is_unsupported():
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    del ds.SOPInstanceUID
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3"
    with pytest.raises(UnsupportedError) as caught:
        deidentify_bytes(synthetic.to_bytes(ds), CONTEXT)
    assert caught.value.reason == "the file has no SOP Instance UID"


def test_a_dicomdir_is_skipped_not_refused():
    with pytest.raises(SkippedFile) as caught:
        deidentify_bytes(synthetic.make_dicomdir(), CONTEXT)
    assert caught.value.reason == "DICOMDIR"


def _all_inputs() -> list[tuple[str, bytes]]:
    inputs = []
    for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, JPEG2000Lossless):
        series = synthetic.make_ct_series(2, rows=32, cols=32, phi=True, transfer_syntax=syntax, seed=6)
        inputs.append((f"phi {syntax.name}", synthetic.to_bytes(series.datasets[1])))
    inputs.append(("no meta", synthetic.make_file_without_meta()))
    inputs.append(("ultrasound", synthetic.to_bytes(synthetic.make_ultrasound())))
    test_files = Path(pydicom.__file__).parent / "data" / "test_files"
    for name in ("CT_small.dcm", "MR_small_implicit.dcm", "test-SR.dcm", "rtstruct.dcm", "liver_1frame.dcm",
                 "examples_overlay.dcm", "JPEG2000.dcm", "waveform_ecg.dcm"):
        inputs.append((name, (test_files / name).read_bytes()))
    return inputs


@pytest.mark.parametrize(("name", "data"), _all_inputs(), ids=[name for name, _ in _all_inputs()])
def test_the_lean_reader_and_pydicoms_reader_give_the_same_output(name, data, monkeypatch):
    from imaging.deid import engine, fastread

    assert fastread.read_header_fast(io.BytesIO(data), len(data)) is not None, "the lean reader should take it"
    fast_output, fast_result = deidentify_bytes(data, CONTEXT)
    monkeypatch.setattr(engine, "read_header_fast", lambda fp, size: None)
    slow_output, slow_result = deidentify_bytes(data, CONTEXT)
    assert fast_output == slow_output
    assert fast_result == slow_result


def test_damaged_files_only_ever_raise_a_stated_reason():
    import random
    import warnings

    from imaging.deid import DeidError

    syntaxes = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless)
    bases = [synthetic.to_bytes(synthetic.make_ct_series(1, rows=16, cols=16, phi=True, transfer_syntax=syntax)
                                .datasets[0]) for syntax in syntaxes]
    bases.append(synthetic.make_file_without_meta())
    rng = random.Random(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(300):
            data = bytearray(rng.choice(bases))
            for _ in range(rng.randint(1, 6)):
                position = rng.randrange(len(data))
                roll = rng.random()
                if roll < 0.6:
                    data[position] = rng.randrange(256)
                elif roll < 0.8:
                    del data[position:position + rng.randint(1, 64)]
                else:
                    data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            reason = ""
            try:
                deidentify_bytes(bytes(data), CONTEXT)
            except DeidError as error:
                reason = error.reason
            assert "PHI" not in reason


# --- Crafted nesting (#19): refused in plain words before the stack or the later readers give out ---------


def _ct_without_pixels(syntax=ExplicitVRLittleEndian) -> pydicom.Dataset:
    """A structured report-like object (no pixel data) taken from a synthetic CT header."""
    ds = synthetic.make_ct_series(1, rows=16, cols=16, transfer_syntax=syntax, seed=9).datasets[0]
    del ds.PixelData
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "SamplesPerPixel", "PhotometricInterpretation"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    ds.Modality = "SR"
    return ds


def _undefined_length_nesting(levels: int) -> bytes:
    """`levels` ContentSequences of undefined length, each in the single item of the one around it."""
    open_level = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    close_level = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    return open_level * levels + close_level * levels


@pytest.mark.parametrize("levels", [5000, 40])
def test_thousands_of_nested_undefined_length_sequences_are_refused(levels):
    data = synthetic.to_bytes(_ct_without_pixels()) + _undefined_length_nesting(levels)
    with pytest.raises(TooComplexError) as refused:
        deidentify_bytes(data, CONTEXT)
    assert "nested more" in refused.value.reason


def _defined_length_nesting(levels: int) -> bytes:
    """A file whose ContentSequence holds `levels` more ContentSequences of defined length, one in another."""
    ds = _ct_without_pixels()
    inner = pydicom.Dataset()
    inner.CodeMeaning = "leaf"
    for _ in range(levels):
        outer = pydicom.Dataset()
        outer.ContentSequence = [inner]
        inner = outer
    ds.ContentSequence = [inner]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_deep_sequences_of_defined_length_are_refused_rather_than_stored():
    with pytest.raises(TooComplexError):
        deidentify_bytes(_defined_length_nesting(200), CONTEXT)


def test_real_nesting_depths_are_kept():
    output, _result = deidentify_bytes(_defined_length_nesting(6), CONTEXT)
    kept = pydicom.dcmread(io.BytesIO(output))
    depth, item = 0, kept
    while "ContentSequence" in item:
        item, depth = item.ContentSequence[0], depth + 1
    assert depth == 7 and item.CodeMeaning == "leaf"


# --- Work bounds (#19): a small file that would cost minutes and gigabytes is refused before it is parsed ----

def _with_body(ds: pydicom.Dataset, extra: bytes, *, deflate: bool) -> bytes:
    """`ds` (explicit VR little endian) followed by the encoded elements `extra`, deflated as PS3.5 A.5 if asked."""
    from pydicom.filewriter import write_file_meta_info

    from imaging.deid.bounds import _file_meta

    plain = synthetic.to_bytes(ds)
    _, body = _file_meta(io.BytesIO(plain), 132, len(plain))
    if not deflate:
        return plain + extra
    meta = pydicom.dataset.FileMetaDataset(ds.file_meta)
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    header = io.BytesIO()
    header.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(header, meta, enforce_standard=True)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return header.getvalue() + compressor.compress(plain[body:] + extra) + compressor.flush()


def _empty_private_elements(count: int) -> bytes:
    """`count` empty LO elements in private groups 0011, 0013, ... (8 bytes each, in tag order)."""
    import struct

    per_group = 0xFF00 - 0x1000
    return b"".join(struct.pack("<HH2sH", 0x0011 + 2 * (i // per_group), 0x1000 + i % per_group, b"LO", 0)
                    for i in range(count))


def _zero_pixels(length: int) -> bytes:
    import struct

    return struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, length) + bytes(length)


def test_a_deflated_file_that_inflates_past_the_bound_is_refused_without_inflating_it_whole(monkeypatch):
    from imaging.deid import bounds

    monkeypatch.setattr(bounds, "MAX_INFLATED_BYTES", 4 * 1024 * 1024)
    data = _with_body(_ct_without_pixels(), _zero_pixels(6 * 1024 * 1024), deflate=True)
    assert len(data) < 64 * 1024  # a few KB that would inflate to 6 MB
    with pytest.raises(TooComplexError) as refused:
        deidentify_bytes(data, CONTEXT)
    assert "inflates to more than 4 MB" in refused.value.reason


@pytest.mark.parametrize("deflate", [True, False], ids=["deflated", "plain"])
def test_millions_of_tiny_elements_are_refused_before_they_are_parsed(deflate, monkeypatch):
    from imaging.deid import bounds

    monkeypatch.setattr(bounds, "SMALL_FILE", 64 * 1024)
    monkeypatch.setattr(bounds, "MAX_ELEMENTS", 20_000)
    data = _with_body(_ct_without_pixels(), _empty_private_elements(30_000), deflate=deflate)
    with pytest.raises(TooComplexError) as refused:
        deidentify_bytes(data, CONTEXT)
    assert "more than 20,000 data elements" in refused.value.reason


def test_elements_inside_sequences_are_counted_and_pixel_data_ends_the_count():
    import struct

    from imaging.deid.bounds import count_elements

    item = _empty_private_elements(10)
    sequence = (struct.pack("<HH2sHL", 0x0040, 0xA730, b"SQ", 0, _UNDEFINED := 0xFFFFFFFF)
                + (b"\xfe\xff\x00\xe0" + struct.pack("<L", len(item)) + item) * 3 + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00")
    defined = struct.pack("<HH2sHL", 0x0040, 0xA731, b"SQ", 0, 8 + len(item)) + b"\xfe\xff\x00\xe0" + \
        struct.pack("<L", len(item)) + item
    after = _empty_private_elements(5)
    data = sequence + defined + _zero_pixels(16) + after
    # 1 + 30 in the undefined-length sequence, 1 + 10 in the defined one, the pixel data; nothing after it.
    assert count_elements(data, 0, implicit=False, little_endian=True) == 43
    with pytest.raises(TooComplexError):
        count_elements(data, 0, implicit=False, little_endian=True, limit=40)


def test_real_files_are_well_inside_the_bounds():
    from imaging.deid.bounds import check_file

    for ds in (synthetic.make_ct_series(1, rows=32, cols=32).datasets[0], _ct_without_pixels()):
        data = synthetic.to_bytes(ds)
        check_file(io.BytesIO(data), len(data))  # does not raise
