from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from roi.api_schema import ApiDocsView, ApiSchemaView
from roi.sign_in import SignInView
from roi.views import health, home, integrations, notifications, staff, two_factor

handler500 = "roi.views.health.server_error"

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz/", health.healthz, name="healthz"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tenant/switch/", home.switch_tenant, name="switch-tenant"),
    path("staff/sessions/", staff.StaffSessionsView.as_view(), name="staff-sessions"),
    path("staff/licensed-reviewers/", staff.LicensedReviewersView.as_view(), name="licensed-reviewers"),
    # Tenant admins: integration clients and their API tokens.
    path("staff/integrations/", integrations.IntegrationListView.as_view(), name="integrations"),
    path("staff/integrations/<int:pk>/", integrations.IntegrationClientView.as_view(), name="integration-client"),
    path(
        "staff/integrations/<int:pk>/active/",
        integrations.IntegrationClientActiveView.as_view(),
        name="integration-client-active",
    ),
    path(
        "staff/integrations/tokens/<int:pk>/rotate/",
        integrations.IntegrationTokenRotateView.as_view(),
        name="integration-token-rotate",
    ),
    path(
        "staff/integrations/tokens/<int:pk>/revoke/",
        integrations.IntegrationTokenRevokeView.as_view(),
        name="integration-token-revoke",
    ),
    path("2fa/setup/", two_factor.TwoFactorSetupView.as_view(), name="two-factor-setup"),
    path("2fa/verify/", two_factor.TwoFactorVerifyView.as_view(), name="two-factor-verify"),
    path("account/recovery-codes/", two_factor.RecoveryCodesView.as_view(), name="two-factor-recovery"),
    path("notifications/", notifications.NotificationListView.as_view(), name="notifications"),
    path("notifications/<int:pk>/read/", notifications.NotificationReadView.as_view(), name="notification-read"),
    path("notifications/read-all/", notifications.NotificationReadAllView.as_view(), name="notifications-read-all"),
    path("notifications/digest/", notifications.NotificationDigestView.as_view(), name="notification-digest"),
    # Four apps share /requests/; a tracking number matches only its own shape (workflow/converters.py), so the
    # order of these includes does not matter (tests/roi/test_url_modules.py tries them in every order).
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
