from django.urls import path

from workflow.views import queue, requests, search, work_queues

app_name = "workflow"

urlpatterns = [
    path("", queue.QueueView.as_view(), name="queue"),
    path("queues/", work_queues.WorkQueueAdminView.as_view(), name="queues_admin"),
    path("queues/add/", work_queues.WorkQueueAdminView.as_view(), name="queue_add"),
    path("queues/<int:pk>/", work_queues.WorkQueueAdminView.as_view(), name="queue_edit"),
    path("claim-next/", queue.ClaimNextView.as_view(), name="claim_next"),
    path("bulk-assign/", queue.BulkAssignView.as_view(), name="bulk_assign"),
    path("search/", search.RequestSearchView.as_view(), name="search"),
    path("export.csv", queue.QueueExportView.as_view(), name="queue_export"),
    path("views/", queue.SavedViewCreateView.as_view(), name="saved_view_create"),
    path("views/<int:pk>/delete/", queue.SavedViewDeleteView.as_view(), name="saved_view_delete"),
    path("<tracking:tracking_number>/", requests.RequestDetailView.as_view(), name="detail"),
    path("<tracking:tracking_number>/panels/<str:panel>/", requests.RequestPanelView.as_view(), name="panel"),
    path("<tracking:tracking_number>/do/<str:name>/", requests.RequestTransitionView.as_view(), name="transition"),
    path("<tracking:tracking_number>/assign/", requests.RequestAssignView.as_view(), name="assign"),
    path("<tracking:tracking_number>/break-glass/", requests.BreakGlassView.as_view(), name="break_glass"),
    path("<tracking:tracking_number>/status-call/", requests.StatusCallView.as_view(), name="status_call"),
    path("<tracking:tracking_number>/timeline/", requests.RequestTimelineView.as_view(), name="timeline"),
    path("<tracking:tracking_number>/notes/", requests.NoteAddView.as_view(), name="note_add"),
    path("<tracking:tracking_number>/notes/<int:pk>/edit/", requests.NoteEditView.as_view(), name="note_edit"),
]
