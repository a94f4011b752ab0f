from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from roi import views, views_integrations
from roi.api_schema import ApiDocsView, ApiSchemaView
from roi.sign_in import SignInView

handler500 = "roi.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tenant/switch/", views.switch_tenant, name="switch-tenant"),
    path("staff/sessions/", views.StaffSessionsView.as_view(), name="staff-sessions"),
    path("staff/licensed-reviewers/", views.LicensedReviewersView.as_view(), name="licensed-reviewers"),
    # Tenant admins: integration clients and their API tokens.
    path("staff/integrations/", views_integrations.IntegrationListView.as_view(), name="integrations"),
    path("staff/integrations/<int:pk>/", views_integrations.IntegrationClientView.as_view(), name="integration-client"),
    path(
        "staff/integrations/<int:pk>/active/",
        views_integrations.IntegrationClientActiveView.as_view(),
        name="integration-client-active",
    ),
    path(
        "staff/integrations/tokens/<int:pk>/rotate/",
        views_integrations.IntegrationTokenRotateView.as_view(),
        name="integration-token-rotate",
    ),
    path(
        "staff/integrations/tokens/<int:pk>/revoke/",
        views_integrations.IntegrationTokenRevokeView.as_view(),
        name="integration-token-revoke",
    ),
    path("2fa/setup/", views.TwoFactorSetupView.as_view(), name="two-factor-setup"),
    path("2fa/verify/", views.TwoFactorVerifyView.as_view(), name="two-factor-verify"),
    path("account/recovery-codes/", views.RecoveryCodesView.as_view(), name="two-factor-recovery"),
    path("notifications/", views.NotificationListView.as_view(), name="notifications"),
    path("notifications/<int:pk>/read/", views.NotificationReadView.as_view(), name="notification-read"),
    # intake first: its "new/" must not be read as a tracking number by workflow's "<tracking_number>/".
    path("requests/", include("intake.urls")),
    path("requests/", include("exceptions.urls")),
    path("requests/", include("fulfillment.urls")),
    path("requests/", include("workflow.urls")),
    # The request resource is assembled by fulfillment (deliver, deny) on top of intake's (create, checklist) on top
    # of workflow's (list, transitions).
    path("api/v1/", include("fulfillment.api_urls")),
    path("reports/", include("reporting.urls")),
    # The requestor portal: public pages (status, submission, downloads) outside /requests/.
    path("", include("portal.urls")),
    # For signed-in staff and API tokens, unless API_SCHEMA_PUBLIC (roi.api_auth.CanReadApiSchema).
    path("api/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema", template_name="roi/api_docs.html"), name="api-docs"),
    path("platform-admin/", admin.site.urls),
]

if settings.OPS_FLOOR_VIEWS:
    # The load test's floors (ops/load.py): never in production, where OPS_FLOOR_VIEWS is unset.
    urlpatterns.append(path("ops-floor/", include("ops.floor_urls")))
