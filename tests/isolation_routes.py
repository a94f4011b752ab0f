"""The URL configuration sorted for the generated tenant-isolation tests (tests/test_tenant_isolation.py): every
named route is probed cross-tenant, or allow-listed here with the reason, or reported as a problem to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reporting.tables import TABLES
from workflow.extensions import request_panels
from workflow.transitions import TRANSITIONS

MISSING_TRACKING_NUMBER = "ROI-ZZZZ-ZZZZ-ZZZZ"
MISSING_OBJECT_ID = "987654321"
PROBED_METHODS = ("get", "post")
# Kwargs naming a tenant-owned object other than the request; the tests fill them with tenant B's object.
OBJECT_KWARGS = frozenset({"document_id", "letter_id", "pk"})
# Kwargs that name no object: each route is probed once with each of their valid values.
VALUE_KWARGS: dict[str, tuple[str, ...]] = {
    "name": tuple(TRANSITIONS),  # workflow:transition
    "table": tuple(TABLES),  # reporting:export, one CSV per dashboard table
    "panel": tuple(panel.name for panel in request_panels()),  # workflow:panel, each panel of the request page
}

# Named routes not probed with tenant A's staff session, and why. Each holds no tenant data, or is public and grants
# access per requestor or per signed link rather than per staff session; the test named checks another tenant's
# object there. A route missing here and from the probes fails test_every_named_route_is_probed_or_allow_listed.
NOT_PROBED: dict[str, str] = {
    "healthz": "database, Redis and beat status for the load balancer: no tenant data",
    "login": "the sign-in form: no tenant data",
    "logout": "ends the caller's own session: no tenant data",
    "two-factor-setup": "the signed-in user's own authenticator (tests/roi/test_two_factor.py): no tenant data",
    "two-factor-verify": "the signed-in user's own second factor (tests/roi/test_two_factor.py): no tenant data",
    "two-factor-recovery": "the signed-in user's own recovery codes (tests/roi/test_two_factor.py): no tenant data",
    "api-schema": "the OpenAPI description: paths and fields, no rows (tests/security/test_api_schema.py)",
    "api-docs": "Swagger UI over api-schema: no rows",
    "intake:inbound-email": "public webhook signed with each tenant's own secret: tests/intake/test_webhook.py "
    "(another tenant's signature and an unknown tenant get the same answer)",
    # The requestor portal: no staff session; a browser is granted one request at a time (verifier, signed link,
    # account) and the tenant comes from the request or the slug in the URL.
    "portal:lookup": "tests/portal/test_lookup.py (every failure gets the same answer)",
    "portal:status-link": "tests/portal/test_lookup.py (a forged signed link opens nothing)",
    "portal:leave": "forgets the browser's grants: no tenant data (tests/portal/test_lookup.py)",
    "portal:status": "tests/portal/test_lookup.py (a grant for one request shows no other)",
    "portal:upload": "tests/portal/test_status.py (an upload needs a grant for that request)",
    "portal:status-download": "tests/portal/test_downloads.py (another tenant's link answers 404, takes no use)",
    "portal:download": "tests/portal/test_downloads.py (an unknown token gets the same page with 404)",
    "portal:language": "the portal's language cookie: no tenant data",
    "portal:submit": "tests/portal/test_submission.py (another organisation's form token creates nothing)",
    "portal:submit-received": "tests/portal/test_submission.py (another browser is asked to verify)",
    "portal:account": "tests/portal/test_accounts.py (lists only this organisation's requests; a sign-in is not "
    "valid at another organisation)",
    "portal:account-signup": "tests/portal/test_accounts.py (an existing address looks the same)",
    "portal:account-confirm": "tests/portal/test_accounts.py (another organisation's link does not confirm)",
    "portal:account-signin": "tests/portal/test_accounts.py (not valid at another organisation)",
    "portal:account-signout": "ends the requestor's own session (tests/portal/test_accounts.py)",
    "portal:account-reset-request": "tests/portal/test_accounts.py (unknown addresses get the same answer)",
    "portal:account-reset": "tests/portal/test_accounts.py (another organisation's reset link answers 404)",
    "portal:account-open": "tests/portal/test_accounts.py (someone else's request goes back to the list)",
}
# Every route of these namespaces. The platform admin (Django admin) lets in platform operators (is_staff) only;
# test_tenant_admin_gets_no_platform_admin_page (tests/test_tenant_isolation.py) sends a tenant's admin to its sign-in.
NOT_PROBED_NAMESPACES: dict[str, str] = {"admin": "the platform admin, for platform operators only"}


@dataclass(frozen=True)
class Route:
    """One reversible URL: a named pattern with every kwarg but `tracking_number` and object ids filled in."""

    name: str
    kwargs: dict[str, str] = field(default_factory=dict)
    allowed_methods: frozenset[str] = frozenset()
    is_api: bool = False

    @property
    def takes_tracking_number(self) -> bool:
        return "tracking_number" in self.kwargs

    @property
    def object_kwargs(self) -> list[str]:
        return [name for name in self.kwargs if name in OBJECT_KWARGS]

    def url(self, tracking_number: str = MISSING_TRACKING_NUMBER, objects: dict[str, Any] | None = None) -> str:
        kwargs = {**self.kwargs}
        if self.takes_tracking_number:
            kwargs["tracking_number"] = tracking_number
        objects = objects or {}
        for name in self.object_kwargs:
            if name == "pk" and objects:
                assert self.name in objects["pk_by_route"], f"add {self.name} to b_objects' pk_by_route"
                kwargs[name] = str(objects["pk_by_route"][self.name])
            else:
                kwargs[name] = str(objects.get(name, MISSING_OBJECT_ID))
        return reverse(self.name, kwargs=kwargs)

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs.items() if k != "tracking_number")
        return f"{self.name}[{extra}]" if extra else self.name


def _allowed_methods(callback: Any) -> frozenset[str]:
    """The HTTP methods the view answers at all (others get 405 before any lookup)."""
    actions = getattr(callback, "actions", None)  # DRF viewset route: {"get": "retrieve", ...}
    if actions is not None:
        return frozenset(actions)
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return frozenset(m for m in PROBED_METHODS if m in view_class.http_method_names and hasattr(view_class, m))
    return frozenset(PROBED_METHODS)  # function view: it decides itself


@dataclass
class RouteMap:
    """Every route of the URL configuration, sorted: probed cross-tenant, allow-listed, or a problem to fix."""

    probed: list[Route] = field(default_factory=list)
    allow_listed: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _walk(
    patterns: list[Any], namespaces: list[str], prefix: str, kwarg_names: frozenset[str], found: RouteMap
) -> None:
    for pattern in patterns:
        names = kwarg_names | frozenset(pattern.pattern.regex.groupindex)
        route_text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if pattern.namespace in NOT_PROBED_NAMESPACES:
                found.allow_listed.add(f"{pattern.namespace}:")
                continue
            inner = [*namespaces, pattern.namespace] if pattern.namespace else namespaces
            _walk(pattern.url_patterns, inner, route_text, names, found)
            continue
        assert isinstance(pattern, URLPattern)
        if not pattern.name:
            found.problems.append(f"/{route_text} has no name: name it, so that this test can reverse and probe it")
            continue
        full_name = ":".join([*namespaces, pattern.name])
        if full_name in NOT_PROBED:
            found.allow_listed.add(full_name)
            continue
        names = names - {"format"}  # DRF format-suffix variants are the same view
        unknown = names - {"tracking_number"} - OBJECT_KWARGS - set(VALUE_KWARGS)
        if unknown:
            found.problems.append(
                f"{full_name} (/{route_text}) takes {sorted(unknown)}, which the isolation test cannot fill. In "
                "tests/isolation_routes.py: if it names a tenant-owned object, add it to OBJECT_KWARGS and tenant "
                "B's object to b_objects in tests/test_tenant_isolation.py (or to a tests/<app>/isolation_objects*.py "
                "module); if it takes one of a fixed set of values, add them to VALUE_KWARGS; if the route holds no "
                "tenant data, add it to NOT_PROBED with the reason and the test that covers it."
            )
            continue
        fillings: list[dict[str, str]] = [{}]
        for name in sorted(names & set(VALUE_KWARGS)):
            fillings = [{**filling, name: value} for filling in fillings for value in VALUE_KWARGS[name]]
        for filling in fillings:
            kwargs = {**filling}
            if "tracking_number" in names:
                kwargs["tracking_number"] = ""
            for name in names & OBJECT_KWARGS:
                kwargs[name] = ""
            found.probed.append(
                Route(
                    name=full_name,
                    kwargs=kwargs,
                    allowed_methods=_allowed_methods(pattern.callback),
                    is_api=route_text.startswith("api/v1/"),
                )
            )


ROUTE_MAP = RouteMap()
_walk(get_resolver().url_patterns, [], "", frozenset(), ROUTE_MAP)
TENANT_ROUTES = ROUTE_MAP.probed
# Routes naming a request or another object: called with tenant B's ids, they must answer like missing ones.
REQUEST_ROUTES = [r for r in TENANT_ROUTES if r.takes_tracking_number or r.object_kwargs]
# Routes naming no object (queues, reports, exports, audit, notifications): tenant B's rows must stay off them.
LIST_ROUTES = [r for r in TENANT_ROUTES if not (r.takes_tracking_number or r.object_kwargs)]
