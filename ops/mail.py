"""An email backend for fault drills: Django's file backend, slowed down like a busy SMTP server.

ops/faults.py sets EMAIL_BACKEND=ops.mail.SlowFileBackend so that a notification sweep takes long enough to be killed
half-way, and counts what was sent in the files (one Message-ID per notification row, roi/notifications.py).
OPS_EMAIL_DELAY_MS is the time each message takes (default 20 ms).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from django.core.mail.backends.filebased import EmailBackend
from django.core.mail.message import EmailMessage


class SlowFileBackend(EmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        delay = int(os.environ.get("OPS_EMAIL_DELAY_MS", "20")) / 1000
        sent = 0
        for message in email_messages:
            time.sleep(delay)
            sent += super().send_messages([message])
        return sent
