# Integration clients: API tokens stop being a staff user's and become an integration client's, with scopes, an
# expiry, revocation and rotation by whom; a client acts as a service account that can never sign in (a constraint)
# and never gets a membership (a trigger).
#
# Existing tokens: one client per (tenant, user) that held tokens, named after its first token, acting with that
# user's role there (a tenant admin's as a supervisor's: clients never act as admins), and inactive when that user
# could no longer use the token (no active membership, or a disabled account). Every token moves to its client's new
# service account with the scopes read, intake and transitions (what a token could do before, restricted requests
# aside, which it may now only see with the explicit `restricted` scope) and expires 90 days after this migration;
# revoked tokens stay revoked. The users that held them stay as they were: their operators decide whether to disable
# them (docs/security.md, "Integration clients").

from datetime import timedelta

import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.functions.text
import simple_history.models
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations, models
from django.utils import timezone
from django.utils.text import slugify

MIGRATED_SCOPES = ["read", "intake", "transitions"]
MIGRATED_DAYS = 90

# Before a membership row is written: refused for a service account, whoever writes it (the app, the platform
# admin, a script). check_violation reaches Django as an IntegrityError.
MEMBERSHIP_GUARD = """
CREATE FUNCTION roi_membership_not_service_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM roi_user WHERE id = NEW.user_id AND is_service_account) THEN
        RAISE EXCEPTION 'user % is an integration client''s service account: it never gets a membership', NEW.user_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER roi_membership_not_service_account BEFORE INSERT OR UPDATE OF user_id ON roi_membership
    FOR EACH ROW EXECUTE FUNCTION roi_membership_not_service_account();
"""
DROP_MEMBERSHIP_GUARD = """
DROP TRIGGER IF EXISTS roi_membership_not_service_account ON roi_membership;
DROP FUNCTION IF EXISTS roi_membership_not_service_account();
"""


def _free(taken, wanted: str, limit: int, separator: str = " ") -> str:
    candidate, number = wanted[:limit], 2
    while taken(candidate):
        suffix = f"{separator}{number}"
        candidate, number = wanted[: limit - len(suffix)] + suffix, number + 1
    return candidate


def tokens_to_clients(apps, schema_editor):
    ApiToken = apps.get_model("roi", "ApiToken")
    IntegrationClient = apps.get_model("roi", "IntegrationClient")
    Membership = apps.get_model("roi", "Membership")
    User = apps.get_model("roi", "User")
    expires_at = timezone.now() + timedelta(days=MIGRATED_DAYS)
    clients = {}
    for token in ApiToken.objects.select_related("tenant", "user").order_by("created_at", "id"):
        key = (token.tenant_id, token.user_id)
        if key not in clients:
            member = Membership.objects.filter(tenant_id=token.tenant_id, user_id=token.user_id).first()
            name = _free(
                lambda n, t=token.tenant_id: IntegrationClient.objects.filter(tenant_id=t, name__iexact=n).exists(),
                " ".join(token.name.split()) or token.user.username,
                100,
            )
            username = _free(
                lambda n: User.objects.filter(username=n).exists(),
                f"api.{token.tenant.slug}.{slugify(name)[:60] or 'client'}",
                150,
                separator=".",
            )
            service_user = User.objects.create(
                username=username, first_name=name[:150], password=make_password(None), is_service_account=True
            )
            clients[key] = IntegrationClient.objects.create(
                tenant_id=token.tenant_id,
                name=name,
                description=f"Made from the API tokens of the user {token.user.username} when tokens became "
                "integration clients."[:300],
                role="supervisor" if member is not None and member.role in ("supervisor", "admin") else "specialist",
                service_user=service_user,
                is_active=bool(member is not None and member.is_active and token.user.is_active),
            )
        client = clients[key]
        token.client = client
        token.user_id = client.service_user_id
        token.scopes = MIGRATED_SCOPES
        token.expires_at = expires_at
        token.save(update_fields=["client", "user", "scopes", "expires_at"])
    # The foreign keys checked now, not at commit: the same transaction goes on to alter roi_apitoken, which
    # PostgreSQL refuses while deferred checks on its rows are pending.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def clients_to_tokens(apps, schema_editor):
    """Back to user tokens: each token acts as its client's service account, which keeps no membership, so the
    tokens would answer 403. Revoke them rather than leave keys that only look valid."""
    ApiToken = apps.get_model("roi", "ApiToken")
    ApiToken.objects.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    for token in ApiToken.objects.select_related("client"):
        token.name = token.client.name
        token.save(update_fields=["name"])
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("roi", "0016_licensed_professionals"),
    ]

    operations = [
        # The service account: a flag that the constraint and the membership trigger read.
        migrations.AddField(
            model_name="user",
            name="is_service_account",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("is_service_account", False),
                    models.Q(("password__startswith", "!"), ("is_staff", False), ("is_superuser", False)),
                    _connector="OR",
                ),
                name="service_account_never_signs_in",
            ),
        ),
        migrations.RunSQL(MEMBERSHIP_GUARD, DROP_MEMBERSHIP_GUARD),
        # The client and its history.
        migrations.CreateModel(
            name="IntegrationClient",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "name",
                    models.CharField(help_text="What it is, e.g. 'Epic interface' or 'Vendor portal'.", max_length=100),
                ),
                (
                    "description",
                    models.CharField(blank=True, help_text="Who runs it and whom to call about it.", max_length=300),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[("specialist", "Release specialist"), ("supervisor", "Supervisor")],
                        default="specialist",
                        help_text="Whose permissions its calls have in the services: a specialist's, or a "
                        "supervisor's (deny, assign to others).",
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("is_active", models.BooleanField(default=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "service_user",
                    models.OneToOneField(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="integration_client",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="roi.tenant"),
                ),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.UniqueConstraint(
                        models.F("tenant"),
                        django.db.models.functions.text.Lower("name"),
                        name="integration_client_name_once",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("role__in", ["specialist", "supervisor"])),
                        name="integration_client_role_not_admin",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="HistoricalIntegrationClient",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                (
                    "name",
                    models.CharField(help_text="What it is, e.g. 'Epic interface' or 'Vendor portal'.", max_length=100),
                ),
                (
                    "description",
                    models.CharField(blank=True, help_text="Who runs it and whom to call about it.", max_length=300),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[("specialist", "Release specialist"), ("supervisor", "Supervisor")],
                        default="specialist",
                        help_text="Whose permissions its calls have in the services: a specialist's, or a "
                        "supervisor's (deny, assign to others).",
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("is_active", models.BooleanField(default=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "service_user",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="roi.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical integration client",
                "verbose_name_plural": "historical integration clients",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        # Tokens: the new columns, empty until the data step fills them.
        migrations.AddField(
            model_name="apitoken",
            name="client",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tokens",
                to="roi.integrationclient",
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("read", "Read requests"),
                        ("intake", "Record new requests and their intake"),
                        ("transitions", "Move, assign and extend requests"),
                        ("restricted", "See restricted requests (sensitive categories)"),
                    ],
                    max_length=20,
                ),
                null=True,
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="replaced_by",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replaces",
                to="roi.apitoken",
            ),
        ),
        migrations.RunPython(tokens_to_clients, clients_to_tokens),
        migrations.AlterField(
            model_name="apitoken",
            name="client",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="tokens", to="roi.integrationclient"
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="scopes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("read", "Read requests"),
                        ("intake", "Record new requests and their intake"),
                        ("transitions", "Move, assign and extend requests"),
                        ("restricted", "See restricted requests (sensitive categories)"),
                    ],
                    max_length=20,
                ),
                size=None,
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(condition=models.Q(("scopes__len__gt", 0)), name="api_token_has_a_scope"),
        ),
        # A default first, so that undoing the removal can add the column back to existing rows.
        migrations.AlterField(
            model_name="apitoken",
            name="name",
            field=models.CharField(default="", max_length=100),
        ),
        migrations.RemoveField(
            model_name="apitoken",
            name="name",
        ),
        migrations.AlterModelOptions(
            name="apitoken",
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.AlterField(
            model_name="accessevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("view_request", "Viewed request"),
                    ("list_requests", "Listed requests"),
                    ("download_document", "Downloaded document"),
                    ("export", "Exported data"),
                    ("search_patients", "Searched patients"),
                    ("view_patient", "Viewed patient"),
                    ("view_audit", "Viewed audit trail"),
                    ("portal_lookup", "Portal: verified status lookup"),
                    ("portal_status_view", "Portal: viewed status"),
                    ("portal_lockout", "Portal: lookups locked after failures"),
                    ("portal_upload", "Portal: uploaded a document"),
                    ("staff_lockout", "Staff sign-in paused after failures"),
                    ("break_glass", "Break-glass access to a restricted request"),
                    ("api_call", "API call by an integration client"),
                    ("integration_change", "Integration client or token changed"),
                ],
                max_length=40,
            ),
        ),
    ]
