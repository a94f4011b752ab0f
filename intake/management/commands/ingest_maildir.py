"""Take in the new messages of a Maildir as requests: `manage.py ingest_maildir --tenant alpha --maildir /srv/mail/roi`.

Meant for cron, every minute. Each message is moved to cur/ with the Seen flag only after its outcome (request created,
already taken in, or kept in FailedIntake) is committed, so a run killed half-way leaves the rest in new/ and the next
run picks them up; a message processed but not yet moved is recognised as a duplicate (intake.ingest is idempotent).
Overlapping runs on the same Maildir do not interleave: the second one finds the lock taken and exits quietly.
"""

from __future__ import annotations

import fcntl
import mailbox
import os
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from intake.ingest import CREATED, DUPLICATE, FAILED, ingest_message
from roi import rls
from roi.models import Tenant
from workflow.choices import Channel

LOCK_NAME = ".openroi-ingest.lock"


class Command(BaseCommand):
    help = "Ingest new messages of a Maildir (email or fax-to-email) as received requests of one tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Slug of the tenant the mailbox belongs to.")
        parser.add_argument("--maildir", required=True, help="Path of the Maildir (with new/, cur/, tmp/).")
        parser.add_argument(
            "--channel",
            choices=[Channel.EMAIL, Channel.FAX],
            default=Channel.EMAIL,
            help="fax: every message is a fax from a fax-to-email gateway. email (default): messages are emails, "
            "except those that look like a fax gateway's (settings.INBOUND_FAX_GATEWAY_PATTERN).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"], is_active=True).first()
        if tenant is None:
            raise CommandError(f"No active tenant with slug {options['tenant']!r}.")
        path = Path(options["maildir"])
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise CommandError(f"{path} is not a Maildir (it needs new/ and cur/ folders).")
        with open(path / LOCK_NAME, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.stdout.write("Another ingest_maildir run is working on this Maildir; nothing to do.")
                return
            with rls.tenant_scope(tenant.pk):  # the tenant's own rows only (roi/rls.py)
                counts = self._ingest(
                    tenant=tenant, path=path, channel=options["channel"], verbose=options["verbosity"] >= 2
                )
        self.stdout.write(
            f"created {counts[CREATED]}, duplicates {counts[DUPLICATE]}, failed {counts[FAILED]}"
            + (f", skipped {counts['skipped']} (vanished while reading)" if counts["skipped"] else "")
        )

    def _ingest(self, *, tenant: Tenant, path: Path, channel: str, verbose: bool) -> Counter[str]:
        maildir = mailbox.Maildir(str(path), factory=None, create=False)
        counts: Counter[str] = Counter()
        # Only new/ is read: cur/ holds what earlier runs finished. mailbox keys are file names without the ":2,..."
        # info suffix (which files in new/ normally lack).
        for name in sorted(os.listdir(path / "new")):
            if name.startswith("."):
                continue
            key = name.split(maildir.colon, 1)[0]
            try:
                raw = maildir.get_bytes(key)
            except KeyError:  # another reader moved it away since the listing
                counts["skipped"] += 1
                continue
            result = ingest_message(tenant=tenant, raw=raw, channel=channel, source_label="maildir")
            counts[result.status] += 1
            # The outcome is committed (ingest_message runs its own transactions): only now is the message marked.
            # A rename, not maildir[key] = message, which would re-serialise (and so alter) the message.
            os.replace(path / "new" / name, path / "cur" / f"{key}{maildir.colon}2,S")
            if verbose:
                self.stdout.write(f"{key}: {result.status} {result.tracking_number or result.reason}")
        return counts
