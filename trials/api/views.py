"""Trials API: trials, sites, schedule, imaging requirements, memberships, participants, visits."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ictms.lib.errors import NotFoundError
from ictms.lib.filters import ListOnlyFilterMixin
from trials import filters, selectors, services
from trials.api import serializers as s
from trials.models import Site, Trial


def _trial_from_code(user: AbstractBaseUser, code: str | None) -> Trial:
    if not code:
        raise NotFoundError("Give the trial code.")
    return selectors.trial_get_for_user(user=user, code=code)


def _site_in_trial(trial: Trial, number: str | None) -> Site | None:
    if not number:
        return None
    site = Site.objects.select_related("trial").filter(trial=trial, number=number).first()
    if site is None:
        raise NotFoundError("No such site.")
    return site


class TrialViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Trials I belong to, by code. POST creates one (global right); PATCH edits; POST status/ moves it."""

    lookup_field = "code"
    serializer_class = s.TrialOutputSerializer

    def get_queryset(self):
        return selectors.trial_list_for_user(user=self.request.user)

    @extend_schema(request=s.TrialInputSerializer, responses=s.TrialOutputSerializer)
    def create(self, request: Request) -> Response:
        data = s.TrialInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trial = services.trial_create(actor=request.user, **data.validated_data)
        return Response(s.TrialOutputSerializer(trial).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TrialInputSerializer, responses=s.TrialOutputSerializer)
    def partial_update(self, request: Request, code: str | None = None) -> Response:
        trial = self.get_object()
        data = s.TrialInputSerializer(trial, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        trial = services.trial_update(actor=request.user, trial=trial, **s.input_values(data, exclude=("code",)))
        return Response(s.TrialOutputSerializer(trial).data)

    @extend_schema(request=s.TrialStatusInputSerializer, responses=s.TrialOutputSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, code: str | None = None) -> Response:
        trial = self.get_object()
        data = s.TrialStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trial = services.trial_status_change(actor=request.user, trial=trial, **data.validated_data)
        return Response(s.TrialOutputSerializer(trial).data)


class SiteViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.SiteOutputSerializer
    filterset_class = filters.SiteFilterSet

    def get_queryset(self):
        return selectors.site_list_for_user(user=self.request.user)

    @extend_schema(request=s.SiteInputSerializer, responses=s.SiteOutputSerializer)
    def create(self, request: Request) -> Response:
        data = s.SiteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trial = _trial_from_code(request.user, data.validated_data.get("trial"))
        site = services.site_create(actor=request.user, trial=trial, **s.input_values(data, exclude=("trial",)))
        return Response(s.SiteOutputSerializer(site).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SiteInputSerializer, responses=s.SiteOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        site = self.get_object()
        data = s.SiteInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        site = services.site_update(actor=request.user, site=site, **s.input_values(data, exclude=("trial",)))
        return Response(s.SiteOutputSerializer(site).data)


class TimepointViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The visit schedule of a trial, with its imaging requirements."""

    serializer_class = s.TimepointOutputSerializer
    filterset_class = filters.TimepointFilterSet

    def get_queryset(self):
        return selectors.timepoint_list_for_user(user=self.request.user)

    @extend_schema(request=s.TimepointInputSerializer, responses=s.TimepointOutputSerializer)
    def create(self, request: Request) -> Response:
        data = s.TimepointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trial = _trial_from_code(request.user, data.validated_data.get("trial"))
        timepoint = services.timepoint_create(actor=request.user, trial=trial, **s.input_values(data, exclude=("trial",)))
        return Response(s.TimepointOutputSerializer(timepoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TimepointInputSerializer, responses=s.TimepointOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        timepoint = self.get_object()
        data = s.TimepointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        timepoint = services.timepoint_update(actor=request.user, timepoint=timepoint, **s.input_values(data, exclude=("trial",)))
        return Response(s.TimepointOutputSerializer(timepoint).data)


class ImagingRequirementViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.ImagingRequirementOutputSerializer
    filterset_class = filters.ImagingRequirementFilterSet

    def get_queryset(self):
        return selectors.imaging_requirement_list_for_user(user=self.request.user)

    @extend_schema(request=s.ImagingRequirementInputSerializer, responses=s.ImagingRequirementOutputSerializer)
    def create(self, request: Request) -> Response:
        data = s.ImagingRequirementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        timepoint = selectors.timepoint_list_for_user(user=request.user).filter(pk=data.validated_data.get("timepoint")).first()
        if timepoint is None:
            raise NotFoundError("No such timepoint.")
        requirement = services.imaging_requirement_create(
            actor=request.user, timepoint=timepoint, **s.input_values(data, exclude=("timepoint",))
        )
        return Response(s.ImagingRequirementOutputSerializer(requirement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ImagingRequirementInputSerializer, responses=s.ImagingRequirementOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        requirement = self.get_object()
        data = s.ImagingRequirementInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        requirement = services.imaging_requirement_update(
            actor=request.user, requirement=requirement, **s.input_values(data, exclude=("timepoint",))
        )
        return Response(s.ImagingRequirementOutputSerializer(requirement).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.imaging_requirement_delete(actor=request.user, requirement=self.get_object(),
                                            reason=str(request.data.get("reason", "")) if hasattr(request, "data") else "")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipViewSet(ListOnlyFilterMixin, viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Members of trials I administer. POST invites; change-role/ and remove/ need a reason.

    The list hides ended memberships unless ?include_ended=1 (the filter set); one membership
    is reachable by id whether it ended or not.
    """

    serializer_class = s.MembershipOutputSerializer
    filterset_class = filters.MembershipFilterSet

    def get_queryset(self):
        return selectors.membership_list_for_trial(user=self.request.user, include_ended=True)

    @extend_schema(request=s.MembershipInviteInputSerializer,
                   responses={201: s.MembershipOutputSerializer, 202: s.InvitationOutputSerializer})
    def create(self, request: Request) -> Response:
        data = s.MembershipInviteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        trial = _trial_from_code(request.user, values.pop("trial"))
        site = _site_in_trial(trial, values.pop("site", None))
        outcome = services.membership_invite(actor=request.user, trial=trial, site=site, **values)
        if outcome.membership is not None:  # a new account: a member at once (setting the password consents)
            return Response(s.MembershipOutputSerializer(outcome.membership).data, status=status.HTTP_201_CREATED)
        # An existing account: an invitation its owner accepts; nothing about the account is returned.
        return Response(s.InvitationOutputSerializer(outcome.invitation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.MembershipChangeRoleInputSerializer, responses=s.MembershipOutputSerializer)
    @action(detail=True, methods=["post"], url_path="change-role")
    def change_role(self, request: Request, pk: str | None = None) -> Response:
        membership = self.get_object()
        data = s.MembershipChangeRoleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = _site_in_trial(membership.trial, data.validated_data.get("site"))
        membership = services.membership_change_role(
            actor=request.user, membership=membership, role=data.validated_data["role"], site=site,
            reason=data.validated_data["reason"],
        )
        return Response(s.MembershipOutputSerializer(membership).data)

    @extend_schema(request=s.ReasonInputSerializer, responses=s.MembershipOutputSerializer)
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str | None = None) -> Response:
        membership = self.get_object()
        data = s.ReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_remove(actor=request.user, membership=membership, reason=data.validated_data["reason"])
        return Response(s.MembershipOutputSerializer(membership).data)


class InvitationViewSet(ListOnlyFilterMixin, viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Invitations of existing accounts: the caller's own (accept/, decline/) and those of trials they administer
    (revoke/). The output names the e-mail address only, never the account's username or name."""

    serializer_class = s.InvitationOutputSerializer
    filterset_class = filters.InvitationFilterSet

    def get_queryset(self):
        return selectors.invitation_visible_to(user=self.request.user)

    @extend_schema(request=None, responses=s.MembershipOutputSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        membership = services.invitation_accept(actor=request.user, invitation=self.get_object())
        return Response(s.MembershipOutputSerializer(membership).data)

    @extend_schema(request=s.ReasonOptionalInputSerializer, responses=s.InvitationOutputSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        return self._end(request, services.invitation_decline)

    @extend_schema(request=s.ReasonOptionalInputSerializer, responses=s.InvitationOutputSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        return self._end(request, services.invitation_revoke)

    def _end(self, request: Request, service: Any) -> Response:
        """Decline or revoke: the service with the optional reason, answered with the invitation."""
        data = s.ReasonOptionalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = service(actor=request.user, invitation=self.get_object(), reason=data.validated_data["reason"])
        return Response(s.InvitationOutputSerializer(invitation).data)


class ParticipantViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Participants I may see. POST enrols (site coordinator of that site)."""

    serializer_class = s.ParticipantOutputSerializer
    filterset_class = filters.ParticipantFilterSet

    def get_queryset(self):
        return selectors.participant_list_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["arm_visible"] = selectors.participant_arm_visibility(user=self.request.user)
        return context

    @extend_schema(request=s.ParticipantEnrolInputSerializer, responses=s.ParticipantOutputSerializer)
    def create(self, request: Request) -> Response:
        data = s.ParticipantEnrolInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        trial = _trial_from_code(request.user, values.pop("trial"))
        site = _site_in_trial(trial, values.pop("site"))
        participant = services.participant_enrol(actor=request.user, site=site, **values)
        return Response(self.get_serializer(participant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ParticipantUpdateInputSerializer, responses=s.ParticipantOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        participant = self.get_object()
        data = s.ParticipantUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", "")
        participant = services.participant_update(actor=request.user, participant=participant, reason=reason, **values)
        return Response(self.get_serializer(participant).data)

    @extend_schema(request=s.ParticipantStatusInputSerializer, responses=s.ParticipantOutputSerializer)
    @action(detail=True, methods=["post"], url_path="change-status")
    def change_status(self, request: Request, pk: str | None = None) -> Response:
        participant = self.get_object()
        data = s.ParticipantStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        participant = services.participant_status_change(actor=request.user, participant=participant, **data.validated_data)
        return Response(self.get_serializer(participant).data)


class VisitViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Visits with their derived status and window dates."""

    serializer_class = s.VisitOutputSerializer
    filterset_class = filters.VisitFilterSet

    def get_queryset(self):
        return selectors.visit_list_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["today"] = dt.date.today()
        return context
