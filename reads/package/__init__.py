"""The sponsor's read package of reads.md (pure writers, no Django): input model, SDTM, XPT, Define-XML, SR, CSV, zip.

Import the submodules directly (`reads.package.sdtm`, `reads.package.sr`, ...): this package
imports nothing itself, so that using the zip writer does not load pandas or highdicom.
"""
