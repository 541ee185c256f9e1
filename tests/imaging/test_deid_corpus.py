"""Every public DICOM file installed with the test dependencies: de-identified validly, with no identity left.

For each file: it is de-identified or refused for a stated reason; no
identity value of the original is in the output bytes; dciodvfy finds no
error the original did not have; and the pixel data is unchanged, except
inside the regions Clean Pixel Data blanked. OCR runs only on the ultrasound
files (test_deid_ocr.py covers it); here the rest of the pipeline is what is
checked, with the region rules still applied.
"""
from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pydicom
import pytest

from imaging.deid import DeidContext, DeidError, DeidOptions, SkippedFile, deidentify_bytes
from tests.imaging.deid_corpus import corpus, dciodvfy_errors, has_dciodvfy

SECRET = b"0123456789abcdef0123456789abcdef"
CONTEXT = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                      protocol_id="P1", options=DeidOptions(ocr=False))
CORPUS = corpus()

# Files made to test one reader feature, and why they are refused (the reason is part of the contract).
EXPECTED_REFUSALS = {
    "pydicom/MR_truncated.dcm": "truncated",
    "pydicom/rtplan_truncated.dcm": "truncated",
    "pydicom/SC_rgb_jpeg.dcm": "damaged pixel data element",
    "pydicom/no_meta.dcm": "not a DICOM file",
    "pydicom/UN_sequence.dcm": "the file has no SOP Instance UID",
    "pydicom/empty_charset_LEI.dcm": "the file has no SOP Class UID",
    "pydicom/meta_missing_tsyntax.dcm": "the file has no SOP Class UID",
    "pydicom/nested_priv_SQ.dcm": "the file has no SOP Class UID",
    "pydicom/no_meta_group_length.dcm": "the file has no SOP Instance UID",
    "pydicom/priv_SQ.dcm": "the file has no SOP Instance UID",
    "pydicom/crayons.icc": "not a DICOM file",  # an ICC profile beside the test files
    "pydicom/dicomdirtests/TINY_ALPHA/README": "not a DICOM file",
    # Character set samples: Rows and Columns but no pixel data.
    "pydicom/chrJapMulti.dcm": "truncated",
    "pydicom/chrJapMultiExplicitIR6.dcm": "truncated",
    "pydicom/chrKoreanMulti.dcm": "truncated",
    "pydicom/chrSQEncoding.dcm": "the file has no SOP Instance UID",
    "pydicom/chrSQEncoding1.dcm": "the file has no SOP Instance UID",
    "data_store/emri_small_jpeg_2k_lossless_too_short.dcm": "truncated",
}
IDENTITY_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "OtherPatientIDs",
                     "PatientAddress", "ReferringPhysicianName", "OperatorsName", "PerformingPhysicianName",
                     "PatientTelephoneNumbers", "MedicalRecordLocator")
# What the engine writes itself, which an identity value may happen to be part of.
ENGINE_WORDS = ("ANONYMIZED", "101-001", "ACME", "Patient", "Name", "Retain", "Characteristics")


def identity_values(original: pydicom.Dataset) -> set[bytes]:
    """Identity values of the original, encoded as the file encodes them: whole values and name parts of 4+.

    A value that is also a code of a code sequence in the file (test-SR's patient "Test" and its coding
    scheme "TEST") is left out: code values are terms of a coding scheme and are kept.
    """
    encodings = original.get("SpecificCharacterSet") or "ISO_IR 6"
    codes = {str(element.value).upper() for element in original.iterall()
             if element.keyword in ("CodeValue", "CodingSchemeDesignator")}
    values = set()
    for keyword in IDENTITY_KEYWORDS:
        element = original.get(keyword)
        if element is None:
            continue
        for value in element if isinstance(element, pydicom.multival.MultiValue) else [element]:
            text = str(value).strip()
            parts = {text} | {part for part in re.split(r"[\^=\s,]+", text) if len(part) >= 4}
            for part in parts:
                if len(part) < 4 or not re.search(r"[A-Za-z0-9]", part) or part.upper() in codes or any(
                        part.upper() in word.upper() for word in ENGINE_WORDS):
                    continue
                try:
                    encoded = pydicom.charset.encode_string(part, pydicom.charset.convert_encodings(encodings))
                except Exception:
                    encoded = part.encode("utf-8", "ignore")
                if len(encoded) >= 4:
                    values.add(encoded)
    return values


def _words(data: bytes) -> set[bytes]:
    return set(re.findall(rb"[A-Za-z0-9\x80-\xff]+", data.upper()))


def _pixels_outside(ds: pydicom.Dataset, regions) -> np.ndarray:
    array = ds.pixel_array.copy()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    array = array.reshape(frames, ds.Rows, ds.Columns, -1)
    for region in regions:
        array[:, region.y:region.y + region.height, region.x:region.x + region.width, :] = 0
    return array


@pytest.mark.parametrize(("ident", "path"), CORPUS, ids=[ident for ident, _ in CORPUS])
def test_public_file_is_deidentified_validly_with_no_identity_left(ident, path, tmp_path):
    data = path.read_bytes()
    if ident in EXPECTED_REFUSALS:
        with pytest.raises(DeidError) as refused:
            deidentify_bytes(data, CONTEXT)
        assert refused.value.reason == EXPECTED_REFUSALS[ident]
        return
    if "DICOMDIR" in ident:
        with pytest.raises(SkippedFile, match="DICOMDIR"):
            deidentify_bytes(data, CONTEXT)
        return
    output, result = deidentify_bytes(data, CONTEXT)
    original = pydicom.dcmread(io.BytesIO(data), force=True)
    back = pydicom.dcmread(io.BytesIO(output))
    assert back.PatientIdentityRemoved == "YES"

    # No identity value of the original in the header (the pixel data is the OCR tests' business, and
    # 4-byte strings occur in pixel bytes by chance): values of five or more characters anywhere, shorter
    # ones and IDs as whole words (the engine's own rule: a surname "LI" must not eat "CLINICAL").
    header = output[: output.rfind(b"\xe0\x7f\x10\x00")] if "PixelData" in back else output
    header_upper, words = header.upper(), _words(header)
    for value in identity_values(original):
        if value.isdigit() or len(value) < 5:
            assert value.upper() not in words, value
        else:
            assert value.upper() not in header_upper, value

    # Pixel data: byte for byte, or equal outside what Clean Pixel Data blanked.
    if "PixelData" in original:
        if not result.burned_in.redacted:
            assert back.PixelData == original.PixelData
        else:
            assert back.BurnedInAnnotation == "NO"
            np.testing.assert_array_equal(_pixels_outside(back, result.burned_in.regions),
                                          _pixels_outside(original, result.burned_in.regions))

    if has_dciodvfy():
        source, target = path, tmp_path / "deid.dcm"
        target.write_bytes(output)
        with ThreadPoolExecutor(2) as pool:  # both runs at once: dciodvfy is a separate process
            before, after = pool.map(dciodvfy_errors, (source, target))
        new = after - before
        # SR references: dciodvfy compares them with evidence the original did not list either.
        assert not {line for line in new if "not listed in CurrentRequestedProcedureEvidenceSequence" not in line}, new
