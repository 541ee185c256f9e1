"""Imaging, one sub-package per stage of the pipeline a scan goes through.

intake/    submissions, browser and resumable uploads, zip safety, quarantine, de-identification
           of each file (with deid/) and recording it in the archive
deid/      the de-identification engine (pure: pydicom only, no Django), PS3.15 Annex E
archive/   storage keys and files of the de-identified instances; study/series/instance reads
qc/        automated QC (rules/ is pure), series and visit decisions, the QC queue and dashboard
queries/   questions from the core lab to a site: one state machine, pages, API, e-mail
viewer/    rendering (window/level, frames, thumbnails), calipers and the viewer pages
dicomweb/  read-only QIDO-RS / WADO-RS over the de-identified archive

models.py and choices.py hold the models and vocabularies the stages share.
"""
