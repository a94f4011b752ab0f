from django.urls import path

from workflow import views

app_name = "workflow"

urlpatterns = [
    path("", views.QueueView.as_view(), name="queue"),
    path("<str:tracking_number>/", views.RequestDetailView.as_view(), name="detail"),
    path("<str:tracking_number>/do/<str:name>/", views.RequestTransitionView.as_view(), name="transition"),
    path("<str:tracking_number>/assign/", views.RequestAssignView.as_view(), name="assign"),
    path("<str:tracking_number>/qc/", views.RequestQcView.as_view(), name="qc"),
]
