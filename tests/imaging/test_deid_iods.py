"""Objects of the IODs no public file covers (PET, NM, MG, XA, DX with its positioner, enhanced MR/CT, RT Image).

Each is made from the synthetic CT with its SOP class, modality and the
attributes the issue found deleted (standard, not in the PS3.15 table):
de-identification keeps them, so dciodvfy finds no error the original
did not have.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from imaging.deid import DeidContext, DeidOptions, deidentify_bytes
from tests.imaging import synthetic
from tests.imaging.deid_corpus import dciodvfy_errors, has_dciodvfy

SECRET = b"0123456789abcdef0123456789abcdef"
CONTEXT = DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME",
                      protocol_id="P1", options=DeidOptions(ocr=False))


def code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def pet() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.128", "PT")
    ds.SeriesType, ds.Units, ds.CountsSource, ds.DecayCorrection = ["WHOLE BODY", "IMAGE"], "BQML", "EMISSION", "START"
    ds.CorrectedImage = ["ATTN", "DECY"]
    ds.ImageIndex, ds.NumberOfSlices, ds.FrameReferenceTime = 1, 1, 0
    ds.DecayFactor, ds.DoseCalibrationFactor = 1.0, 1.0
    info = Dataset()
    info.RadionuclideCodeSequence = Sequence([code("C-111A1", "SRT", "^18^Fluorine")])
    info.RadiopharmaceuticalStartTime, info.RadionuclideTotalDose, info.RadionuclideHalfLife = "080000", 3.7e8, 6586.2
    ds.RadiopharmaceuticalInformationSequence = Sequence([info])
    return ds


def nuclear() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.20", "NM")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "STATIC", "EMISSION"]
    ds.NumberOfFrames, ds.FrameIncrementPointer = 1, [0x00540010]
    ds.EnergyWindowVector, ds.NumberOfEnergyWindows, ds.DetectorVector, ds.NumberOfDetectors = [1], 1, [1], 1
    return ds


def mammography() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.1.2", "MG")
    ds.ImageLaterality, ds.ViewCodeSequence = "L", Sequence([code("R-10242", "SRT", "cranio-caudal")])
    ds.PositionerType, ds.DetectorType, ds.ImagerPixelSpacing = "MAMMOGRAPHIC", "DIRECT", [0.1, 0.1]
    ds.PresentationIntentType, ds.BreastImplantPresent = "FOR PRESENTATION", "NO"
    return ds


def angiography() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.12.1", "XA")
    ds.PositionerMotion, ds.PositionerPrimaryAngle, ds.PositionerSecondaryAngle = "STATIC", 10.0, 5.0
    ds.KVP, ds.RadiationSetting = 80, "GR"
    return ds


def digital_xray() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.1", "DX")
    ds.PositionerType, ds.DetectorType, ds.ImagerPixelSpacing = "NONE", "SCINTILLATOR", [0.14, 0.14]
    ds.PresentationIntentType, ds.ImageLaterality = "FOR PRESENTATION", "U"
    return ds


def enhanced_mr_attributes() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.4", "MR")
    ds.AcquisitionContrast, ds.ComplexImageComponent, ds.PulseSequenceName = "T1", "MAGNITUDE", "SE"
    ds.ReceiveCoilName, ds.SequenceName, ds.MRAcquisitionType = "HEAD 32", "*se2d1", "2D"
    return ds


def enhanced_ct_attributes() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.2", "CT")
    usage = Dataset()
    usage.ContrastBolusAgentNumber, usage.ContrastBolusAgentAdministered = 1, "YES"
    ds.ContrastBolusUsageSequence = Sequence([usage])
    event = Dataset()
    event.IrradiationEventUID = pydicom.uid.generate_uid()
    ds.IrradiationEventIdentificationSequence = Sequence([event])
    return ds


def rt_image() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.481.1", "RTIMAGE")
    ds.RTImageLabel, ds.RTImagePlane, ds.ConversionType = "PORTAL 1", "NORMAL", "DI"
    ds.RTImageSID, ds.RadiationMachineSAD, ds.ImagePlanePixelSpacing = 1500.0, 1000.0, [0.4, 0.4]
    return ds


def base(sop_class: str, modality: str) -> Dataset:
    ds = synthetic.make_ct_series(1, rows=32, cols=32).datasets[0]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.Modality = modality
    return ds


MAKERS = {"PET": pet, "NM": nuclear, "MG": mammography, "XA": angiography, "DX": digital_xray,
          "MR attributes": enhanced_mr_attributes, "CT attributes": enhanced_ct_attributes, "RT Image": rt_image}
KEPT = {
    "MG": ("PositionerType", "DetectorType", "ViewCodeSequence", "BreastImplantPresent"),
    "DX": ("PositionerType", "DetectorType", "PresentationIntentType"),
    "XA": ("PositionerMotion", "PositionerPrimaryAngle", "RadiationSetting"),
    "PET": ("SeriesType", "Units", "CorrectedImage", "RadiopharmaceuticalInformationSequence"),
    "MR attributes": ("AcquisitionContrast", "ComplexImageComponent", "PulseSequenceName", "ReceiveCoilName",
                      "SequenceName"),
    "CT attributes": ("ContrastBolusUsageSequence", "IrradiationEventIdentificationSequence"),
    "RT Image": ("RTImageLabel", "RTImagePlane", "RTImageSID"),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_standard_attributes_of_the_iod_are_kept_and_no_validation_error_is_added(kind, tmp_path):
    original = MAKERS[kind]()
    data = synthetic.to_bytes(original)
    output, _ = deidentify_bytes(data, CONTEXT)
    source, target = tmp_path / "original.dcm", tmp_path / "deid.dcm"
    source.write_bytes(data)
    target.write_bytes(output)
    back = pydicom.dcmread(target)
    for keyword in KEPT.get(kind, ()):
        assert keyword in back, keyword
    if kind == "CT attributes":
        uid = original.IrradiationEventIdentificationSequence[0].IrradiationEventUID
        assert back.IrradiationEventIdentificationSequence[0].IrradiationEventUID != uid  # remapped, like every UID
    if has_dciodvfy():
        with ThreadPoolExecutor(2) as pool:
            before, after = pool.map(dciodvfy_errors, (source, target))
        assert not after - before, after - before
