"""The portal's own records. Requests, documents and notifications stay in the apps that own them; the portal keeps
lookup lockouts (no tenant to belong to yet), what an online submission carried beyond the request (the form token,
the patient as typed) and requestor accounts."""

from __future__ import annotations

from django.db import models

from roi.models import TenantOwned


class LookupLockout(models.Model):
    """The start of a status lookup slowdown (portal/lookup.py; once named a lockout): an address past its free
    failures, or a tracking number as typed failed from too many addresses.

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


class PortalSubmission(TenantOwned):
    """A request submitted with the portal's online form: the one-time form token that makes a second POST of the
    same form (back button, double click) land on the first request, and the patient as the requestor typed them.

    The request itself points at a per-request placeholder patient until staff identify the patient (portal/submit),
    so what the requestor typed is kept here and shown on the staff request page (portal/panels.py)."""

    request = models.OneToOneField("workflow.RecordRequest", on_delete=models.PROTECT, related_name="portal_submission")
    form_token = models.CharField(max_length=64)
    account = models.ForeignKey(
        "portal.RequestorAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    submitted_at = models.DateTimeField()
    patient_first_name = models.CharField(max_length=100)
    patient_last_name = models.CharField(max_length=100)
    patient_date_of_birth = models.DateField()
    patient_other_names = models.CharField(max_length=200, blank=True, help_text="Former or other names, as typed.")
    patient_phone = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "form_token"], name="portal_submission_token_unique"),
        ]

    def __str__(self) -> str:
        return f"Portal submission {self.form_token[:8]}"


class RequestorAccount(TenantOwned):
    """A frequent requestor's sign-in (a law firm, an insurer) at one organisation: not a staff User.

    The account sees the organisation's requests whose requestor email equals its confirmed email, so nothing is
    shown before the address is confirmed by the link we email. `session_nonce` is part of the signed session cookie:
    signing out changes it, which ends every session of the account (portal/accounts.py)."""

    email = models.EmailField(help_text="Lower-cased; the address the confirmation link went to.")
    password = models.CharField(max_length=128)
    name = models.CharField(max_length=200)
    organization = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    session_nonce = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "email"], name="requestor_account_email_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None
