"""The requestor portal: public pages, no staff login. Mounted at the site root (roi/urls.py)."""

from django.urls import path

from portal import account_views, downloads, submission_views, views

app_name = "portal"

urlpatterns = [
    path("status/", views.lookup, name="lookup"),
    path("status/link/<str:token>/", views.status_link, name="status-link"),
    path("status/leave/", views.leave, name="leave"),
    path("status/<str:tracking_number>/", views.status, name="status"),
    path("status/<str:tracking_number>/upload/", views.upload, name="upload"),
    path("status/<str:tracking_number>/download/<int:link_id>/", downloads.status_download, name="status-download"),
    path("download/<str:token>/", downloads.download, name="download"),
    path("portal/language/", views.language, name="language"),
]

# Online submission and requestor accounts, per organisation (portal/submission_views.py, portal/account_views.py).
urlpatterns += [
    path("submit/<slug:slug>/", submission_views.submit, name="submit"),
    path("submit/<slug:slug>/received/<str:tracking_number>/", submission_views.received, name="submit-received"),
    path("submit/<slug:slug>/account/", account_views.account, name="account"),
    path("submit/<slug:slug>/account/signup/", account_views.sign_up, name="account-signup"),
    path("submit/<slug:slug>/account/confirm/<str:token>/", account_views.confirm, name="account-confirm"),
    path("submit/<slug:slug>/account/signin/", account_views.sign_in, name="account-signin"),
    path("submit/<slug:slug>/account/signout/", account_views.sign_out, name="account-signout"),
    path("submit/<slug:slug>/account/password/", account_views.reset_request, name="account-reset-request"),
    path("submit/<slug:slug>/account/password/<str:token>/", account_views.reset, name="account-reset"),
    path("submit/<slug:slug>/account/open/<str:tracking_number>/", account_views.account_open, name="account-open"),
]
