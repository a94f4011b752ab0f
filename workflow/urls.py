from django.urls import path

from workflow import views
from workflow.restricted_views import BreakGlassView

app_name = "workflow"

urlpatterns = [
    path("", views.QueueView.as_view(), name="queue"),
    # Fixed words before the tracking-number routes, which would otherwise take "queues" for a tracking number.
    path("queues/", views.WorkQueueAdminView.as_view(), name="queues_admin"),
    path("queues/add/", views.WorkQueueAdminView.as_view(), name="queue_add"),
    path("queues/<int:pk>/", views.WorkQueueAdminView.as_view(), name="queue_edit"),
    path("claim-next/", views.ClaimNextView.as_view(), name="claim_next"),
    path("bulk-assign/", views.BulkAssignView.as_view(), name="bulk_assign"),
    path("<str:tracking_number>/", views.RequestDetailView.as_view(), name="detail"),
    path("<str:tracking_number>/do/<str:name>/", views.RequestTransitionView.as_view(), name="transition"),
    path("<str:tracking_number>/assign/", views.RequestAssignView.as_view(), name="assign"),
    path("<str:tracking_number>/break-glass/", BreakGlassView.as_view(), name="break_glass"),
    path("<str:tracking_number>/status-call/", views.StatusCallView.as_view(), name="status_call"),
]
