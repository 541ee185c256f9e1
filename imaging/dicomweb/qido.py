"""QIDO-RS search (PS3.18 10.6): matching query keys on the scoped querysets, and result attributes.

Results are built from the database rows (no file is opened), one pydicom Dataset per match,
passed through blinding.dataset_for_user and encoded as application/dicom+json.

Blinded users (readers, adjudicators) match on what they are shown, never on stored values: the
keys whose values blinding changes (BLINDED_KEYS: PatientID, PatientName, StudyDate) are matched,
for a user with a blinded role anywhere, against each result's attributes as that user sees them
(the case code; dates moved so the case's baseline falls on the synthetic baseline date), with
the same wildcard and range rules the database matching uses. So `PatientID=101-001` or
`StudyDate=<stored date>` finds nothing for a reader, while `PatientID=<case code>` or
`StudyDate=20000101` finds the case's baseline. The other keys (UIDs, modality, descriptions,
numbers) hold the same value for every user and are matched in the database. Attributes the
archive never keeps or withholds from readers (accession number, referring physician, study ID)
only match empty or universal values, for everyone.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from pydicom import Dataset
from pydicom.datadict import keyword_for_tag, tag_for_keyword

from imaging.models import Instance, Series, Study

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
CONTROL_PARAMS = {"limit", "offset", "includefield", "fuzzymatching", "orderby", "accept", "charset"}


class QueryError(ValueError):
    """The query is malformed (answered 400)."""


@dataclass
class Query:
    """Parsed QIDO-RS query parameters."""

    matches: dict[str, str] = field(default_factory=dict)  # keyword -> value
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    includefield: set[str] = field(default_factory=set)  # keywords, or {"all"}
    warnings: list[str] = field(default_factory=list)


def _keyword(key: str) -> str | None:
    """A query key given as keyword ("StudyInstanceUID") or tag ("0020000D") as its keyword."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", key):
        return keyword_for_tag(int(key, 16)) or None
    return key if tag_for_keyword(key) is not None else None


def parse_query(params: Any) -> Query:
    """Parse request.GET (a QueryDict): match keys, limit/offset, includefield, fuzzymatching."""
    query = Query()
    for key in params:
        values = params.getlist(key)
        if any("\x00" in value for value in values):
            # No DICOM value holds NUL, and PostgreSQL refuses it in a query parameter.
            raise QueryError(f"The value of {key} contains a NUL character.")
        lowered = key.lower()
        if lowered == "limit":
            query.limit = _int(values[-1], "limit", 1, MAX_LIMIT)
        elif lowered == "offset":
            query.offset = _int(values[-1], "offset", 0, MAX_OFFSET)
        elif lowered == "includefield":
            for value in values:
                for raw in value.split(","):
                    name = raw.strip()
                    if name.lower() == "all":
                        query.includefield.add("all")
                    elif name:
                        keyword = _keyword(name)
                        if keyword is None:
                            raise QueryError(f"Unknown includefield attribute {name!r}.")
                        query.includefield.add(keyword)
        elif lowered == "fuzzymatching":
            if values[-1].lower() == "true":
                query.warnings.append('299 ICTMS "fuzzymatching is not supported; exact matching was used"')
        elif lowered in CONTROL_PARAMS:
            continue
        else:
            keyword = _keyword(key)
            if keyword is None:
                raise QueryError(f"Unknown query key {key!r}.")
            query.matches[keyword] = values[-1]
    return query


MAX_OFFSET = 10**9  # beyond any archive; larger ones would overflow the database's OFFSET


def _int(value: str, name: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{name} must be a whole number.") from None
    if number < low or (high is not None and number > high):
        raise QueryError(f"{name} must be between {low} and {high}." if high else f"{name} must be >= {low}.")
    return number


# --- matching -------------------------------------------------------------------------------------


MAX_PATTERN_LENGTH = 64  # the longest text VR a search key matches (LO) is 64 characters
MAX_PATTERN_STARS = 4


def _uid_list(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,\\]", value) if v.strip()]


def _wildcard(field_name: str, value: str) -> Q:
    """PS3.4 C.2.2.2.4 wildcard matching (* and ?), case-insensitive as most archives do it."""
    if value in ("", "*"):
        return Q()
    if "*" not in value and "?" not in value:
        return Q(**{f"{field_name}__iexact": value})
    value = re.sub(r"\*+", "*", value)  # "**" matches what "*" does
    if len(value) > MAX_PATTERN_LENGTH or value.count("*") > MAX_PATTERN_STARS:
        # LIKE's cost grows with the pattern too: bounded, as the longest value it can match is.
        raise QueryError(f"A wildcard value may be at most {MAX_PATTERN_LENGTH} characters with at most "
                         f"{MAX_PATTERN_STARS} '*'.")
    # As LIKE (imaging.dicomweb.lookups): no regular expression, and indexed on PostgreSQL.
    return Q(**{f"{field_name}__dicom_like": value})


def _date(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise QueryError(f"{value!r} is not a date (YYYYMMDD).") from None


def _date_bounds(value: str) -> tuple[dt.date | None, dt.date | None]:
    """A DA value or range as (first, last) day: 20240101, 20240101-20241231, -20241231, 20240101-."""
    value = value.strip()
    match = re.fullmatch(r"(\d{8})?-(\d{8})?", value)
    if match is None:
        day = _date(value)
        return day, day
    start, end = match.groups()
    return (_date(start) if start else None), (_date(end) if end else None)


def _date_range(field_name: str, value: str) -> Q:
    start, end = _date_bounds(value)
    if start is not None and start == end:
        return Q(**{field_name: start})
    q = Q()
    if start:
        q &= Q(**{f"{field_name}__gte": start})
    if end:
        q &= Q(**{f"{field_name}__lte": end})
    return q


def _int_match(field_name: str, value: str) -> Q:
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{value!r} is not a number.") from None
    if not -2**31 <= number < 2**31:  # IS values are 32-bit (PS3.5 6.2)
        raise QueryError(f"{value!r} is out of range for a DICOM integer string.")
    return Q(**{field_name: number})


def _empty_only(value: str) -> Q:
    # Attributes the archive never keeps (accession number, referring physician): only an empty
    # or universal match can succeed.
    return Q() if value in ("", "*") else Q(pk__in=[])


Matcher = Callable[[str], Q]

STUDY_MATCHERS: dict[str, Matcher] = {
    "StudyInstanceUID": lambda v: Q(study_uid__in=_uid_list(v)),
    "PatientID": lambda v: _wildcard("participant__subject_code", v),
    "PatientName": lambda v: _wildcard("participant__subject_code", v),
    "StudyDate": lambda v: _date_range("study_date", v),
    "StudyDescription": lambda v: _wildcard("description", v),
    "ModalitiesInStudy": lambda v: Q(series__modality__in=_uid_list(v)),
    "AccessionNumber": _empty_only,
    "ReferringPhysicianName": _empty_only,
    "StudyID": _empty_only,
}


def _prefixed(matchers: dict[str, Matcher], prefix: str) -> dict[str, Matcher]:
    def wrap(matcher: Matcher) -> Matcher:
        def run(value: str) -> Q:
            q = matcher(value)
            return _prefix_q(q, prefix)
        return run

    return {keyword: wrap(m) for keyword, m in matchers.items() if keyword != "ModalitiesInStudy"}


def _prefix_q(q: Q, prefix: str) -> Q:
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    for child in q.children:
        if isinstance(child, Q):
            out.children.append(_prefix_q(child, prefix))
        else:
            name, value = child
            out.children.append((name if name == "pk__in" else prefix + name, value))
    return out


SERIES_MATCHERS: dict[str, Matcher] = {
    **_prefixed(STUDY_MATCHERS, "study__"),
    "SeriesInstanceUID": lambda v: Q(series_uid__in=_uid_list(v)),
    "Modality": lambda v: Q(modality__in=_uid_list(v)),
    "SeriesNumber": lambda v: _int_match("series_number", v),
    "SeriesDescription": lambda v: _wildcard("description", v),
    "BodyPartExamined": lambda v: _wildcard("body_part", v),
}
INSTANCE_MATCHERS: dict[str, Matcher] = {
    **_prefixed(SERIES_MATCHERS, "series__"),
    "SOPInstanceUID": lambda v: Q(sop_uid__in=_uid_list(v)),
    "SOPClassUID": lambda v: Q(sop_class_uid__in=_uid_list(v)),
    "InstanceNumber": lambda v: _int_match("instance_number", v),
}
# In a study-level search Modality means "a series of that modality" (as ModalitiesInStudy).
STUDY_MATCHERS["Modality"] = STUDY_MATCHERS["ModalitiesInStudy"]


def apply_matches(qs: QuerySet, query: Query, matchers: dict[str, Matcher], *,
                  skip: Collection[str] = ()) -> QuerySet:
    """Filter `qs` by the query's match keys (but `skip`); keys this level cannot match add a Warning."""
    for keyword, value in query.matches.items():
        if keyword in skip:
            continue
        matcher = matchers.get(keyword)
        if matcher is None:
            query.warnings.append(f'299 ICTMS "The query key {keyword} is not supported and was ignored"')
            continue
        qs = qs.filter(matcher(value))
    return qs.distinct() if any(k in ("ModalitiesInStudy", "Modality") for k in query.matches) and qs.model is Study else qs


def page(qs: QuerySet, query: Query) -> tuple[list[Any], bool]:
    """The requested slice and whether more matches exist beyond it."""
    rows = list(qs[query.offset : query.offset + query.limit + 1])
    return rows[: query.limit], len(rows) > query.limit


# --- matching on what the user is shown (blinded users) -----------------------------------------

# The keys whose values blinding changes: matched against the attributes the user is shown.
BLINDED_KEYS = frozenset({"PatientID", "PatientName", "StudyDate"})


def blinded_matches(query: Query) -> dict[str, str]:
    """The query's match keys that must be matched on shown values for a blinded user (400 if malformed)."""
    hidden = {k: v for k, v in query.matches.items() if k in BLINDED_KEYS}
    if "StudyDate" in hidden:
        _date_bounds(hidden["StudyDate"])
    return hidden


def _wildcard_matches(shown: str, value: str) -> bool:
    # The same rule as _wildcard, in Python.
    if value in ("", "*"):
        return True
    if "*" not in value and "?" not in value:
        return shown.casefold() == value.casefold()
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return re.fullmatch(pattern, shown, flags=re.IGNORECASE | re.DOTALL) is not None


def _date_matches(shown: str, value: str) -> bool:
    start, end = _date_bounds(value)  # a malformed value is a 400 for everyone
    if not re.fullmatch(r"\d{8}", shown):
        return False
    day = _date(shown)
    return (start is None or day >= start) and (end is None or day <= end)


def shown_matches(ds: Dataset, matches: dict[str, str]) -> bool:
    """Whether the attributes `ds` (as the user is shown them) match every key of `matches`."""
    for keyword, value in matches.items():
        shown = str(ds.get(keyword, "") or "")
        ok = _date_matches(shown, value) if keyword == "StudyDate" else _wildcard_matches(shown, value)
        if not ok:
            return False
    return True


def page_where(qs: QuerySet, query: Query, keep: Callable[[Any], bool]) -> tuple[list[Any], bool]:
    """Like `page`, over the rows of `qs` that `keep` accepts (filtered in Python, in order)."""
    rows: list[Any] = []
    skipped = 0
    for row in qs.iterator(chunk_size=500):
        if not keep(row):
            continue
        if skipped < query.offset:
            skipped += 1
            continue
        rows.append(row)
        if len(rows) > query.limit:
            break
    return rows[: query.limit], len(rows) > query.limit


# --- result attributes -------------------------------------------------------------------------


def _da(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def study_attributes(ds: Dataset, study: Study) -> Dataset:
    ds.StudyDate = _da(study.study_date)
    ds.StudyTime = study.study_time or ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.PatientName = study.participant.subject_code
    ds.PatientID = study.participant.subject_code
    ds.PatientBirthDate = ""
    ds.PatientSex = study.patient_sex or ""
    ds.StudyInstanceUID = study.study_uid
    ds.StudyID = ""
    ds.StudyDescription = study.description or ""
    return ds


def study_dataset(study: Study, *, modalities: list[str], series_count: int, instance_count: int, url: str) -> Dataset:
    ds = study_attributes(Dataset(), study)
    ds.ModalitiesInStudy = modalities
    ds.NumberOfStudyRelatedSeries = series_count
    ds.NumberOfStudyRelatedInstances = instance_count
    ds.RetrieveURL = url
    return ds


def series_attributes(ds: Dataset, series: Series) -> Dataset:
    ds.SeriesInstanceUID = series.series_uid
    ds.Modality = series.modality or ""
    ds.SeriesNumber = series.series_number if series.series_number is not None else ""
    ds.SeriesDescription = series.description or ""
    ds.BodyPartExamined = series.body_part or ""
    if series.frame_of_reference_uid:
        ds.FrameOfReferenceUID = series.frame_of_reference_uid
    return ds


def series_dataset(series: Series, *, instance_count: int, url: str, include_study: bool) -> Dataset:
    ds = Dataset()
    if include_study:
        study_attributes(ds, series.study)
    else:
        ds.StudyInstanceUID = series.study.study_uid
    series_attributes(ds, series)
    ds.NumberOfSeriesRelatedInstances = instance_count
    ds.RetrieveURL = url
    return ds


def instance_dataset(instance: Instance, *, url: str, include_parents: bool) -> Dataset:
    ds = Dataset()
    series = instance.series
    if include_parents:
        study_attributes(ds, series.study)
        series_attributes(ds, series)
    else:
        ds.StudyInstanceUID = series.study.study_uid
        ds.SeriesInstanceUID = series.series_uid
        ds.Modality = series.modality or ""
    ds.SOPClassUID = instance.sop_class_uid
    ds.SOPInstanceUID = instance.sop_uid
    ds.InstanceNumber = instance.instance_number if instance.instance_number is not None else ""
    ds.AvailableTransferSyntaxUID = instance.transfer_syntax_uid
    if instance.rows:
        ds.Rows = instance.rows
    if instance.columns:
        ds.Columns = instance.columns
    ds.NumberOfFrames = instance.number_of_frames
    if instance.photometric_interpretation:
        ds.PhotometricInterpretation = instance.photometric_interpretation
    if instance.bits_allocated:
        ds.BitsAllocated = instance.bits_allocated
    ds.RetrieveURL = url
    return ds


def study_counts(studies: list[Study]) -> dict[int, tuple[list[str], int, int]]:
    """For each study: its modalities, number of series and of instances (two queries in all)."""
    ids = [s.pk for s in studies]
    series_rows = Series.objects.filter(study_id__in=ids).values_list("study_id", "modality")
    modalities: dict[int, set[str]] = defaultdict(set)
    series_count: dict[int, int] = defaultdict(int)
    for study_id, modality in series_rows:
        series_count[study_id] += 1
        if modality:
            modalities[study_id].add(modality)
    instance_rows = (Instance.objects.filter(series__study_id__in=ids).values("series__study_id")
                     .annotate(n=Count("id")).values_list("series__study_id", "n"))
    instances = dict(instance_rows)
    return {i: (sorted(modalities[i]), series_count[i], instances.get(i, 0)) for i in ids}
