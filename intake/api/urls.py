"""The /api/v1/ routes: the request API with intake (replaces workflow.api.urls in roi/urls.py; same paths and names,
plus /requests/<tracking_number>/intake-review/)."""

from rest_framework.routers import SimpleRouter

from intake.api.views import IntakeRecordRequestViewSet

router = SimpleRouter()
router.register("requests", IntakeRecordRequestViewSet, basename="request")

urlpatterns = router.urls
