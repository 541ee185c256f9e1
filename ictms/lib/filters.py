"""Filter building blocks shared by the apps' FilterSets (django-filter; imports no app).

The defaults of django-filter are lenient where our lists must be strict: its boolean filter
ignores a value it does not understand and its number filter takes "1.5" for an id. A bad
filter value must answer 400 (API) or show a form error (page), never widen or empty a list
silently, so the filters below reject what they cannot read.
"""
from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ictms.lib.forms import IsoDateField

TRUE_VALUES = frozenset({"1", "true"})
FALSE_VALUES = frozenset({"0", "false"})


class FlagField(forms.Field):
    """A yes/no query parameter: 1/true or 0/false (any case); anything else is an error."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise ValidationError("Give 1 or true, 0 or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class FlagFilter(django_filters.Filter):
    field_class = FlagField


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A database id: a whole number (django-filter's NumberFilter would take a decimal), positive
    and within the database's 64-bit keys (a larger one is an error, not a database overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.DATE)
class IsoDateFilter(django_filters.DateFilter):
    """A date given as YYYY-MM-DD only; on a page it is the same text input as every form's date."""

    field_class = IsoDateField


class ListOnlyFilterMixin:
    """Filter the list route only: detail routes and actions reach objects that the list hides."""

    action: str | None

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)  # type: ignore[misc]


def filter_errors(errors: dict[str, list[str]]) -> list[str]:
    """A FilterSet's errors as lines for a page ("state: Select a valid choice. ...")."""
    return [f"{name}: {message}" for name, messages in errors.items() for message in messages]


def filtered_or_none(filterset: django_filters.FilterSet) -> QuerySet:
    """The filtered list, or nothing while a filter value is wrong (the page shows the errors).

    django-filter's `qs` drops an invalid filter and applies the others, which would show a
    wider list than the one asked for.
    """
    return filterset.qs if filterset.is_valid() else filterset.queryset.none()


def filtered_or_400(filterset: django_filters.FilterSet) -> QuerySet:
    """For API actions that filter a list of their own (DjangoFilterBackend does this for `list`)."""
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset.qs
