"""Top-level URL configuration: pages, the REST API, its schema and docs, the operators' admin."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from ictms import views
from ictms.lib.csp import csp_update
from ictms.lib.schema import SchemaView

api_patterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="api-token"),
    path("schema/", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (no inline script); its page keeps a
    # small inline <style>, so this one page allows inline styles.
    # Signed-in users only (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]); the docs page sends anonymous
    # visitors to the login page first.
    path("docs/", login_required(csp_update(style_src="'self' 'unsafe-inline'")(
        SpectacularSwaggerSplitView.as_view(url_name="schema"))), name="api-docs"),
    path("", include("trials.api.urls")),
    path("", include("imaging.viewer.api_urls")),
    path("", include("audit.api.urls")),
    path("", include("imaging.api_urls")),
    path("", include("reads.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/token/", views.token_page, name="account-token"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("", include("trials.urls")),
    path("", include("imaging.urls")),
    path("", include("imaging.viewer.urls")),
    path("", include("reads.urls")),
    path("dicomweb/", include("imaging.dicomweb.urls")),
    path("t/<str:code>/audit/", include("audit.urls")),
]

handler403 = "ictms.views.permission_denied"
handler404 = "ictms.views.page_not_found"
