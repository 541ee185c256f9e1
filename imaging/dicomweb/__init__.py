"""Read-only DICOMweb (QIDO-RS search, WADO-RS retrieve) over the trial's de-identified images."""
