"""Every URL module in the tree is routed: a urls module that nothing includes keeps views alive that no caller can
reach (and tests that exercise them through a URLconf of their own, passing for code that never runs)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.urls import URLResolver, get_resolver, resolve

from intake.api.views import IntakeRecordRequestViewSet

ROOT = Path(settings.BASE_DIR)
SKIPPED_DIRS = {".venv", "tests", "benchmarks", "node_modules", "var", "migrations"}

# Included only under a setting, with the reason.
CONDITIONAL = {
    "ops.floor_urls": "the load test's floor views, mounted only with OPS_FLOOR_VIEWS (tests/ops/test_floor_views.py)",
}


def _url_modules() -> set[str]:
    modules = set()
    for path in ROOT.rglob("*urls.py"):
        parts = path.relative_to(ROOT).parts
        if SKIPPED_DIRS.intersection(parts) or any(part.startswith(".") for part in parts):
            continue
        modules.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return modules


def _included(resolver: URLResolver) -> set[str]:
    # A string or a module for an included module; a list for a literal one (the Django admin's).
    urlconf = resolver.urlconf_name
    names = {urlconf} if isinstance(urlconf, str) else {getattr(urlconf, "__name__", "")}
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            names |= _included(pattern)
    return names


def test_every_urls_module_is_included_from_the_root_urlconf() -> None:
    modules = _url_modules()
    assert "workflow.urls" in modules  # the walk found the apps' modules
    unrouted = modules - _included(get_resolver()) - set(CONDITIONAL)
    assert unrouted == set(), f"URL modules nothing includes (include them from roi/urls.py or remove them): {unrouted}"


def test_the_api_creates_requests_only_through_intake_receive() -> None:
    """POST /api/v1/requests/ has one create in the routed viewset's ancestry: intake's, which runs intake_receive
    (deadline engine, documents, duplicates, acknowledgment) and honours the Idempotency-Key."""
    view_class = resolve("/api/v1/requests/").func.cls
    owners = [klass for klass in view_class.__mro__ if "create" in vars(klass)]
    assert owners == [IntakeRecordRequestViewSet]
