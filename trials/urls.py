"""Routes of the trials pages (under /trials/ and /t/<code>/)."""
from django.urls import include, path

from trials import views

app_name = "trials"

trial_urlpatterns = [
    path("", views.trial_home, name="home"),
    path("settings/", views.trial_settings, name="settings"),
    path("sites/", views.site_list, name="sites"),
    path("sites/<int:site_id>/", views.site_edit, name="site-edit"),
    path("schedule/", views.schedule, name="schedule"),
    path("schedule/<int:timepoint_id>/", views.timepoint_edit, name="timepoint-edit"),
    path("requirements/<int:requirement_id>/", views.requirement_edit, name="requirement-edit"),
    path("members/", views.member_list, name="members"),
    path("members/<int:membership_id>/", views.member_edit, name="member-edit"),
    path("members/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("participants/", views.participant_list, name="participants"),
    path("participants/<int:participant_id>/", views.participant_detail, name="participant"),
    path("visits/", views.visit_grid, name="visits"),
]

urlpatterns = [
    path("trials/new/", views.trial_create, name="create"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("t/<str:code>/", include(trial_urlpatterns)),
]
