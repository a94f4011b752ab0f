from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from roi import rls
from roi.errors import ServiceError
from roi.models import Tenant, User
from roi.services import api_token_create


class Command(BaseCommand):
    help = "Issue an API token for an integration client. The key is printed once and never stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--user", required=True, help="User name the integration acts as (needs a membership)")
        parser.add_argument("--name", required=True, help="What the token is for, e.g. 'EHR interface'")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
            user = User.objects.get(username=options["user"])
        except (Tenant.DoesNotExist, User.DoesNotExist) as error:
            raise CommandError(str(error)) from None
        try:
            with rls.tenant_scope(tenant.pk):
                token, key = api_token_create(tenant=tenant, user=user, name=options["name"])
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Token '{token.name}' for {tenant.slug} as {user.username}:")
        self.stdout.write(key)
        self.stdout.write("Store it now: it cannot be shown again. Send it as 'Authorization: Token <key>'.")
