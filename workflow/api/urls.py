from rest_framework.routers import SimpleRouter

from workflow.api.views import RecordRequestViewSet

router = SimpleRouter()
router.register("requests", RecordRequestViewSet, basename="request")

urlpatterns = router.urls
