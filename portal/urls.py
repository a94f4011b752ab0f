"""The requestor portal: public pages, no staff login. Mounted at the site root (roi/urls.py)."""

from django.urls import path

from portal.views import accounts, downloads, lookup, submission

app_name = "portal"

urlpatterns = [
    path("status/", lookup.lookup, name="lookup"),
    path("status/link/<str:token>/", lookup.status_link, name="status-link"),
    path("status/leave/", lookup.leave, name="leave"),
    path("status/<tracking:tracking_number>/", lookup.status, name="status"),
    path("status/<tracking:tracking_number>/upload/", lookup.upload, name="upload"),
    path(
        "status/<tracking:tracking_number>/download/<int:link_id>/", downloads.status_download, name="status-download"
    ),
    path("download/<str:token>/", downloads.download, name="download"),
    path("portal/language/", lookup.language, name="language"),
]

# Online submission and requestor accounts, per organisation (portal/views/submission.py, portal/views/accounts.py).
urlpatterns += [
    path("submit/<slug:slug>/", submission.submit, name="submit"),
    path("submit/<slug:slug>/received/<tracking:tracking_number>/", submission.received, name="submit-received"),
    path("submit/<slug:slug>/account/", accounts.account, name="account"),
    path("submit/<slug:slug>/account/signup/", accounts.sign_up, name="account-signup"),
    path("submit/<slug:slug>/account/confirm/<str:token>/", accounts.confirm, name="account-confirm"),
    path("submit/<slug:slug>/account/signin/", accounts.sign_in, name="account-signin"),
    path("submit/<slug:slug>/account/signout/", accounts.sign_out, name="account-signout"),
    path("submit/<slug:slug>/account/password/", accounts.reset_request, name="account-reset-request"),
    path("submit/<slug:slug>/account/password/<str:token>/", accounts.reset, name="account-reset"),
    path("submit/<slug:slug>/account/open/<tracking:tracking_number>/", accounts.account_open, name="account-open"),
]
