from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_row_level_security(using: str = "default", **_kwargs: Any) -> None:
    """After every migrate: policies on every tenant table, privileges for the app role (roi/rls.py)."""
    from django.conf import settings
    from django.db import connections

    from roi import rls

    rls.policies_install(connections[using], settings.DATABASE_APP_ROLE)


class RoiConfig(AppConfig):
    name = "roi"
    verbose_name = "OpenROI platform"

    def ready(self) -> None:
        # Sign-in and sign-out record staff sessions (roi/sessions.py); a sign-in's outcome settles its throttled
        # attempt (roi/sign_in.py).
        # Celery tasks run in the tenant scope of whoever queued them (roi/rls.py).
        from roi import (
            sessions,  # noqa: F401
            sign_in,  # noqa: F401
            task_scope,  # noqa: F401
        )

        post_migrate.connect(_install_row_level_security, sender=self, dispatch_uid="roi-row-level-security")
