"""Django admin for platform operators (superusers): tenants, users, memberships, integration clients and their API
tokens, access events, and the record of tenant-wall bypasses."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from roi.errors import ServiceError
from roi.models import AccessEvent, ApiToken, IntegrationClient, Membership, PlatformAccess, Tenant, User
from roi.services import api_token_revoke
from roi.sign_in import AdminSignInForm
from roi.tenancy import PLATFORM_TENANT_KEY

admin.site.site_header = "OpenROI platform administration"
# The same slowing of failed sign-ins as the staff sign-in page, with the same message (roi/sign_in.py).
admin.site.login_form = AdminSignInForm


class ReadOnlyAdminMixin:
    """For records that only the app writes (audit rows, the transition log, the transition-logged request):
    operators look, never add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fk_name = "user"


@admin.register(User)
class RoiUserAdmin(UserAdmin):
    inlines = [MembershipInline]


@admin.register(Tenant)
class TenantAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "jurisdiction", "timezone", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["act_for"]

    @admin.action(description="Act for this organisation (the lists here show its rows)")
    def act_for(self, request, queryset):
        """The platform admin sees one organisation's rows at a time, the one chosen here; every page it opens is
        recorded as platform access (roi/tenancy.py)."""
        tenants = list(queryset[:2])
        if len(tenants) != 1:
            self.message_user(request, "Choose exactly one organisation to act for.", level=messages.ERROR)
            return
        request.session[PLATFORM_TENANT_KEY] = tenants[0].pk
        self.message_user(
            request,
            f"Acting for {tenants[0].name}: the lists of requests, patients and records show its rows only, and "
            "every page you open is recorded.",
        )


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "tenant", "role", "is_active"]
    list_filter = ["tenant", "role", "is_active"]


@admin.register(IntegrationClient)
class IntegrationClientAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Tenant admins create and manage their integration clients on their Integrations page (/staff/integrations/);
    operators look here, and issue a token from the shell (`manage.py create_api_token`)."""

    list_display = ["name", "tenant", "role", "service_user", "is_active", "created_at"]
    list_filter = ["tenant", "is_active"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys are issued on the Integrations page or with `manage.py create_api_token` (shown once); here an operator
    can only revoke them, through the same service (an access event records it)."""

    list_display = ["prefix", "client", "tenant", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens now")
    def revoke(self, request, queryset):
        for token in queryset.select_related("tenant").filter(revoked_at__isnull=True):
            try:
                api_token_revoke(tenant=token.tenant, actor=request.user, token=token, request=request)
            except ServiceError as error:
                self.message_user(request, f"{token.prefix}...: {error.message}", messages.ERROR)
        self.message_user(request, "Revoked.")


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "tenant", "actor_label", "action", "object_type", "object_id", "ip_address"]
    list_filter = ["tenant", "action"]


@admin.register(PlatformAccess)
class PlatformAccessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every bypass of the tenant wall (roi/rls.py): read-only, like the access events. Browsing the platform admin
    is itself such a bypass, so this list also shows who browsed it."""

    list_display = ["at", "actor", "reason", "where"]
    list_filter = ["reason"]
    date_hierarchy = "at"
