"""Every URL module in the tree is routed: a urls module that nothing includes keeps views alive that no caller can
reach (and tests that exercise them through a URLconf of their own, passing for code that never runs)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from django.conf import settings
from django.urls import URLResolver, get_resolver, include, resolve
from django.urls import path as path_include
from django.urls.converters import get_converters
from django.urls.resolvers import RoutePattern

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


# --- URL prefixes that do not depend on include order ------------------------------------------------------------

SHARED_PREFIX_APPS = ("intake.urls", "exceptions.urls", "fulfillment.urls", "workflow.urls")
SAMPLE_VALUES = {"tracking": "ROI-2345-6789-ABCD", "int": "7", "str": "x", "slug": "x-y", "path": "x/y"}


def _sample_paths(resolver: URLResolver, prefix: str = "") -> list[tuple[str, str]]:
    """(path, view name) for every route of `resolver`, its converters filled with a value of their kind."""
    found = []
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        for name, converter in entry.pattern.converters.items():
            kind = next(k for k, v in get_converters().items() if type(converter) is type(v))
            value = SAMPLE_VALUES["tracking" if name == "tracking_number" else kind]
            route = re.sub(rf"<(?:{kind}:)?{name}>", value, route)
        if isinstance(entry, URLResolver):
            found += _sample_paths(entry, prefix + route)
        else:
            found.append((prefix + route, entry.name))
    return found


def test_the_apps_sharing_requests_resolve_the_same_in_every_include_order() -> None:
    """A fixed word under /requests/ ("new", "queues", "exceptions", "fulfillment") is never read as a tracking
    number by another app's route (workflow/converters.py), so roi/urls.py may include the four apps in any order."""
    expected = {}
    for module in SHARED_PREFIX_APPS:
        for path, name in _sample_paths(URLResolver(RoutePattern("requests/"), module), "requests/"):
            expected[f"/{path}"] = f"{module.split('.')[0]}:{name}"
    assert len(expected) > 80
    assert "/requests/new/" in expected
    assert "/requests/ROI-2345-6789-ABCD/" in expected
    for order in itertools.permutations(SHARED_PREFIX_APPS):
        resolver = URLResolver(RoutePattern("/"), [path_include("requests/", include(m)) for m in order])
        resolved = {path: resolver.resolve(path).view_name for path in expected}
        assert resolved == expected, order


def test_a_tracking_number_typed_in_lower_case_finds_its_page() -> None:
    match = resolve("/requests/roi-2345-6789-abcd/")
    assert match.view_name == "workflow:detail"
    assert match.kwargs == {"tracking_number": "ROI-2345-6789-ABCD"}
