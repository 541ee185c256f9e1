"""The words QC reads in headers: body regions and their synonyms, modalities, contrast hints.

Sites fill BodyPartExamined and SeriesDescription inconsistently ("CHEST", "THORAX", "CAP",
"AX ABD/PEL 5mm", "Thorax-Abdomen"), so a requirement is matched through canonical regions: each
known word maps to the regions it covers, and a requirement for "Chest/abdomen/pelvis" is met by
one CAP series or by a chest series plus an abdomen-pelvis series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

HEAD, NECK, CHEST, ABDOMEN, PELVIS = "HEAD", "NECK", "CHEST", "ABDOMEN", "PELVIS"
_TRUNK = frozenset({CHEST, ABDOMEN, PELVIS})
_WHOLE_BODY = frozenset({HEAD, NECK, CHEST, ABDOMEN, PELVIS})


def _words(regions: Iterable[str], *words: str) -> dict[str, frozenset[str]]:
    covered = frozenset(regions)
    return dict.fromkeys(words, covered)


#: Word (upper case, no separators) -> the canonical regions it covers. DICOM defined terms for
#: BodyPartExamined (PS3.16 Annex L: CHESTABDPELVIS, ABDOMENPELVIS, WHOLEBODY, HEADNECK ...), the
#: usual English abbreviations, and a few words PACS in Europe write.
REGION_WORDS: Mapping[str, frozenset[str]] = {
    **_words({HEAD}, "HEAD", "BRAIN", "SKULL", "CRANIUM", "CEREBRUM", "KOPF", "SCHAEDEL", "CRANE", "TETE"),
    **_words({NECK}, "NECK", "HALS", "COU"),
    **_words({HEAD, NECK}, "HEADNECK"),
    **_words({CHEST}, "CHEST", "THORAX", "THORACIC", "THX", "THOR", "LUNG", "LUNGS", "TORACE", "TORAX"),
    **_words({ABDOMEN}, "ABDOMEN", "ABD", "ABDO", "ABDOMINAL", "LIVER", "UPPERABDOMEN", "ADDOME", "BAUCH"),
    **_words({PELVIS}, "PELVIS", "PELVIC", "PEL", "PELV", "BECKEN", "BASSIN", "BACINO"),
    **_words({CHEST, ABDOMEN}, "CHESTABDOMEN", "CHESTABD", "THORAXABDOMEN", "THORAXABD"),
    **_words({ABDOMEN, PELVIS}, "ABDOMENPELVIS", "ABDPELVIS", "ABDPEL", "ABDPELV", "ABDOPELVIS"),
    **_words(_TRUNK, "CAP", "TAP", "CHESTABDPELVIS", "CHESTABDOMENPELVIS", "THORAXABDOMENPELVIS", "THORAXABDPELVIS"),
    **_words(_WHOLE_BODY, "WHOLEBODY", "WB", "TOTALBODY", "GANZKOERPER"),
    **_words({"SPINE"}, "SPINE", "CSPINE", "TSPINE", "LSPINE", "SPINAL"),
    **_words({"BREAST"}, "BREAST", "MAMMA"),
}

# Words of a requirement's free-text body region that name no region ("Chest/abdomen/pelvis
# with contrast", "Skull base to mid-thigh").
_FILLER = frozenset(
    {"AND", "WITH", "WITHOUT", "OF", "THE", "TO", "W", "WO", "PLUS", "OR", "CONTRAST", "BASE", "MID", "THIGH",
     "UPPER", "LOWER", "FROM", "INCLUDING", "SERIES", "SCAN", "CT", "MR", "MRI", "PET", "IV"}
)

_SPLIT = re.compile(r"[^A-Z0-9]+")


def words_of(text: str) -> tuple[str, ...]:
    """Upper-case words of a header text, plus neighbours joined up to three ("WHOLE BODY" ->
    WHOLEBODY, "CHEST ABD PELVIS" -> CHESTABDPELVIS), plus the whole text without separators."""
    parts = [p for p in _SPLIT.split(text.upper()) if p]
    found: list[str] = list(parts)
    for width in (2, 3):
        found += ["".join(parts[i : i + width]) for i in range(len(parts) - width + 1)]
    if parts:
        found.append("".join(parts))
    return tuple(dict.fromkeys(found))


def requirement_regions(body_region: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The canonical regions a requirement's free-text body region asks for, and its other words.

    Known words give canonical regions; when none is known (e.g. "Knee") the whole label becomes
    the single region, met by any of its other words. An empty body region means any region.
    """
    parts = [p for p in _SPLIT.split(body_region.upper()) if p and p not in _FILLER]
    regions: set[str] = set()
    for word in words_of(" ".join(parts)):
        regions |= REGION_WORDS.get(word, frozenset())
    unknown = tuple(p for p in parts if p not in REGION_WORDS)
    if regions:
        return tuple(sorted(regions)), ()
    if not parts:
        return (), ()
    return (" ".join(parts),), unknown


def default_keywords(regions: Iterable[str]) -> frozenset[str]:
    """Every known word covering at least one of `regions`."""
    wanted = set(regions)
    return frozenset(word for word, covered in REGION_WORDS.items() if covered & wanted)


# --------------------------------------------------------------------------- modalities

_MODALITY_ALIASES = {"PET": "PT", "MRI": "MR", "CR": "DX"}  # CR and DX are both plain X-ray for a protocol

MODALITY_NAMES: Mapping[str, str] = {
    "CT": "CT", "MR": "MRI", "PT": "PET", "NM": "nuclear medicine", "CR": "X-ray", "DX": "X-ray",
    "US": "ultrasound", "MG": "mammography", "XA": "angiography", "OT": "other", "SC": "screen capture",
    "SR": "structured report", "SEG": "segmentation",
}

#: Modalities of an imaging exam (as opposed to screen captures, reports, presentation states):
#: only these can be "the wrong modality" sent in place of a required exam.
EXAM_MODALITIES = frozenset({"CT", "MR", "PT", "NM", "US", "DX", "MG", "XA", "RF", "ST"})

#: Modalities whose series are stacks of parallel slices, where spacing and gaps mean something.
CROSS_SECTIONAL = frozenset({"CT", "MR", "PT"})


def normalize_modality(modality: str) -> str:
    upper = modality.strip().upper()
    return _MODALITY_ALIASES.get(upper, upper)


def modality_name(modality: str) -> str:
    upper = modality.strip().upper()
    return MODALITY_NAMES.get(upper, upper) if upper else "unknown modality"


# --------------------------------------------------------------------------- contrast

#: What sites type in ContrastBolusAgent to mean "none".
NO_CONTRAST_VALUES = frozenset({"", "NONE", "NO", "N", "NA", "N/A", "NIL", "0", "-", "NO CONTRAST", "NON CONTRAST",
                                "NONCONTRAST", "WITHOUT", "WITHOUT CONTRAST", "NATIVE", "NOT APPLICABLE"})

_SUGGESTS_CONTRAST = re.compile(
    r"(\bC\+|\+C\b|\bW/\s*C\b|\bW/\s*(IV\s+)?CON(TRAST)?\b|\bWITH\s+(IV\s+)?CONTRAST\b|\bPOST\b|\bPORTAL\b|\bVENOUS\b|\bARTERIAL\b|\bPV\b|"
    r"\bCE\b|\bENHANCED\b|\bGAD\b|\bGD\b|\bDELAYED\b|\bKM\b)"
)
_SUGGESTS_NO_CONTRAST = re.compile(
    r"(NON[-\s]?CON(TRAST)?\b|\bNO\s+CONTRAST\b|\bW/?O\b|\bWITHOUT\b|\bPRE\b|\bNC\b|\bPLAIN\b|\bNATIVE?\b|"
    r"\bUNENHANCED\b|\bNON[-\s]?ENHANCED\b)"
)


def agent_given(contrast_agent: str) -> bool:
    """True when ContrastBolusAgent names an agent (not empty, not a way of writing 'none')."""
    return " ".join(contrast_agent.upper().replace("_", " ").split()) not in NO_CONTRAST_VALUES


def description_contrast_hint(description: str) -> bool | None:
    """What a series description says about contrast: True, False, or None (silent or both)."""
    upper = description.upper()
    negative = bool(_SUGGESTS_NO_CONTRAST.search(upper))
    # "NON-CONTRAST" would otherwise also count as a positive hint.
    positive = bool(_SUGGESTS_CONTRAST.search(_SUGGESTS_NO_CONTRAST.sub(" ", upper)))
    if positive == negative:
        return None
    return positive


_LOCALIZER = re.compile(r"\b(LOC|LOCALI[SZ]ER|SCOUT|SURVEY|TOPOGRAM|SCANOGRAM|SURVIEW|PILOT|TRI-?PILOT|3[- ]?PLANE)\b")


def is_localizer(description: str) -> bool:
    """A planning scout, which legitimately mixes orientations."""
    return bool(_LOCALIZER.search(description.upper()))


# --------------------------------------------------------------------------- burned-in text

_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"  # SC and its multi-frame variants (.7.1-.7.4)
ULTRASOUND_SOP_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.6.1",  # US Image
    "1.2.840.10008.5.1.4.1.1.3.1",  # US Multi-frame Image
    "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
})
#: Modalities whose pixels usually carry burned-in text, as a site would name such images.
BURNED_IN_MODALITIES: Mapping[str, str] = {
    "US": "ultrasound images",
    "SC": "screen captures",
    "OT": "images stored as 'other' (often screenshots or scanned documents)",
    "XC": "photographs",
    "ES": "endoscopy images",
}


def is_secondary_capture(sop_class_uid: str) -> bool:
    return sop_class_uid == _SECONDARY_CAPTURE_PREFIX or sop_class_uid.startswith(_SECONDARY_CAPTURE_PREFIX + ".")
