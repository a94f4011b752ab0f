"""Background work of the intake app."""

from __future__ import annotations

import smtplib
from typing import Any

from celery import shared_task

from intake.letters import letter_email_deliver


@shared_task(
    bind=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, OSError),
    retry_backoff=True,
    max_retries=8,
)
def letter_email_send(self: Any, letter_id: int, tenant_id: int) -> bool:
    """Tell the requestor a letter was generated. Scheduled on commit by intake.letters.letter_generate; safe to
    retry (the letter row is claimed before sending, so it is sent at most once)."""
    return letter_email_deliver(tenant_id=tenant_id, letter_id=letter_id)
