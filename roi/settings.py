"""OpenROI settings: one module for every environment, read from environment variables.

`make run` and `make test` set the variables for the embedded servers (see roi/devstack.py); production sets them
in docker-compose.yml or the host's environment. docs/running.md lists them all.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from roi.env import env_bool, env_int, env_list, env_pairs, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 32:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base URL used in letters and emails (status-page links).
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "roi",
    "workflow",
    "exceptions",
    "intake",
    "fulfillment",
    "reporting",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # One Permissions-Policy for every response, the refusals of the next line included.
    "roi.security.PermissionsPolicyMiddleware",
    # Control characters in a path, query string, form or JSON body: 400 before anything reads them.
    "roi.security.InputHygieneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy on every response that has none yet (portal pages set their own, stricter one).
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "roi.tenancy.TenantMiddleware",
    "roi.sessions.StaffSessionMiddleware",
    "roi.two_factor.TwoFactorMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Next to the views, so it sees every view's response: no-store for signed-in staff.
    "roi.security.StaffNoStoreMiddleware",
]

ROOT_URLCONF = "roi.urls"
WSGI_APPLICATION = "roi.wsgi.application"
AUTH_USER_MODEL = "roi.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workflow:queue"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "roi.tenancy.tenant_context",
                "roi.context_processors.unread_notifications",
            ],
        },
    },
]

# --- Database: PostgreSQL only ---------------------------------------------------------------
# The app connects as DATABASE_URL's role: one that owns no table, is no superuser and has no BYPASSRLS, so that
# PostgreSQL's row-level security keeps each tenant's rows apart (roi/rls.py). `manage.py migrate` runs as the
# owner, DATABASE_OWNER_URL (same server and database), and makes sure the app role exists and has its privileges.
# Without DATABASE_OWNER_URL, migrate runs as DATABASE_URL's role and grants to DATABASE_APP_ROLE (`make run` and
# `make test` set both URLs up on their own: roi/devstack.py).
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
DATABASE_OWNER_URL = env_url("DATABASE_OWNER_URL", "", schemes=("postgres", "postgresql", ""))
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # The backend hands each transaction its tenant scope (roi/db/base.py).
        engine="roi.db",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
# Parameters bound by PostgreSQL, and a statement run five times on a connection kept prepared: the queries of a page
# are the same from one request to the next, so their planning is paid once per connection instead of every time (it
# was most of PostgreSQL's share of a request: docs/operations.md, Load). Needs a pooler in session mode, if any.
if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=env_int("DATABASE_PREPARE_THRESHOLD", 5, minimum=0)
    )
DATABASE_APP_ROLE = DATABASES["default"]["USER"] if DATABASE_OWNER_URL else env_str("DATABASE_APP_ROLE", "openroi_app")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and results, cache ---------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "roi",
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A task is acknowledged only after it finishes, so a worker killed mid-task leaves it for another worker;
# every task is written to be idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 3600

# --- Auth -------------------------------------------------------------------------------------
# Staff sign-in is slowed, never locked, against guessing (OWASP ASVS 2.2.1; roi/sign_in.py, roi/throttle.py): past
# the free failures per account, or per client address (across accounts: spraying), each further attempt waits a
# growing interval, 10 seconds doubling up to the longest wait. The throttle's backend comes first, so every sign-in
# form goes through it; API tokens do not go through these backends.
AUTHENTICATION_BACKENDS = ["roi.sign_in.ThrottledSignIn", "django.contrib.auth.backends.ModelBackend"]
SIGN_IN_FREE_FAILURES_PER_ACCOUNT = env_int("SIGN_IN_FREE_FAILURES_PER_ACCOUNT", 5, minimum=1)
SIGN_IN_FREE_FAILURES_PER_ADDRESS = env_int("SIGN_IN_FREE_FAILURES_PER_ADDRESS", 10, minimum=1)
SIGN_IN_MAX_WAIT_SECONDS = env_int("SIGN_IN_MAX_WAIT_SECONDS", 5 * 60, minimum=10)
# Two-factor codes: per account (or per browser that signed in as the user before), with a longer longest wait.
TWO_FACTOR_FREE_FAILURES = env_int("TWO_FACTOR_FREE_FAILURES", 5, minimum=1)
TWO_FACTOR_MAX_WAIT_SECONDS = env_int("TWO_FACTOR_MAX_WAIT_SECONDS", 15 * 60, minimum=10)
# django-otp's own backoff per device doubles without a ceiling (a lockout in all but name): the throttle above
# takes its place.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_TOTP_ISSUER = "OpenROI"  # what authenticator apps show beside the account
# Argon2id first (OWASP ASVS 5.0 V11.4.2, memory-hard); the others stay after it only so that a password stored
# under one of them still verifies and is re-hashed with Argon2 at that user's next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sessions and security headers ----------------------------------------------------------------
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=300)
# Staff sessions (roi/sessions.py): the idle limit is each organisation's setting (Tenant.session_idle_minutes);
# this is the absolute limit from sign-in, whatever the activity.
STAFF_SESSION_MAX_HOURS = env_int("STAFF_SESSION_MAX_HOURS", 12, minimum=1)
STAFF_SESSION_IDLE_MINUTES_DEFAULT = 15
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For (0: none, the client
# connects directly). Audit records and the portal's per-address limits use the client's address (roi.audit).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# Production answers HTTPS only (HIPAA 164.312(e)(1), transmission security): plain-http requests are redirected and
# browsers are told by HSTS to use HTTPS for a year, subdomains included. `make run` (DEBUG, plain http on
# 127.0.0.1) gets neither. An operator whose proxy already redirects may still leave this on: behind
# BEHIND_TLS_PROXY Django sees the proxy's X-Forwarded-Proto and never redirects an HTTPS request.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The health check is probed over plain http from inside the container or by the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preload (hstspreload.org) binds the whole registered domain, every other site of the hospital included, to HTTPS
# in browsers for months after it is withdrawn: a decision for the domain's owner, so it is opt-in, and the deploy
# check's reminder about it (security.W021) is silenced. `check --deploy` runs in CI and must print no warning.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of the staff site, the API and the admin (django-csp's middleware). No inline script or
# style is allowed anywhere: templates load static/js and static/css files only. Portal pages send their own,
# stricter policy (portal/http.py), and the middleware leaves a response that already has one alone. The API docs
# page (Swagger UI) lives within this policy as well (roi/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The staff pages are in English. The requestor portal and the emails to requestors are in English and Spanish:
# portal pages activate the visitor's language themselves (portal.http.portal_page), so there is no LocaleMiddleware.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "roi_language"
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"  # stored times are UTC; each tenant displays and computes dates in its own timezone
USE_I18N = True
USE_TZ = True

# --- Files ---------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STORAGES = {
    # All or nothing: a write that fails half-way (a full disk) leaves no partial file (roi/storage.py).
    "default": {"BACKEND": "roi.storage.MediaStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Documents with PHI live outside the web root: they are served only by views that check the tenant and write an
# access event.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# The access events' chain heads, written by beat every few minutes outside the database and signed with a key the
# database does not hold (roi/anchors.py): `verify_audit_chain` detects a chain cut back or rebuilt against them.
# Production puts this directory on storage the app host cannot rewrite (docs/operations.md).
AUDIT_ANCHOR_DIR = Path(env_str("AUDIT_ANCHOR_DIR", str(BASE_DIR / "var" / "audit-anchors")))
AUDIT_ANCHOR_KEY = env_str("AUDIT_ANCHOR_KEY", "")  # default: derived from SECRET_KEY
# No URL pattern serves this prefix; Django only needs MEDIA_URL to be a string distinct from STATIC_URL.
MEDIA_URL = "/private-media-not-served/"

# Largest document accepted from any channel (staff upload, email attachment, API, portal).
INTAKE_MAX_UPLOAD_BYTES = env_int("INTAKE_MAX_UPLOAD_MB", 25, minimum=1) * 1024 * 1024
# Release packets of more record pages than this are built by a worker, with progress on the request page
# (fulfillment/packet_builds.py); PACKET_BUILD_QUEUE names a Celery queue of their own (empty: the default queue).
PACKET_INLINE_PAGES = env_int("PACKET_INLINE_PAGES", 50, minimum=0)
PACKET_BUILD_QUEUE = env_str("PACKET_BUILD_QUEUE", "")
# A body read into memory: a form's fields, or an API call's JSON, which carries its documents in base64 (a third
# larger than the file). One document at the upload limit must fit; roi.security.InputHygieneMiddleware reads a JSON
# body before the caller is authenticated and answers 413 over this. (The email webhook reads its own, larger limit.)
DATA_UPLOAD_MAX_MEMORY_SIZE = INTAKE_MAX_UPLOAD_BYTES * 4 // 3 + 1024 * 1024
# Inbound-email webhook: "slug=secret,slug2=secret2", one HMAC secret per tenant (shared with the email provider).
INBOUND_EMAIL_WEBHOOK_SECRETS = env_pairs("INBOUND_EMAIL_WEBHOOK_SECRETS", {})
# Optional regex, searched in the sender address and the subject, that marks fax-to-email gateways (channel fax).
INBOUND_FAX_GATEWAY_PATTERN = env_str("INBOUND_FAX_GATEWAY_PATTERN", "")

# --- Load test --------------------------------------------------------------------------------------
# The floor views of the load test (ops/floor_urls.py, /ops-floor/): only ops/load.py's own gunicorn sets this.
OPS_FLOOR_VIEWS = env_bool("OPS_FLOOR_VIEWS", False)

# --- Requestor portal --------------------------------------------------------------------------------
# Failed status lookups are slowed, never locked (portal/lookup.py): past the free failures from a client address
# (across numbers), or from this many different addresses on one tracking number (as typed), each further lookup
# waits a growing interval, 10 seconds doubling up to the longest wait.
PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = env_int("PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS", 20, minimum=1)
PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER = env_int("PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER", 5, minimum=1)
PORTAL_LOOKUP_MAX_WAIT_SECONDS = env_int("PORTAL_LOOKUP_MAX_WAIT_SECONDS", 5 * 60, minimum=10)
# Every failed lookup takes at least this long, whether the number exists or not.
PORTAL_LOOKUP_FAILURE_MS = env_int("PORTAL_LOOKUP_FAILURE_MS", 400, minimum=0)
# Requestor accounts (portal/accounts.py): sign-in lifetime. Failed sign-ins are slowed, never locked, like staff
# sign-in: past the free failures for an account (an email at one organisation, as typed) or from a client address
# (across accounts and organisations: spraying), each further attempt waits a growing interval, 10 seconds doubling
# up to the longest wait; a browser that signed in to the account before counts on its own.
PORTAL_ACCOUNT_SESSION_HOURS = env_int("PORTAL_ACCOUNT_SESSION_HOURS", 8, minimum=1)
PORTAL_LOGIN_FREE_FAILURES_PER_ACCOUNT = env_int("PORTAL_LOGIN_FREE_FAILURES_PER_ACCOUNT", 5, minimum=1)
PORTAL_LOGIN_FREE_FAILURES_PER_ADDRESS = env_int("PORTAL_LOGIN_FREE_FAILURES_PER_ADDRESS", 20, minimum=1)
PORTAL_LOGIN_MAX_WAIT_SECONDS = env_int("PORTAL_LOGIN_MAX_WAIT_SECONDS", 5 * 60, minimum=10)

# --- Email -------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "OpenROI <no-reply@openroi.invalid>")
# Where django.core.mail.backends.filebased.EmailBackend writes (one file per connection): the fault scenarios
# (ops/faults.py) count what was sent there.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
# A notification claimed by a sender that then died is sent again after this long (roi/notifications.py). Longer
# than the slowest send of a whole batch, or two senders could send one row.
NOTIFICATION_CLAIM_TIMEOUT_SECONDS = env_int("NOTIFICATION_CLAIM_TIMEOUT_SECONDS", 600, minimum=10)

# --- API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "roi.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # A token also needs the scope its operation declares (`token_scopes` on the view); staff sessions, their role.
    "DEFAULT_PERMISSION_CLASSES": ["roi.api_auth.IsTenantMember", "roi.api_auth.HasTokenScope"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "roi.api.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "roi.api.exception_handler",
}
# Publish the API's schema and docs page to anonymous visitors (a public developer portal); off: callers sign in or
# send their token.
API_SCHEMA_PUBLIC = env_bool("API_SCHEMA_PUBLIC", False)
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenROI API",
    "DESCRIPTION": "Release-of-information requests for hospital HIM departments. Every call is scoped to one tenant.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema holds no rows but maps every endpoint: signed-in staff and API tokens only, unless API_SCHEMA_PUBLIC
    # (roi.api_auth.CanReadApiSchema; the views in roi/api_schema.py name it too).
    "SERVE_PERMISSIONS": ["roi.api_auth.CanReadApiSchema"],
    # One schema name per choice set that several fields share (`state` and `expected_state`, `kind` of a requestor
    # and of a document, ...). Without these, drf-spectacular guesses names and warns, and `check --deploy` (CI)
    # refuses warnings.
    "ENUM_NAME_OVERRIDES": {
        "RequestStateEnum": "workflow.choices.RequestState",
        "RequestorKindEnum": "workflow.choices.RequestorKind",
        "DeliveryMethodEnum": "workflow.choices.DeliveryMethod",
        "DenialBasisEnum": "workflow.choices.DenialBasis",
        "SensitiveCategoryEnum": "workflow.choices.SensitiveCategory",
        "DocumentKindEnum": "intake.choices.DocumentKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No PHI in logs (HIPAA 164.312(b), OWASP ASVS 5.0 V16.2.5): request loggers drop query strings, where patient
    # searches and the audit filter carry MRNs and names (roi/security.py). Django's technical error page, which shows
    # the whole request, appears only with DEBUG, and DEBUG is off unless the environment turns it on.
    "filters": {"drop_query_strings": {"()": "roi.security.DropQueryStrings"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # runserver's access lines (`make run`), as Django logs them by default, less their query strings.
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"filters": ["drop_query_strings"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["drop_query_strings"],
        },
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint logs every font and stylesheet it loads at INFO: several lines per PDF.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
