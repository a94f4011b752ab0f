"""Production security settings and headers: `check --deploy` is clean with production's environment, HTTPS is
enforced, staff pages carry a content security policy without inline scripts or styles (portal pages keep their
own), every page the one Permissions-Policy, the API's schema needs a signed-in caller, nothing a signed-in user
sees is cached, passwords are hashed with Argon2, and query strings with PHI do not reach the request logs or error
pages."""

from __future__ import annotations

import importlib
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings

from portal.http import CONTENT_SECURITY_POLICY as PORTAL_POLICY
from roi.security import PERMISSIONS_POLICY, StaffNoStoreMiddleware
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
STAFF_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
}


def directives(header: str) -> dict[str, str]:
    """A policy header as {directive: sources}; browsers do not care about the directives' order."""
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def production_environment() -> dict[str, str]:
    """What an operator sets (docs/running.md), as .ci/run's deploy check does: nothing of the development or test
    environment (`make test`'s SECURE_COOKIES=false, the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE, ...)."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "DATABASE_URL", "REDIS_URL") if key in os.environ}
    env.update(SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="roi.example.org")
    return env


def test_the_deploy_check_prints_no_warning_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_fails_on_a_development_setting():
    """The CI step can fail: DEBUG on is a warning, and warnings fail the check."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**production_environment(), "DEBUG": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr


def test_production_defaults_turn_on_https_only_and_hsts():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    env = {**production_environment(), "DJANGO_SETTINGS_MODULE": "roi.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True", str(365 * 24 * 3600), "True", "False", "True", "True"]


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_redirected_to_https_except_the_health_check(db):
    client = Client()  # a new client builds its middleware under the override
    response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"
    assert client.get("/healthz/").status_code == 200


@override_settings(SECURE_HSTS_SECONDS=365 * 24 * 3600)
def test_https_responses_carry_hsts(db):
    response = Client().get("/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_staff_pages_carry_the_content_security_policy(client_for, alice):
    response = client_for(alice).get("/requests/")
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == STAFF_POLICY
    assert "unsafe" not in response["Content-Security-Policy"]


def test_portal_pages_keep_their_own_stricter_policy(db):
    response = Client().get("/status/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == PORTAL_POLICY


def test_the_api_docs_page_needs_no_inline_script_or_style(client_for, alice):
    client = client_for(alice)
    page = client.get("/api/docs/")
    assert directives(page["Content-Security-Policy"]) == STAFF_POLICY
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_every_page_staff_portal_and_api_carries_the_one_permissions_policy(client_for, alice, tenant_a, api_token_for):
    staff = client_for(alice)
    answers = {
        "staff page": staff.get("/requests/"),
        "staff error page": staff.get("/requests/NO-SUCH-1/"),
        "sign-in page": Client().get("/login/"),
        "portal page": Client().get("/status/"),
        "portal submission page": Client().get(f"/submit/{tenant_a.slug}/"),
        "api": Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {api_token_for(alice, tenant_a)[1]}"),
    }
    assert {name: answer["Permissions-Policy"] for name, answer in answers.items()} == dict.fromkeys(
        answers, PERMISSIONS_POLICY
    )
    assert answers["portal page"].status_code == answers["staff page"].status_code == 200


def test_the_permissions_policy_denies_the_devices_and_payments_no_page_uses():
    policy = dict(part.strip().split("=", 1) for part in PERMISSIONS_POLICY.split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid"):
        assert policy[feature] == "()", feature
    assert set(policy.values()) == {"()"}


# --- The API's schema and docs page: signed-in callers only, unless published ----------------------------------


SCHEMA_URLS = ["/api/schema/?format=json", "/api/schema/", "/api/docs/", "/api/docs/?script="]


def test_an_anonymous_visitor_gets_no_schema_nor_docs_page_but_a_json_401(db):
    for url in SCHEMA_URLS:
        response = Client().get(url)
        assert response.status_code == 401, url
        assert response["Content-Type"] == "application/json", url
        assert "Sign in, or send your API token" in response.json()["detail"], url
        assert response["WWW-Authenticate"] == "Token", url


def test_a_revoked_token_gets_a_json_401_from_the_docs_page(alice, tenant_a, api_token_for):
    token, key = api_token_for(alice, tenant_a)
    token.revoked_at = token.created_at
    token.save()
    response = Client().get("/api/docs/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json() == {
        "detail": f"This token was revoked on {token.revoked_at:%Y-%m-%d}. Ask your organisation's admin for a new one."
    }


def test_a_signed_in_user_of_no_organisation_gets_a_json_403(client_for, db):
    outsider = factories.UserFactory()
    response = client_for(outsider).get("/api/schema/", {"format": "json"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_staff_signed_in_and_api_tokens_read_the_schema_and_the_docs(client_for, alice, tenant_a, api_token_for):
    staff = client_for(alice)
    token = Client(HTTP_AUTHORIZATION=f"Token {api_token_for(alice, tenant_a)[1]}")
    for client in (staff, token):
        schema = client.get("/api/schema/", {"format": "json"})
        assert schema.status_code == 200
        assert "/api/v1/requests/" in schema.json()["paths"]
        assert client.get("/api/docs/").status_code == 200
        assert client.get("/api/docs/", {"script": ""}).status_code == 200


def test_a_deployment_may_publish_the_schema_and_docs(settings, db):
    settings.API_SCHEMA_PUBLIC = True
    assert Client().get("/api/schema/", {"format": "json"}).json()["info"]["title"] == "OpenROI API"
    assert Client().get("/api/docs/").status_code == 200


def test_the_schema_is_private_unless_the_environment_publishes_it():
    assert importlib.import_module("roi.settings").API_SCHEMA_PUBLIC is False


# Templates rendered to PDF by WeasyPrint, never served to a browser: their inline styles are not under the CSP.
PDF_TEMPLATES = {
    "fulfillment/disclosures/accounting_report.html",
    "fulfillment/fees/invoice_pdf.html",
    "reporting/monthly_report.html",
    "reporting/_pdf_table.html",
}
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style[\s>]|\sstyle=|\son[a-z]+=|javascript:|\shx-on[:-]",
    re.IGNORECASE,
)


def browser_templates() -> list[Path]:
    templates = ROOT / "templates"
    found = []
    for path in sorted(templates.rglob("*.html")):
        name = path.relative_to(templates).as_posix()
        if name in PDF_TEMPLATES or "/pdf/" in f"/{name}" or name.startswith("intake/letters/"):
            continue
        found.append(path)
    return found


def test_no_template_served_to_a_browser_has_inline_script_or_style():
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in browser_templates()
        for match in INLINE.finditer(path.read_text())
    ]
    assert browser_templates(), "no templates found"
    assert offenders == []


def test_a_signed_in_staff_page_is_not_stored(client_for, alice):
    response = client_for(alice).get("/requests/")
    assert response["Cache-Control"] == "no-store"


def test_an_api_answer_to_a_token_is_not_stored(client, alice, tenant_a, api_token_for):
    _, key = api_token_for(alice, tenant_a)
    response = client.get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_a_response_to_an_anonymous_visitor_is_left_to_its_view():
    request = RequestFactory().get("/status/")
    request.user = AnonymousUser()
    response = StaffNoStoreMiddleware(lambda _: HttpResponse())(request)
    assert "Cache-Control" not in response


def test_a_cache_control_chosen_by_the_view_is_kept(alice):
    request = RequestFactory().get("/requests/")
    request.user = alice
    chosen = HttpResponse()
    chosen["Cache-Control"] = "private, max-age=60"
    response = StaffNoStoreMiddleware(lambda _: chosen)(request)
    assert response["Cache-Control"] == "private, max-age=60"


def test_argon2_hashes_new_passwords_in_production(settings):
    # tests/conftest.py swaps the hashers for MD5 to keep the suite fast; the settings module keeps production's.
    hashers = importlib.import_module("roi.settings").PASSWORD_HASHERS
    assert hashers[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in hashers[1:]
    settings.PASSWORD_HASHERS = hashers
    assert make_password("a long passphrase").startswith("argon2$argon2id$")


def test_an_older_hash_is_upgraded_to_argon2_at_sign_in(settings, db):
    settings.PASSWORD_HASHERS = importlib.import_module("roi.settings").PASSWORD_HASHERS
    user = factories.UserFactory()
    user.password = make_password("a long passphrase", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    assert user.check_password("a long passphrase")
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")


def test_a_request_error_in_the_log_has_no_query_string(client_for, alice, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(alice).get("/requests/NO-SUCH-1/", {"mrn": "MRN-4417", "patient": "Rivera"})
    assert response.status_code == 404
    lines = [record.getMessage() for record in caplog.records if record.name == "django.request"]
    assert lines
    assert "/requests/NO-SUCH-1/" in lines[0]
    assert "MRN-4417" not in caplog.text
    assert "Rivera" not in caplog.text
    # Nor does the error page echo what was asked for.
    assert "MRN-4417" not in response.content.decode()


def test_an_access_log_line_keeps_the_path_and_drops_the_query_string():
    """runserver's access lines (logger django.server) carry the whole request line."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("django.server")
    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.error('"%s" %s %s', "GET /reports/audit/?mrn=MRN-4417&q=Rivera HTTP/1.1", "500", "145")
    finally:
        logger.removeHandler(handler)
    assert lines == ['"GET /reports/audit/?[query removed] HTTP/1.1" 500 145']


def test_a_stored_email_download_is_not_kept_by_the_browser(client_for, alice, tenant_a, media):
    """The failed-intake message download goes out through roi.downloads like every other file with PHI: no-store,
    and the same Content-Disposition it always had."""
    from tests.intake.helpers import failed_intake

    failed = failed_intake(tenant_a)
    response = client_for(alice).get(f"/requests/failed-intake/{failed.pk}/raw/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="failed-intake-{failed.pk}.eml"'


def test_cleaning_a_log_line_twice_changes_nothing_more():
    """django.setup() runs again under some WSGI entry points and attaches the filter a second time."""
    from roi.security import strip_query_string

    once = strip_query_string('"GET /reports/audit/?mrn=MRN-4417 HTTP/1.1"')
    assert strip_query_string(once) == once == '"GET /reports/audit/?[query removed] HTTP/1.1"'
