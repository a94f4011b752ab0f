"""The /api/v1/ routes: the request API assembled by fulfillment on top of intake's (replaces intake.api.urls in
roi/urls.py; same paths and names)."""

from rest_framework.routers import SimpleRouter

from fulfillment.api import FulfillmentRecordRequestViewSet

router = SimpleRouter()
router.register("requests", FulfillmentRecordRequestViewSet, basename="request")

urlpatterns = router.urls
