"""The requestor portal: public pages, no staff login. Mounted at the site root (roi/urls.py)."""

from django.urls import path

from portal import downloads, views

app_name = "portal"

urlpatterns = [
    path("status/", views.lookup, name="lookup"),
    path("status/link/<str:token>/", views.status_link, name="status-link"),
    path("status/leave/", views.leave, name="leave"),
    path("status/<str:tracking_number>/", views.status, name="status"),
    path("status/<str:tracking_number>/download/<int:link_id>/", downloads.status_download, name="status-download"),
    path("download/<str:token>/", downloads.download, name="download"),
    path("portal/language/", views.language, name="language"),
]
