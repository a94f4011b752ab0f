"""The /api/v1/ routes: the request API assembled by fulfillment on top of intake's and workflow's, the one request
API (docs/decisions/0006-one-request-api.md), mounted by roi/urls.py."""

from rest_framework.routers import SimpleRouter

from fulfillment.api import FulfillmentRecordRequestViewSet

router = SimpleRouter()
router.register("requests", FulfillmentRecordRequestViewSet, basename="request")

urlpatterns = router.urls
