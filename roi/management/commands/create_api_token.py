"""`manage.py create_api_token`: the operator's way to issue an integration client's token from the shell (a first
set-up, the fault drills in ops/faults.py), beside the tenant admin's Integrations page. Tokens are for
integration clients only, never for a person's account."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from roi import rls
from roi.choices import INTEGRATION_ROLES, ApiScope, Role
from roi.errors import ServiceError
from roi.models import IntegrationClient, Tenant
from roi.services import API_TOKEN_DEFAULT_DAYS, api_token_issue, integration_client_create

DEFAULT_SCOPES = f"{ApiScope.READ},{ApiScope.INTAKE},{ApiScope.TRANSITIONS}"


class Command(BaseCommand):
    help = (
        "Issue an API token to an integration client of a tenant (created when missing). The key is printed once "
        "and never stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--client", help="Integration client's name, e.g. 'EHR interface' (created when missing)")
        parser.add_argument(
            "--scopes",
            default=DEFAULT_SCOPES,
            help=f"Comma-separated, from {', '.join(ApiScope.values)} (default {DEFAULT_SCOPES})",
        )
        parser.add_argument("--days", type=int, default=API_TOKEN_DEFAULT_DAYS, help="Days until it expires (1 to 365)")
        parser.add_argument(
            "--role",
            choices=[value for value, _ in INTEGRATION_ROLES],
            default=Role.SPECIALIST,
            help="Whose permissions a new client's calls have (an existing client keeps its own)",
        )
        # Tokens used to be issued to a staff user; the option stays to say why that is refused.
        parser.add_argument("--user", help="Refused: tokens belong to integration clients, never to a person")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["user"]:
            raise CommandError(
                f"Tokens are issued to integration clients, never to a person's account ({options['user']}): use "
                "--client 'NAME' (created when missing); the client acts as its own service account."
            )
        if not options["client"]:
            raise CommandError("Name the integration client with --client 'NAME' (for example 'EHR interface').")
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant with the slug {options['tenant']!r}.") from None
        name = " ".join(options["client"].split())
        created = False
        try:
            # One transaction: a token refused (a scope misspelt) leaves no new client behind.
            with rls.tenant_scope(tenant.pk), transaction.atomic():
                client = IntegrationClient.objects.for_tenant(tenant).filter(name__iexact=name).first()
                if client is None:
                    client = integration_client_create(tenant=tenant, actor=None, name=name, role=options["role"])
                    created = True
                token, key = api_token_issue(
                    tenant=tenant,
                    actor=None,
                    client=client,
                    scopes=options["scopes"].split(","),
                    days=options["days"],
                )
        except ServiceError as error:
            raise CommandError(error.message) from None
        # The key is the second line: ops/faults.py reads it there.
        self.stdout.write(
            f"Token {token.prefix}... for {'new ' if created else ''}integration client '{client.name}' at "
            f"{tenant.slug}: {', '.join(token.scopes)}; expires {token.expires_at:%Y-%m-%d %H:%M} UTC."
        )
        self.stdout.write(key)
        self.stdout.write("Store it now: it cannot be shown again. Send it as 'Authorization: Token <key>'.")
