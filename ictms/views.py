"""Project-level pages: the home redirect, login, token auth for the API, error pages."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.authtoken.views import ObtainAuthToken

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


class ObtainTokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}; failed attempts count towards the lockout."""


def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "404.html", status=404)
