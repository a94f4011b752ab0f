"""The portal's own records. Requests, documents and notifications stay in the apps that own them; the portal keeps
only what has no tenant to belong to yet."""

from __future__ import annotations

from django.db import models


class LookupLockout(models.Model):
    """A status lookup lockout: too many failed lookups from one address, or for one tracking number as typed.

    A platform table rather than a tenant's: a lockout may be for a number that exists nowhere (someone guessing),
    and saying which tenant a number belongs to would be the leak the lockout exists to prevent. When the number is a
    real request's, its tenant also gets an AccessEvent (portal_lockout) on that request."""

    class Scope(models.TextChoices):
        ADDRESS = "address", "Client address"
        TRACKING_NUMBER = "tracking_number", "Tracking number"

    at = models.DateTimeField(db_index=True)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    subject = models.CharField(max_length=64, help_text="The client address, or the tracking number as typed.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_scope_display()} {self.subject}"
