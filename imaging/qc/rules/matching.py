"""Matching series to imaging requirements: which series satisfies what, and what is missing.

A series is a candidate for a requirement when its modality is the required one and its
BodyPartExamined or description names one of the requirement's regions (or names no region at
all, as a last resort). Each candidate is checked against the requirement's acquisition rules;
for each region the best candidate is chosen (fewest blocking, then fewest warning findings,
then strongest match, most regions, most slices, lowest series number). Only the chosen series'
failures become findings: a 7 mm reconstruction sent next to a compliant 1 mm one is not a
problem, and when the site re-sends the thin-slice reconstruction the old finding disappears on
recomputation (so its query can be answered).

A required requirement left without candidates gives `wrong_modality` for series that show its
region in a modality no requirement asks for, otherwise `required_series_missing`; series used
for nothing are reported as information. Findings against a requirement that is not required
are capped at warning: an optional series that is present but imperfect must not block the visit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from imaging.qc.rules.checks import EXTENT_CODES, requirement_findings
from imaging.qc.rules.model import (
    CandidateSeries,
    Finding,
    MatchReason,
    RequirementMatch,
    RequirementRules,
    SeriesInfo,
    Severity,
    requirement_sort_key,
    series_sort_key,
    severity_policy,
)
from imaging.qc.rules.prepared import (
    EPSILON_MM,
    Code,
    Policy,
    coverage_mm,
    new_finding,
    rounded,
    slice_count,
    view_of,
    with_policy,
)
from imaging.qc.rules.vocabulary import (
    EXAM_MODALITIES,
    REGION_WORDS,
    default_keywords,
    modality_name,
    normalize_modality,
    requirement_regions,
    words_of,
)
from imaging.qc.rules.wording import (
    count,
    join,
    mm,
    region_words,
    requirement_label,
    series_label,
    series_list,
)

#: The region of a requirement with no body region: any series of the modality meets it.
ANY_REGION = "ANY"


@dataclass(frozen=True)
class _Candidate:
    series: SeriesInfo
    reason: MatchReason
    regions: frozenset[str]
    findings: tuple[Finding, ...]  # severities from the policy

    def rank(self) -> tuple[object, ...]:
        blocking = sum(1 for f in self.findings if f.severity == Severity.BLOCKING)
        warnings = sum(1 for f in self.findings if f.severity == Severity.WARNING)
        return (
            blocking,
            warnings,
            list(MatchReason).index(self.reason),
            -len(self.regions),
            -slice_count(self.series),
            series_sort_key(self.series.series_number, self.series.series_uid),
        )


@dataclass(frozen=True)
class _Wanted:
    """What a requirement asks for, in canonical regions and accepted words."""

    regions: frozenset[str]
    keywords: frozenset[str]

    @classmethod
    def of(cls, requirement: RequirementRules) -> _Wanted:
        regions, other_words = requirement_regions(requirement.body_region)
        if requirement.body_part_keywords:
            keywords = frozenset(w for k in requirement.body_part_keywords for w in words_of(k)[-1:])
        else:
            keywords = default_keywords(regions) | frozenset(other_words)
        return cls(frozenset(regions) or frozenset({ANY_REGION}), keywords)

    def covered_by(self, text: str) -> frozenset[str]:
        if self.regions == {ANY_REGION}:
            return frozenset()
        covered: set[str] = set()
        for word in words_of(text):
            if word in self.keywords:
                known = REGION_WORDS.get(word, frozenset()) & self.regions
                # An accepted word outside the vocabulary stands for the whole requirement.
                covered |= known or self.regions
        return frozenset(covered)

    def match(self, series: SeriesInfo) -> tuple[MatchReason, frozenset[str]] | None:
        """How `series` (any modality) meets these regions, or None if it shows something else."""
        if self.regions == {ANY_REGION}:
            return MatchReason.MODALITY_ONLY, self.regions
        body, description = self.covered_by(series.body_part), self.covered_by(series.description)
        if body:
            return MatchReason.BODY_PART, body | description
        if description:
            return MatchReason.DESCRIPTION, description
        if not self._names_a_region(series):
            return MatchReason.MODALITY_ONLY, self.regions
        return None

    def _names_a_region(self, series: SeriesInfo) -> bool:
        words = set(words_of(series.body_part)) | set(words_of(series.description))
        return bool(words & (REGION_WORDS.keys() | self.keywords))


def _choose(candidates: list[_Candidate], regions: frozenset[str]) -> list[_Candidate]:
    """The best candidate for each region, without series whose regions others already cover."""
    known = [c for c in candidates if c.reason != MatchReason.MODALITY_ONLY or regions == {ANY_REGION}]
    pool = known or candidates
    chosen: list[_Candidate] = []
    for region in sorted(regions):
        covering = [c for c in pool if region in c.regions]
        if covering:
            best = min(covering, key=_Candidate.rank)
            if all(best is not c for c in chosen):
                chosen.append(best)
    for candidate in sorted(chosen, key=_Candidate.rank, reverse=True):
        others = set().union(*(c.regions for c in chosen if c is not candidate))
        if len(chosen) > 1 and candidate.regions <= others:
            chosen.remove(candidate)
    return sorted(chosen, key=lambda c: series_sort_key(c.series.series_number, c.series.series_uid))


def _combined_extent_findings(
    chosen: list[_Candidate], requirement: RequirementRules
) -> list[Finding]:
    """Slice count and coverage of a requirement met by several series (chest + abdomen-pelvis)
    are checked on their sum, not per series."""
    members = [c.series for c in chosen]
    label = requirement_label(requirement)
    findings = []
    if requirement.min_slices is not None:
        total = sum(slice_count(s, requirement.slice_gap_tolerance) for s in members)
        if total < requirement.min_slices:
            findings.append(
                new_finding(
                    Code.TOO_FEW_SLICES,
                    f"The {label} received ({series_list(members)}) has {count(total, 'slice')} in total, fewer than "
                    f"the protocol minimum of {requirement.min_slices}. Please send the complete series.",
                    requirement=requirement,
                    measured=total,
                    expected_min=requirement.min_slices,
                    series_uids=[s.series_uid for s in members],
                )
            )
    if requirement.min_coverage_mm is not None:
        lengths = [coverage_mm(s, requirement.slice_gap_tolerance) for s in members]
        if None not in lengths:
            total_mm = sum(length for length in lengths if length is not None)
            if total_mm + EPSILON_MM < requirement.min_coverage_mm:
                findings.append(
                    new_finding(
                        Code.COVERAGE_TOO_SHORT,
                        f"The {label} received ({series_list(members)}) covers {mm(total_mm)} in total, less than the "
                        f"{mm(requirement.min_coverage_mm)} the protocol requires. Please send series covering the "
                        "whole region.",
                        requirement=requirement,
                        measured_mm=rounded(total_mm),
                        expected_min_mm=requirement.min_coverage_mm,
                        series_uids=[s.series_uid for s in members],
                    )
                )
    return findings


def _explain(
    requirement: RequirementRules, chosen: list[_Candidate], others: list[_Candidate], missing: frozenset[str],
    failing: list[Finding],
) -> str:
    def failed(candidate: _Candidate) -> str:
        codes = [str(f.code).replace("_", " ") for f in candidate.findings if f.severity != Severity.INFO]
        return f" (fails: {', '.join(codes)})" if codes else ""

    parts = []
    if chosen:
        used = join([f"{series_list([c.series])} [{c.reason.value.replace('_', ' ')}]" for c in chosen])
        parts.append(f"{'Met' if not missing and not failing else 'Best available'}: {used}.")
    if missing:
        parts.append(f"Nothing received of the {region_words(missing)} in {modality_name(requirement.modality)}.")
    if failing:
        parts.append(f"Fails: {', '.join(dict.fromkeys(str(f.code).replace('_', ' ') for f in failing))}.")
    if others:
        parts.append(f"Also considered: {join([series_list([c.series]) + failed(c) for c in others])}.")
    return " ".join(parts)


_REQUEST = re.compile(r"\s*Please [^.]*\.\s*$")


def _not_used_findings(candidate: _Candidate, requirement: RequirementRules) -> list[Finding]:
    """What a series considered for the requirement but not used for it fails against it, as
    information on that series: the facts the requirement's explanation names ("also considered:
    series 4 (fails: missing slices)"), so the series' card and the requirement row tell the same
    story. The series is not used, so it blocks nothing and asks nothing of the site; without the
    requirement its key differs from the finding it was while it served the requirement, so a
    re-upload that brings a better series still reads as fixing that finding."""
    label = requirement_label(requirement)
    return [
        replace(f, severity=Severity.INFO, requirement_id=None,
                message=f"Not used for the {label} (another series serves it): {_REQUEST.sub('', f.message)}")
        for f in candidate.findings if f.severity != Severity.INFO
    ]


def match_requirements(
    series: Sequence[SeriesInfo], requirements: Sequence[RequirementRules], policy: Policy | None = None
) -> tuple[list[RequirementMatch], list[Finding]]:
    """Which series satisfy which requirement, and the findings that follow from it.

    Returns one RequirementMatch per requirement, and the findings: the chosen series' failures
    against their requirement, `required_series_missing` / `wrong_modality` for unmet required
    requirements, and `series_not_in_protocol` for series nothing asked for.
    """
    policy = policy or severity_policy()
    series = sorted(series, key=lambda s: series_sort_key(s.series_number, s.series_uid))
    requirements = sorted(requirements, key=lambda r: requirement_sort_key(r.id))
    wanted_modalities = {normalize_modality(r.modality) for r in requirements}
    matches: list[RequirementMatch] = []
    findings: list[Finding] = []
    considered: set[str] = set()
    for requirement in requirements:
        wanted = _Wanted.of(requirement)
        modality = normalize_modality(requirement.modality)
        cap = not requirement.required
        candidates = []
        for item in series:
            if view_of(item).modality != modality:
                continue
            matched = wanted.match(item)
            if matched is None:
                continue
            checks = tuple(with_policy(f, policy, cap) for f in requirement_findings(item, requirement))
            candidates.append(_Candidate(item, matched[0], matched[1], checks))
            considered.add(item.series_uid)
        chosen = _choose(candidates, wanted.regions)
        missing = wanted.regions - frozenset().union(*(c.regions for c in chosen))
        own = [f for c in chosen for f in c.findings if not (len(chosen) > 1 and f.code in EXTENT_CODES)]
        if len(chosen) > 1:
            own += [with_policy(f, policy, cap) for f in _combined_extent_findings(chosen, requirement)]
        if missing and requirement.required:
            own += _missing_findings(requirement, wanted, chosen, missing, series, wanted_modalities, considered, policy)
        findings += own
        failing = [f for f in own if f.severity == Severity.BLOCKING]
        chosen_uids = {c.series.series_uid for c in chosen}
        for candidate in candidates:
            if candidate.series.series_uid not in chosen_uids:
                findings += _not_used_findings(candidate, requirement)
        matches.append(
            RequirementMatch(
                requirement_id=requirement.id,
                satisfied=not missing and not failing,
                series_uids=tuple(c.series.series_uid for c in chosen),
                regions=tuple(sorted(wanted.regions)),
                missing_regions=tuple(sorted(missing)),
                candidates=tuple(
                    CandidateSeries(
                        series_uid=c.series.series_uid,
                        series_number=c.series.series_number,
                        description=c.series.description,
                        reason=c.reason,
                        regions=tuple(sorted(c.regions)),
                        chosen=c.series.series_uid in chosen_uids,
                        failed=tuple(dict.fromkeys(f.code for f in c.findings if f.severity != Severity.INFO)),
                    )
                    for c in candidates
                ),
                explanation=_explain(
                    requirement, chosen, [c for c in candidates if c.series.series_uid not in chosen_uids], missing,
                    failing,
                ),
                manual_checks=requirement.other_rules.strip(),
            )
        )
    for item in series:
        if item.series_uid not in considered:
            findings.append(with_policy(_not_in_protocol(item), policy))
    return matches, findings


def _missing_findings(
    requirement: RequirementRules,
    wanted: _Wanted,
    chosen: list[_Candidate],
    missing: frozenset[str],
    series: Sequence[SeriesInfo],
    wanted_modalities: set[str],
    considered: set[str],
    policy: Policy,
) -> list[Finding]:
    """`wrong_modality` for series showing the missing regions in a modality nobody asked for,
    else one `required_series_missing` naming what is missing."""
    label = requirement_label(requirement)
    wrong = []
    for item in series:
        view = view_of(item)
        # Screen captures, reports and the like are not an exam sent in place of the required one.
        if view.modality in wanted_modalities or view.modality not in EXAM_MODALITIES:
            continue
        matched = wanted.match(item)
        if matched is None:
            continue
        reason, regions = matched
        if regions & missing and (reason != MatchReason.MODALITY_ONLY or not chosen):
            wrong.append(item)
    findings = []
    for item in wrong:
        considered.add(item.series_uid)
        kind = view_of(item).modality
        what = f"is {modality_name(kind)}" if kind else "does not say which modality it is"
        findings.append(
            with_policy(
                new_finding(
                    Code.WRONG_MODALITY,
                    f"{series_label(item)} {what}, but the protocol requires {label} for this visit. Please send "
                    f"the {modality_name(requirement.modality)} images.",
                    series=item,
                    requirement=requirement,
                    header="Modality",
                    measured=kind,
                    expected=normalize_modality(requirement.modality),
                ),
                policy,
            )
        )
    if findings:
        return findings
    if chosen:
        covered = frozenset().union(*(c.regions for c in chosen))
        message = (
            f"The {label} is incomplete: no series covers the {region_words(missing)} (received: "
            f"{series_list([c.series for c in chosen])}, covering the {region_words(covered)}). Please send the "
            "missing images."
        )
    else:
        message = f"No {label} was received for this visit, and the protocol requires it. Please send it."
    return [
        with_policy(
            new_finding(
                Code.REQUIRED_SERIES_MISSING,
                message,
                requirement=requirement,
                expected_modality=normalize_modality(requirement.modality),
                expected_regions=sorted(wanted.regions),
                missing_regions=sorted(missing),
            ),
            policy,
        )
    ]


def _not_in_protocol(series: SeriesInfo) -> Finding:
    kind = modality_name(view_of(series).modality)
    return new_finding(
        Code.SERIES_NOT_IN_PROTOCOL,
        f"{series_label(series)} ({kind}) does not match any imaging requirement of this visit; it is kept but not "
        "checked against the protocol.",
        series=series,
        modality=view_of(series).modality,
        body_part=series.body_part,
    )
