"""Project-level pages: the home redirect, login, password reset, API tokens (endpoint and page), error pages."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from ictms.accounts import password_reset_completing, password_reset_requested
from ictms.lib.errors import DomainError
from ictms.tokens import token_expires_at, token_for_user, token_is_expired, token_issue, token_obtain, token_revoke
from trials.selectors import invitation_list_for_user, invitation_token, membership_list_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """One trial: straight to the role's home in it. Several: choose. None: say so."""
    memberships = list(membership_list_for_user(user=request.user))
    invitations = [(i, invitation_token(i)) for i in invitation_list_for_user(user=request.user, pending_only=True)]
    if len(memberships) == 1 and not invitations:
        return redirect("trials:home", code=memberships[0].trial.code)
    can_create = request.user.has_perm("trials.add_trial")
    return render(request, "home.html", {"memberships": memberships, "can_create": can_create,
                                         "invitations": invitations})


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request; the request is audited for each account it mails (the page says the same
    whether or not the address has an account)."""

    def form_valid(self, form: Any) -> HttpResponse:
        users = list(form.get_users(form.cleaned_data["email"]))
        response = super().form_valid(form)
        password_reset_requested(users=users)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's reset link; the password it sets is audited as a completed reset (ictms.accounts)."""

    def form_valid(self, form: Any) -> HttpResponse:
        with password_reset_completing():
            return super().form_valid(form)


_TOKEN_RESPONSE = inline_serializer("ApiToken", {"token": serializers.CharField(),
                                                 "expires": serializers.DateTimeField()})


class ObtainTokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token", "expires"}; failed attempts count towards the lockout.

    DELETE revokes the caller's own token (token or session authentication).
    """

    def _obtaining(self) -> bool:
        # The schema generator asks without a request.
        return getattr(getattr(self, "request", None), "method", None) == "POST"

    def get_authenticators(self) -> list[Any]:
        # The password is the credential of a POST: an old (perhaps expired) token header sent along
        # must not answer 401 before the password is even looked at.
        return [] if self._obtaining() else super().get_authenticators()

    def get_permissions(self) -> list[Any]:
        return [] if self._obtaining() else [IsAuthenticated()]

    @extend_schema(request=AuthTokenSerializer, responses={200: _TOKEN_RESPONSE}, auth=[],
                   description="The caller's token and when it expires (the same key until then; a new one after). "
                               "Failed attempts count towards the lockout.")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = token_obtain(user=serializer.validated_data["user"])
        return Response({"token": token.key, "expires": token_expires_at(token).isoformat()})

    @extend_schema(request=None, responses={204: OpenApiResponse(description="The caller's token is revoked.")},
                   description="Revoke the caller's own token (token or session authentication).")
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token_revoke(actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    """The user's API token: whether there is one, when it was issued and expires; revoke or issue anew.

    The key is shown once, on the response to "Issue a new token", never again.
    """
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "revoke":
            if token_revoke(actor=request.user):
                messages.success(request, "Your API token is revoked: scripts using it are refused from now on.")
            else:
                messages.info(request, "You had no API token.")
            return redirect("account-token")
        if action != "issue":
            return redirect("account-token")
        try:
            new_key = token_issue(actor=request.user).key
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("account-token")
    token = token_for_user(user=request.user)
    context = {
        "token": token,
        "expires": token_expires_at(token) if token is not None else None,
        "expired": token is not None and token_is_expired(token),
        "new_key": new_key,
        "lifetime_days": settings.API_TOKEN_EXPIRY_DAYS,
    }
    return render(request, "account/token.html", context)


def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "404.html", status=404)
