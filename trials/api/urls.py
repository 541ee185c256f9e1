"""Routes of the trials API."""
from rest_framework.routers import DefaultRouter

from trials.api import views

app_name = "trials-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("trials", views.TrialViewSet, basename="trial")
router.register("sites", views.SiteViewSet, basename="site")
router.register("timepoints", views.TimepointViewSet, basename="timepoint")
router.register("imaging-requirements", views.ImagingRequirementViewSet, basename="imaging-requirement")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("participants", views.ParticipantViewSet, basename="participant")
router.register("visits", views.VisitViewSet, basename="visit")

urlpatterns = router.urls
