"""List filters of the trials API (and the base of every list filtered by trial and site).

The selectors scope a list to what the caller may see; a FilterSet only narrows that list.
The trial and site filters of imaging and audit lists subclass the two sets below, naming the
path from their model to the trial and the site.
"""
from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from ictms.lib.filters import FlagFilter, IdFilter
from trials.choices import InvitationState
from trials.models import ImagingRequirement, Invitation, Membership, Participant, Site, TimepointDefinition, Trial, Visit
from trials.selectors import site_list_for_user


class TrialFilterSet(django_filters.FilterSet):
    """`?trial=CODE`. A code the caller does not know gives an empty list, as an unknown code should.

    Pages give their own `trial` (the list is already that trial's): the filter on trial is then dropped.
    """

    trial_path: ClassVar[str] = "trial"

    trial = django_filters.CharFilter(method="filter_trial", help_text="trial code")

    def __init__(self, data: Any = None, queryset: QuerySet | None = None, *, request: HttpRequest | None = None,
                 prefix: str | None = None, trial: Trial | None = None) -> None:
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.page_trial = trial
        if trial is not None:
            self.filters.pop("trial")

    def filter_trial(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(**{f"{self.trial_path}__code": value})


class TrialSiteFilterSet(TrialFilterSet):
    """`?trial=CODE&site=NUMBER`: the site must be one the caller may see (of that trial, if given).

    An unknown site number is an error, not an empty list, so that a typo cannot pass for "no
    data". A site the caller may not see reads exactly like one that does not exist.
    Pages may give the `sites` they already loaded for their site menu.
    """

    site_path: ClassVar[str] = "site"

    site = django_filters.CharFilter(method="filter_site", help_text="site number (one of the caller's sites)")

    def __init__(self, data: Any = None, queryset: QuerySet | None = None, *, request: HttpRequest | None = None,
                 prefix: str | None = None, trial: Trial | None = None, sites: list[Site] | None = None) -> None:
        super().__init__(data, queryset, request=request, prefix=prefix, trial=trial)
        self.known_sites = sites

    def filter_site(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(**{f"{self.site_path}__number": value})

    def site_exists(self, number: str, trial_code: str) -> bool:
        if self.known_sites is not None:
            return any(s.number == number for s in self.known_sites)
        user = getattr(self.request, "user", None)
        sites = site_list_for_user(user=user, trial=self.page_trial).filter(number=number)
        if trial_code:
            sites = sites.filter(trial__code=trial_code)
        return sites.exists()

    def get_form_class(self) -> type[forms.Form]:
        filterset = self

        class SiteCheckingForm(super().get_form_class()):  # type: ignore[misc]
            def clean(self) -> dict[str, Any]:
                data = super().clean()
                number, code = data.get("site"), data.get("trial") or ""
                if number and not filterset.site_exists(number, code):
                    where = f" in trial {code}" if code else ""
                    # A parameterised message: django-filter formats it with %, and the number is user input.
                    self.add_error("site", ValidationError("No site %(number)s%(where)s among your sites.",
                                                           params={"number": number, "where": where}))
                return data

        return SiteCheckingForm


class SiteFilterSet(TrialFilterSet):
    class Meta:
        model = Site
        fields: list[str] = []


class TimepointFilterSet(TrialFilterSet):
    class Meta:
        model = TimepointDefinition
        fields: list[str] = []


class ImagingRequirementFilterSet(TrialFilterSet):
    trial_path = "timepoint__trial"

    class Meta:
        model = ImagingRequirement
        fields: list[str] = []


class MembershipFilterSet(TrialFilterSet):
    """Active memberships unless `?include_ended=1`."""

    include_ended = FlagFilter(method="filter_include_ended", help_text="also memberships that ended")

    class Meta:
        model = Membership
        fields: list[str] = []

    def filter_include_ended(self, qs: QuerySet, name: str, value: bool) -> QuerySet:
        return qs  # applied in filter_queryset: the default (absent) must hide ended memberships

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        qs = super().filter_queryset(queryset)
        return qs if self.form.cleaned_data.get("include_ended") else qs.filter(is_active=True)


class InvitationFilterSet(TrialFilterSet):
    """`?trial=CODE&state=pending` (stored state; a pending one past its time reads as expired in the output)."""

    state = django_filters.ChoiceFilter(choices=InvitationState.choices)

    class Meta:
        model = Invitation
        fields: list[str] = []


class ParticipantFilterSet(TrialSiteFilterSet):
    class Meta:
        model = Participant
        fields: list[str] = []


class VisitFilterSet(TrialSiteFilterSet):
    trial_path = "participant__trial"
    site_path = "participant__site"

    participant = IdFilter(field_name="participant_id", help_text="participant id")

    class Meta:
        model = Visit
        fields: list[str] = []
