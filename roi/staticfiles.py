"""Collected static files for runs with DEBUG off (tests, benchmarks): the manifest storage production uses needs
collectstatic's output, as a deployment has. Collected again only when our static files or the locked packages
(admin, API docs assets) changed: it takes half a minute."""

from __future__ import annotations

from pathlib import Path


def collected_static_is_current() -> bool:
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    sources = [Path(settings.BASE_DIR) / "requirements.lock", *Path(settings.BASE_DIR, "static").rglob("*")]
    return all(path.stat().st_mtime <= built for path in sources if path.is_file())


def collect_static_if_stale() -> None:
    if collected_static_is_current():
        return
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
