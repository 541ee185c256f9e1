"""The automated QC checks, one function per rule, each saying what it checks and why.

Visit-level checks take the visit's series (and requirements or context); series checks take one
series; requirement checks take one series and the requirement it is used for. Each returns
findings with the default severity; `imaging.qc.rules.evaluate` applies the trial's policy.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence

from imaging.qc.rules.geometry import (
    ROUNDING_ALLOWANCE_MM,
    missing_instance_numbers,
    slice_normal,
)
from imaging.qc.rules.model import (
    ContrastRule,
    Finding,
    Orientation,
    RequirementRules,
    SeriesInfo,
    VisitContext,
)
from imaging.qc.rules.prepared import (
    DEFAULT_TOLERANCE,
    EPSILON_MM,
    Code,
    coverage_mm,
    geometry_of,
    new_finding,
    rounded,
    slice_count,
    view_of,
)
from imaging.qc.rules.vocabulary import (
    BURNED_IN_MODALITIES,
    ULTRASOUND_SOP_CLASSES,
    agent_given,
    description_contrast_hint,
    is_localizer,
    is_secondary_capture,
    modality_name,
    normalize_modality,
)
from imaging.qc.rules.wording import (
    count,
    days,
    examples,
    join,
    mm,
    requirement_label,
    series_label,
    series_list,
)

# --------------------------------------------------------------------------- visit-level rules


def check_unreadable_files(visit: VisitContext) -> list[Finding]:
    """Files of the visit's submissions that could not be read as DICOM at all.

    They belong to no series, so they are reported once for the visit, with their names, so the
    site can tell whether an image is missing or a stray document was in the archive.
    """
    files = sorted(visit.unreadable_files, key=lambda f: (f.name, f.reason))
    if not files:
        return []
    names = [f"'{f.name}'" for f in files if f.name]
    listed = f": {examples(names, len(files), 3)}" if names else ""
    if len(files) == 1:
        what, request = "1 file that could not be read as a DICOM image", "If it is an image of this visit, please re-send it"
    else:
        what, request = f"{len(files)} files that could not be read as DICOM images", (
            "If they are images of this visit, please re-send them"
        )
    message = f"The upload for this visit contained {what}{listed}. {request} in DICOM format."
    return [new_finding(Code.UNREADABLE_FILES, message, files=[{"name": f.name, "reason": f.reason} for f in files])]


def _studies(series: Sequence[SeriesInfo]) -> list[tuple[str, list[SeriesInfo], dt.date | None]]:
    """(study UID, its series, its earliest scan date), earliest study first; "" for no UID."""
    grouped: dict[str, list[SeriesInfo]] = defaultdict(list)
    for item in series:
        grouped[view_of(item).study_uid].append(item)
    studies = []
    for uid, members in grouped.items():
        dates = [d for d in (view_of(m).scan_date for m in members) if d is not None]
        studies.append((uid, members, min(dates) if dates else None))
    return sorted(studies, key=lambda s: (s[2] is None, s[2] or dt.date.min, s[0]))


def check_single_study(series: Sequence[SeriesInfo], requirements: Sequence[RequirementRules]) -> list[Finding]:
    """More than one study (scan session) for the visit, unless a requirement allows it.

    Two sessions usually mean a scan from another day or another patient episode was sent with
    this visit; only the site can say which one belongs to it. A timepoint that expects separate
    sessions (say CT and a bone scan) sets `allow_multiple_studies` on any of its requirements.
    """
    studies = [s for s in _studies(series) if s[0]]
    if len(studies) <= 1 or any(r.allow_multiple_studies for r in requirements):
        return []
    dates = [s[2] for s in studies if s[2] is not None]
    when = ""
    if len(dates) >= 2:
        apart = (max(dates) - min(dates)).days
        when = " They were acquired on the same day." if apart == 0 else f" They were acquired {days(apart)} apart."
    parts = [f"one with {series_list(members)}" for _, members, _ in studies]
    message = (
        f"Images from {len(studies)} different scan sessions (studies) were received for this visit: "
        f"{join(parts)}.{when} The protocol expects one session per visit: please tell us which one "
        "belongs to this visit."
    )
    return [
        new_finding(
            Code.MULTIPLE_STUDIES,
            message,
            studies=[
                {
                    "study_uid": uid,
                    "series_numbers": [m.series_number for m in members],
                    "scan_date": date.isoformat() if date else None,
                }
                for uid, members, date in studies
            ],
        )
    ]


def check_scan_dates(series: Sequence[SeriesInfo], visit: VisitContext) -> list[Finding]:
    """Each study's scan date against the visit window, and against the date the site reported.

    The scan date is the earliest AcquisitionDate of the study's images (a scan that runs past
    midnight keeps its start date), falling back to the StudyDate. Both the header dates and the
    window are in the participant's shifted frame, so they compare directly; the messages speak
    in days before or after the window, never in dates.
    """
    if not series:
        return []
    findings: list[Finding] = []
    start, end = visit.window_start, visit.window_end
    if start is None and end is None:
        findings.append(
            new_finding(
                Code.VISIT_WINDOW_UNKNOWN,
                "The visit window is not known yet (for example the treatment start date has not been entered), "
                "so the scan date was not checked against it.",
            )
        )
    window_start = start.isoformat() if start else None
    window_end = end.isoformat() if end else None
    for uid, members, date in _studies(series):
        which = f"The images of this visit ({series_list(members)})"
        numbers = [m.series_number for m in members]
        if date is None:
            findings.append(
                new_finding(
                    Code.SCAN_DATE_MISSING,
                    f"{which} carry no acquisition or study date, so we cannot check that they were acquired "
                    "within the visit window. Please tell us the scan date.",
                    study_uid=uid,
                    series_numbers=numbers,
                )
            )
            continue
        outside = None
        window_name = f"the window of visit {visit.timepoint_code}" if visit.timepoint_code else "the visit window"
        if start is not None and date < start:
            outside = -(start - date).days
            words = f"{days(-outside)} before {window_name} opened"
        elif end is not None and date > end:
            outside = (date - end).days
            words = f"{days(outside)} after {window_name} closed"
        if outside is not None:
            findings.append(
                new_finding(
                    Code.SCAN_DATE_OUTSIDE_WINDOW,
                    f"{which} were acquired {words}. Please confirm the scan date, or tell us why the scan was "
                    "done outside the window.",
                    study_uid=uid,
                    scan_date=date.isoformat(),
                    days_outside=outside,
                    series_numbers=numbers,
                    window_start=window_start,
                    window_end=window_end,
                )
            )
        reported = visit.reported_scan_date
        if reported is not None and abs((reported - date).days) > visit.scan_date_tolerance_days:
            difference = (reported - date).days
            direction = "later" if difference > 0 else "earlier"
            findings.append(
                new_finding(
                    Code.SCAN_DATE_MISMATCH,
                    f"The scan date you reported for this visit is {days(abs(difference))} {direction} than the "
                    f"date recorded in the images ({series_list(members)}). Please check the scan date you entered.",
                    study_uid=uid,
                    scan_date=date.isoformat(),
                    reported_scan_date=reported.isoformat(),
                    difference_days=difference,
                    series_numbers=numbers,
                )
            )
    return findings


# --------------------------------------------------------------------------- rules for every series


def check_unreadable_instances(series: SeriesInfo) -> list[Finding]:
    """Images whose pixel data could not be decoded: damaged in transfer, so re-sending fixes it."""
    view = view_of(series)
    bad = [i for i in view.instances if not i.readable]
    if not bad:
        return []
    total = len(view.instances)
    if len(bad) == total:
        what = "its image could not be read" if total == 1 else f"none of its {total} images could be read"
    else:
        what = f"{len(bad)} of its {total} images could not be read"
    numbers = sorted(i.instance_number for i in bad if i.instance_number is not None)
    return [
        new_finding(
            Code.UNREADABLE_INSTANCES,
            f"{series_label(series)}: {what} (the files may be damaged). Please re-send the series.",
            series=series,
            unreadable=len(bad),
            images=total,
            instance_numbers=numbers[:20],
        )
    ]


def check_mixed_modality(series: SeriesInfo) -> list[Finding]:
    """Images of different modalities in one series, which DICOM forbids and viewers mishandle."""
    view = view_of(series)
    modalities = {normalize_modality(i.modality) for i in view.instances if i.modality.strip()}
    if series.modality.strip():
        modalities.add(normalize_modality(series.modality))
    if len(modalities) <= 1:
        return []
    ordered = sorted(modalities)
    return [
        new_finding(
            Code.MIXED_MODALITY,
            f"{series_label(series)} mixes images of different modalities ({join([modality_name(m) for m in ordered])}). "
            "Please check the export and re-send it with each kind of image in its own series.",
            series=series,
            modalities=ordered,
        )
    ]


def check_burned_in(series: SeriesInfo) -> list[Finding]:
    """Text burned into the pixels (names, dates, IDs) that de-identification of the header cannot remove.

    Declared (BurnedInAnnotation YES on any image, or de-identification flagged it) gives
    `burned_in_annotation`; likely (ultrasound, screen captures, other kinds known to carry
    text, recognisable features, or a de-identification flag) gives `burned_in_annotation_possible`.
    Both are for a QC analyst to review before the series is used (see the severity policy).
    """
    view = view_of(series)
    declared = [i.burned_in_annotation for i in view.instances if (i.burned_in_annotation or "").strip().upper() == "YES"]
    tail = (
        ". Such text may show the patient's name or other identifying details; a QC analyst will review these "
        "images before they are used."
    )
    if declared or "burned_in_annotation" in series.flags:
        return [
            new_finding(
                Code.BURNED_IN_ANNOTATION,
                f"{series_label(series)}: the image header says text is burned into the pixels{tail}",
                series=series,
                declared_images=len(declared),
                reason=series.burned_in_reason,
            )
        ]
    sop_classes = {i.sop_class_uid for i in view.instances}
    reasons: list[str] = []
    if view.modality == "US" or "ultrasound" in series.flags or sop_classes & ULTRASOUND_SOP_CLASSES:
        reasons.append("ultrasound images usually have text burned into the pixels")
    if "secondary_capture" in series.flags or any(is_secondary_capture(uid) for uid in sop_classes):
        reasons.append("these are screen captures, which usually show text burned into the pixels")
    if view.modality in BURNED_IN_MODALITIES and not reasons:
        reasons.append(f"{BURNED_IN_MODALITIES[view.modality]} often have text burned into the pixels")
    if "recognizable_visual_features" in series.flags:
        reasons.append("the header says the images may show recognisable features of the patient")
    if series.burned_in and not reasons:
        reasons.append("de-identification flagged the images as possibly showing burned-in text")
    if not reasons:
        return []
    return [
        new_finding(
            Code.BURNED_IN_ANNOTATION_POSSIBLE,
            f"{series_label(series)}: {join(reasons)}{tail}",
            series=series,
            reasons=reasons,
            flags=sorted(series.flags),
            reason=series.burned_in_reason,
        )
    ]


def check_image_size(series: SeriesInfo) -> list[Finding]:
    """Images of different Rows × Columns in one series: usually two series exported together."""
    sizes = sorted({(i.rows, i.columns) for i in view_of(series).instances if i.rows and i.columns})
    if len(sizes) <= 1:
        return []
    return [
        new_finding(
            Code.MIXED_IMAGE_SIZE,
            f"{series_label(series)}: the images have different sizes ({join([f'{r} × {c}' for r, c in sizes])} "
            "pixels), which usually means images of different series were exported together. Please check the "
            "series and re-send it.",
            series=series,
            sizes=[list(s) for s in sizes],
        )
    ]


def _plane(orientation: Orientation) -> str:
    normal = slice_normal(orientation)
    if normal is None:
        return "unknown"
    axis = max(range(3), key=lambda k: abs(normal[k]))
    name = ("sagittal", "coronal", "axial")[axis]
    return name if abs(normal[axis]) >= 0.9 else f"oblique {name}"


def check_orientation(series: SeriesInfo) -> list[Finding]:
    """Slices in more than one orientation (ImageOrientationPatient): the series is not one stack,
    typically because a scout or reformat was exported into it. Localizers (three-plane scouts)
    are built that way and are left alone."""
    geometry = geometry_of(series, DEFAULT_TOLERANCE)
    if len(geometry.orientations) <= 1 or is_localizer(series.description):
        return []
    planes = [_plane(o) for o in geometry.orientations]
    named = f" ({join(planes)})" if len(set(planes)) == len(planes) else ""
    return [
        new_finding(
            Code.MIXED_ORIENTATION,
            f"{series_label(series)}: the images lie in {len(planes)} different orientations{named}, so the series "
            "cannot be read as one stack of slices. If a scout or reformat was exported into this series, please "
            "re-send it separately.",
            series=series,
            orientations=[list(o) for o in geometry.orientations],
            planes=planes,
        )
    ]


SERIES_CHECKS: tuple[Callable[[SeriesInfo], list[Finding]], ...] = (
    check_unreadable_instances,
    check_mixed_modality,
    check_image_size,
    check_orientation,
    check_burned_in,
)


# --------------------------------------------------------------------------- rules against a requirement


def check_slice_thickness(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """SliceThickness above the protocol maximum: thick slices hide small lesions and make
    RECIST measurements unreliable. Exactly the maximum passes."""
    limit = requirement.max_slice_thickness_mm
    if limit is None:
        return []
    view = view_of(series)
    label = series_label(series)
    if view.thickness is None:
        return [
            new_finding(
                Code.SLICE_THICKNESS_MISSING,
                f"{label}: the images do not record their slice thickness, so the protocol maximum of {mm(limit)} "
                "cannot be checked. Please tell us the slice thickness of this series.",
                series=series,
                requirement=requirement,
                header="SliceThickness",
                expected_max_mm=limit,
            )
        ]
    thickest = view.thickness[1]
    if thickest <= limit + EPSILON_MM:
        return []
    values = [i.slice_thickness for i in view.instances if i.slice_thickness is not None and i.slice_thickness > 0]
    over = sum(1 for v in values if v > limit + EPSILON_MM)
    if over == len(values):
        what = f"slice thickness {mm(thickest)} exceeds"
    else:
        what = f"{over} of its {len(values)} images have a slice thickness of up to {mm(thickest)}, above"
    return [
        new_finding(
            Code.SLICE_THICKNESS_EXCEEDED,
            f"{label}: {what} the protocol maximum of {mm(limit)}. Please re-send the thin-slice reconstruction.",
            series=series,
            requirement=requirement,
            header="SliceThickness",
            measured_mm=rounded(thickest),
            measured_min_mm=rounded(view.thickness[0]),
            expected_max_mm=limit,
            images_over=over,
        )
    ]


def check_pixel_spacing(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """In-plane PixelSpacing outside the protocol range (field of view and matrix): too coarse
    blurs small lesions, and without any spacing calipers cannot measure in millimetres."""
    low, high = requirement.min_pixel_spacing_mm, requirement.max_pixel_spacing_mm
    if low is None and high is None:
        return []
    view = view_of(series)
    label = series_label(series)
    values = [v for i in view.instances if i.pixel_spacing for v in i.pixel_spacing if v > 0]
    if not values:
        return [
            new_finding(
                Code.PIXEL_SPACING_MISSING,
                f"{label}: the images do not record their pixel spacing, so lesions cannot be measured in "
                "millimetres and the protocol range cannot be checked. Please check the export settings and re-send "
                "the series.",
                series=series,
                requirement=requirement,
                header="PixelSpacing",
                expected_min_mm=low,
                expected_max_mm=high,
            )
        ]
    smallest, largest = min(values), max(values)
    problems, advice = [], []
    if high is not None and largest > high + EPSILON_MM:
        problems.append(f"pixel spacing {mm(largest)} is above the protocol maximum of {mm(high)}")
        advice.append("a smaller field of view or a larger matrix")
    if low is not None and smallest < low - EPSILON_MM:
        problems.append(f"pixel spacing {mm(smallest)} is below the protocol minimum of {mm(low)}")
        advice.append("a larger field of view")
    if not problems:
        return []
    return [
        new_finding(
            Code.PIXEL_SPACING_OUT_OF_RANGE,
            f"{label}: {join(problems)}. Please send a reconstruction with {' or '.join(advice)}.",
            series=series,
            requirement=requirement,
            header="PixelSpacing",
            measured_min_mm=rounded(smallest),
            measured_max_mm=rounded(largest),
            expected_min_mm=low,
            expected_max_mm=high,
        )
    ]


def check_matrix(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """Rows or Columns below the protocol's minimum matrix (e.g. 512): a low-resolution
    reconstruction was sent."""
    minimum = requirement.min_matrix
    if minimum is None:
        return []
    sizes = [(i.rows, i.columns) for i in view_of(series).instances if i.rows and i.columns]
    if not sizes:
        return []
    rows, columns = min(r for r, _ in sizes), min(c for _, c in sizes)
    if min(rows, columns) >= minimum:
        return []
    return [
        new_finding(
            Code.MATRIX_TOO_SMALL,
            f"{series_label(series)}: images of {rows} × {columns} pixels are smaller than the protocol minimum of "
            f"{minimum} × {minimum}. Please send a reconstruction with a matrix of at least {minimum} × {minimum}.",
            series=series,
            requirement=requirement,
            header="Rows/Columns",
            measured=[rows, columns],
            expected_min=minimum,
        )
    ]


def check_contrast(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """Contrast against the protocol, from ContrastBolusAgent (values such as "NONE" count as empty).

    Sites often leave the agent empty on enhanced scans, so when the series description says the
    opposite of the header ("PORTAL VENOUS", "C+", "NON-CON") the finding is `contrast_uncertain`
    for the analyst instead of a query to the site.
    """
    rule = requirement.contrast
    if rule == ContrastRule.EITHER:
        return []
    view = view_of(series)
    agents = sorted({i.contrast_agent.strip() for i in view.instances if agent_given(i.contrast_agent)})
    hint = description_contrast_hint(series.description)
    label = series_label(series)

    def finding(code: Code, message: str) -> list[Finding]:
        return [
            new_finding(
                code,
                message,
                series=series,
                requirement=requirement,
                header="ContrastBolusAgent",
                measured=agents,
                expected=str(rule),
                description_hint=hint,
            )
        ]

    if rule == ContrastRule.REQUIRED and not agents:
        if hint:
            return finding(
                Code.CONTRAST_UNCERTAIN,
                f"{label}: the description suggests contrast was given, but the images record no contrast agent. "
                "A QC analyst will check it; please tell us the agent if you know it.",
            )
        return finding(
            Code.CONTRAST_MISSING,
            f"{label}: the protocol requires contrast for the {requirement_label(requirement)}, but the images "
            "record no contrast agent. If contrast was given, please tell us which agent; otherwise please send "
            "the contrast-enhanced series.",
        )
    if rule == ContrastRule.NOT_ALLOWED and agents:
        return finding(
            Code.CONTRAST_NOT_ALLOWED,
            f"{label}: the protocol requires the {requirement_label(requirement)} without contrast, but the images "
            f"record the contrast agent {join([repr(a) for a in agents])}. Please send the series acquired "
            "without contrast, or tell us if the agent was recorded by mistake.",
        )
    if rule == ContrastRule.NOT_ALLOWED and hint:
        return finding(
            Code.CONTRAST_UNCERTAIN,
            f"{label}: the protocol requires the {requirement_label(requirement)} without contrast, and the "
            "description suggests contrast was given, though the images record no agent. A QC analyst will "
            "check it.",
        )
    return []


def check_slice_spacing(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """Missing slices and uneven spacing along the slice normal (CT, MR, PET).

    Evidence, strongest first: slice positions (ImagePositionPatient projected on the normal of
    ImageOrientationPatient; robust to file order, duplicates, tilt and multi-frame objects with
    per-frame positions), then InstanceNumber gaps. A jump of a whole multiple of the usual spacing
    is missing slices; any other departure beyond `slice_gap_tolerance` is irregular spacing.
    InstanceNumber gaps with continuous positions are only a warning (vendors skip numbers).
    Without positions for every image only the numbers can be checked, and that is said.
    """
    view = view_of(series)
    if not view.cross_sectional:
        return []
    tolerance = requirement.slice_gap_tolerance
    geometry = geometry_of(series, tolerance)
    label = series_label(series)
    absent, first_absent = missing_instance_numbers(view.instances)
    numbers = (
        f"image number {first_absent[0]} is absent" if absent == 1
        else f"image numbers {examples(list(first_absent), absent)} are absent"
    )
    findings: list[Finding] = []
    if not geometry.complete:
        unplaced = geometry.frames - geometry.positioned
        if geometry.positioned == 0:
            which = "the images record"
        else:
            which = f"{unplaced} of its {geometry.frames} images record{'s' if unplaced == 1 else ''}"
        findings.append(
            new_finding(
                Code.SLICE_POSITION_MISSING,
                f"{label}: {which} no slice position, so missing or unevenly spaced slices cannot be checked. "
                "A QC analyst will look at the series.",
                header="ImagePositionPatient/ImageOrientationPatient",
                images_without_position=unplaced,
                images=geometry.frames,
                series=series,
                requirement=requirement,
            )
        )
        if absent:
            findings.append(
                new_finding(
                    Code.MISSING_SLICES,
                    f"{label}: {numbers}, so {count(absent, 'image')} appear{'s' if absent == 1 else ''} to be "
                    "missing. Please re-send the complete series.",
                    header="InstanceNumber",
                    missing=absent,
                    missing_instance_numbers=list(first_absent),
                    series=series,
                    requirement=requirement,
                )
            )
        return findings
    spacing = geometry.spacing_mm
    if geometry.gaps or geometry.images_short:
        sentences = []
        if geometry.gaps:
            missing = geometry.missing_slices
            widths = {round(gap.end_mm - gap.start_mm, 3) for gap in geometry.gaps}
            jump = f"to {mm(max(widths))}" if len(widths) == 1 else f"to as much as {mm(max(widths))}"
            sentences.append(
                f"{count(missing, 'slice')} appear{'s' if missing == 1 else ''} to be missing: the distance between "
                f"neighbouring slices jumps {jump} in {count(len(geometry.gaps), 'place')} where it is "
                f"otherwise {mm(spacing or 0)}"
                + (f" ({numbers})" if absent else "")
            )
        if geometry.images_short:
            sentences.append(
                f"{count(geometry.images_short, 'image')} appear{'s' if geometry.images_short == 1 else ''} to be "
                f"missing: most slice positions hold {geometry.images_per_location} images, some fewer"
            )
        findings.append(
            new_finding(
                Code.MISSING_SLICES,
                f"{label}: {'; '.join(sentences)}. Please re-send the complete series.",
                header="ImagePositionPatient",
                missing=geometry.missing_slices + geometry.images_short,
                gaps=[{"from_mm": rounded(g.start_mm), "to_mm": rounded(g.end_mm), "missing": g.missing} for g in geometry.gaps],
                expected_spacing_mm=rounded(spacing),
                missing_instance_numbers=list(first_absent),
                series=series,
                requirement=requirement,
            )
        )
    elif absent:
        findings.append(
            new_finding(
                Code.INSTANCE_NUMBER_GAP,
                f"{label}: {numbers}, although the slice positions are continuous, so the series is probably "
                "complete. A QC analyst will confirm.",
                header="InstanceNumber",
                missing=absent,
                missing_instance_numbers=list(first_absent),
                series=series,
                requirement=requirement,
            )
        )
    if geometry.irregular and spacing:
        odd = sorted({round(i.length_mm, 3) for i in geometry.irregular})
        findings.append(
            new_finding(
                Code.IRREGULAR_SLICE_SPACING,
                f"{label}: the slices are not evenly spaced: neighbouring slices are {mm(spacing)} apart in most "
                f"places but {join([mm(v) for v in odd[:3]] + ([f'{len(odd) - 3} other distances'] if len(odd) > 3 else []))} "
                f"in {count(len(geometry.irregular), 'place')} (the protocol allows a difference of "
                f"{tolerance * 100:g} %). Please check the reconstruction and re-send the series.",
                header="ImagePositionPatient",
                expected_spacing_mm=rounded(spacing),
                tolerance=tolerance,
                irregular=[{"from_mm": rounded(i.start_mm), "to_mm": rounded(i.end_mm)} for i in geometry.irregular[:50]],
                series=series,
                requirement=requirement,
            )
        )
    if geometry.crowded_locations:
        findings.append(
            new_finding(
                Code.DUPLICATE_SLICES,
                f"{label}: {count(geometry.crowded_locations, 'slice position')} "
                f"hold{'s' if geometry.crowded_locations == 1 else ''} more than one image, as if "
                "images were sent twice or two reconstructions were merged. A QC analyst will check the series.",
                header="ImagePositionPatient",
                crowded_positions=geometry.crowded_locations,
                images_per_position=geometry.images_per_location,
                series=series,
                requirement=requirement,
            )
        )
    return findings


def check_slice_count(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """Fewer slices than the protocol minimum: a truncated series, or a scout sent instead.

    Counts distinct slice positions when every image has one (so the phases of a dynamic series
    count once), else images.
    """
    minimum = requirement.min_slices
    if minimum is None:
        return []
    slices = slice_count(series, requirement.slice_gap_tolerance)
    if slices >= minimum:
        return []
    noun = "slice" if view_of(series).cross_sectional else "image"
    return [
        new_finding(
            Code.TOO_FEW_SLICES,
            f"{series_label(series)}: the series has {count(slices, noun)}, fewer than the protocol minimum of "
            f"{minimum}. Please send the complete series.",
            series=series,
            requirement=requirement,
            measured=slices,
            expected_min=minimum,
        )
    ]


def check_coverage(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """Anatomical coverage along the slice direction shorter than `min_coverage_mm` (e.g. a CAP
    that stops above the pelvis). Needs positions for every image; otherwise position-missing
    already says the series could not be checked."""
    minimum = requirement.min_coverage_mm
    if minimum is None:
        return []
    covered = coverage_mm(series, requirement.slice_gap_tolerance)
    if covered is None or covered + EPSILON_MM >= minimum:
        return []
    return [
        new_finding(
            Code.COVERAGE_TOO_SHORT,
            f"{series_label(series)}: the slices cover {mm(covered)} from first to last, less than the {mm(minimum)} "
            f"the protocol requires for the {requirement_label(requirement)}. Please send a series covering the whole "
            "region.",
            series=series,
            requirement=requirement,
            measured_mm=rounded(covered),
            expected_min_mm=minimum,
        )
    ]


def check_contiguity(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """With `require_contiguous_slices`: slices further apart than they are thick leave tissue
    unimaged between them (common in 2D MR with a slice gap)."""
    if not requirement.require_contiguous_slices:
        return []
    view = view_of(series)
    geometry = geometry_of(series, requirement.slice_gap_tolerance)
    spacing = geometry.spacing_mm
    if not view.cross_sectional or spacing is None or view.thickness is None:
        return []
    thickness = view.thickness[1]
    if spacing <= thickness * (1 + requirement.slice_gap_tolerance) + ROUNDING_ALLOWANCE_MM:
        return []
    return [
        new_finding(
            Code.SLICES_NOT_CONTIGUOUS,
            f"{series_label(series)}: slices {mm(thickness)} thick are {mm(spacing)} apart, leaving {mm(spacing - thickness)} "
            "between them unimaged; the protocol requires contiguous slices. Please send a reconstruction whose slice "
            "spacing is not larger than the slice thickness.",
            series=series,
            requirement=requirement,
            measured_spacing_mm=rounded(spacing),
            measured_thickness_mm=rounded(thickness),
        )
    ]


REQUIREMENT_CHECKS: tuple[Callable[[SeriesInfo, RequirementRules], list[Finding]], ...] = (
    check_slice_thickness,
    check_pixel_spacing,
    check_matrix,
    check_contrast,
    check_slice_spacing,
    check_slice_count,
    check_coverage,
    check_contiguity,
)
EXTENT_CODES = frozenset({Code.TOO_FEW_SLICES, Code.COVERAGE_TOO_SHORT})


def requirement_findings(series: SeriesInfo, requirement: RequirementRules) -> list[Finding]:
    """Every acquisition check of `requirement` applied to `series` (default severities)."""
    return [finding for check in REQUIREMENT_CHECKS for finding in check(series, requirement)]
