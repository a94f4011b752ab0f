"""Shared fixtures. Personas: two tenants; in tenant A, Alice (specialist) and Sam (supervisor); in
tenant B, Charlie (specialist), who must never see anything of tenant A and vice versa."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from exceptions.services import exception_open
from roi.choices import SUPERVISING_ROLES, ApiScope, Role
from roi.models import ApiToken, IntegrationClient, Membership
from roi.staticfiles import collect_static_if_stale
from tests import factories
from tests.scoping import CREDENTIALS
from workflow import transitions
from workflow.choices import RequestState
from workflow.models import RecordRequest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]


# --- The database roles (row-level security, roi/rls.py) -----------------------------------------------------
# The test database is created and migrated by the owner role, then every test connects as the app role, the way
# production runs: PostgreSQL's tenant policies are in force for everything the tests do through the app.


def _credentials() -> dict[str, tuple[str, str]]:
    """{"owner": (user, password), "app": (user, password)}, from the settings the run started with."""
    import dj_database_url
    from django.conf import settings

    from roi.devstack import app_database_url

    configured = settings.DATABASES["default"]
    if settings.DATABASE_OWNER_URL:  # make test: both roles given (roi/devstack.py)
        owner = dj_database_url.parse(settings.DATABASE_OWNER_URL)
        return {
            "owner": (owner["USER"], owner["PASSWORD"]),
            "app": (configured["USER"], configured["PASSWORD"]),
        }
    # Only one URL (a developer's own server): it is the owner's, and the app role beside it has the password
    # `make run` and `make test` give it too (var/db_app_password), so that the runs do not keep changing it.
    app = dj_database_url.parse(app_database_url(settings.DATABASE_URL))
    return {"owner": (configured["USER"], configured["PASSWORD"]), "app": (settings.DATABASE_APP_ROLE, app["PASSWORD"])}


def _log_in_as(which: str) -> None:
    from django.db import connections

    connection = connections["default"]
    connection.close()
    user, password = CREDENTIALS[which]
    connection.settings_dict.update({"USER": user, "PASSWORD": password})


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """Before the test database is created: log in as the owner, and make sure the app role exists."""
    from django.db import DatabaseError, connections

    from roi import rls
    from roi.management.commands.migrate import app_role_ensure

    CREDENTIALS.update(_credentials())
    _log_in_as("owner")
    # Creating, migrating and flushing the test database is the platform role's work (a scope that is not a bypass
    # would run as the app role, which may create nothing). Each test then starts in its own scope.
    rls.activate(rls.Scope(bypass="test database set-up"))
    user, password = CREDENTIALS["app"]
    if user != CREDENTIALS["owner"][0]:
        with django_db_blocker.unblock():
            # DatabaseError: another xdist worker created or changed it at the same moment.
            with contextlib.suppress(DatabaseError):
                app_role_ensure(connections["default"], user, password)
            connections["default"].close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After the owner created and migrated the test database, the tests stay logged in as the owner, the platform
    role, as a benchmark or a fault drill is: what the app does runs as the app role all the same, because the
    backend sends every scope but a bypass with `SET ROLE` to it (roi/rls.py), so the app's code meets the app
    role's privileges, policies and triggers. Tests of the wall from outside connect as the app role themselves
    (tests/security/test_app_role_sql.py). The owner drops the database at the end."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    from roi import records, rls

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        """Transactional tests empty every table between tests, records of fact included: the one TRUNCATE their
        trigger lets through, as the platform role (roi/records.py)."""
        with rls.scope(rls.Scope(bypass="test suite flush")):
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'test suite', false)", [records.SETTING_ERASE])
            try:
                return original(self, sql_list)
            finally:
                with self.connection.cursor() as cursor:
                    cursor.execute("SELECT set_config(%s, '', false)", [records.SETTING_ERASE])

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original
    _log_in_as("owner")


@pytest.fixture(scope="session")
def _anchor_root(tmp_path_factory):
    return tmp_path_factory.mktemp("audit-anchors")


@pytest.fixture(autouse=True)
def _audit_anchors_of_this_test(_anchor_root):
    """Each test writes and reads the audit chain's anchors (roi/anchors.py) in a folder of its own, never var/'s."""
    from django.conf import settings

    saved = settings.AUDIT_ANCHOR_DIR
    settings.AUDIT_ANCHOR_DIR = _anchor_root / uuid.uuid4().hex
    yield
    settings.AUDIT_ANCHOR_DIR = saved


@pytest.fixture(autouse=True)
def _test_code_sees_every_tenant():
    """What a test does directly (factories building two tenants' rows, asserts reading them back) runs with the
    tenant wall lifted, as a platform job would. Everything the app does stays in its own scope, as in production:
    each request through the test client or the live server (roi.tenancy.TenantMiddleware sets it), each task in a
    worker. Tests of the wall itself (tests/roi/test_row_level_security.py) leave this scope explicitly."""
    from roi import rls

    token = rls.activate(rls.Scope(bypass="test code"))
    yield
    rls.deactivate(token)


@pytest.fixture(autouse=True)
def _deadline_rules_after_flush(request):
    """Transactional tests (threads, live server) empty every table between tests, the rows that migrations seed
    included; the deadline and fee rule tables are reference data the app always has, so put them back for them."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from intake.models import JurisdictionRule

    importlib.import_module("intake.migrations.0002_seed_jurisdiction_rules").seed_rules(JurisdictionRule)

    from fulfillment.models import FeeRule

    # Only after a flush: on the migrated table, 0002's lookup (jurisdiction, citation, purpose) meets two rows where
    # 0005 gave a state's third-party schedule its twin for directives.
    if not FeeRule.objects.exists():
        importlib.import_module("fulfillment.migrations.0002_seed_fee_rules").seed_rules(FeeRule)
        importlib.import_module("fulfillment.migrations.0005_fee_methods").amend_rules(FeeRule)


@pytest.fixture(scope="session", autouse=True)
def _plain_http():
    """Production redirects plain http to https (SECURE_SSL_REDIRECT defaults to on without DEBUG); the test client
    and the live server speak plain http. Session-scoped and autouse, so it is in force before the live server
    builds its middleware; tests about the redirect turn it back on themselves."""
    override = override_settings(SECURE_SSL_REDIRECT=False)
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _second_factor_with_force_login(monkeypatch):
    """`Client.force_login` skips the password; here it skips the second factor too (roi/two_factor.py marks a
    session that proved it). Tests of two-factor sign-in itself, and the browser tests' `login`, go through the
    real pages."""
    from roi.two_factor import VERIFIED_KEY

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        session = self.session
        session[VERIFIED_KEY] = "force_login"
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_cache_and_fast_portal_failures(request, settings):
    """Each test gets its own cache key prefix, so the portal's failure counters (per client address: every test
    client is 127.0.0.1) never carry from one test, or one xdist worker, to another; except tests with a real Celery
    worker, which shares the cache with the test under the configured prefix. Failed portal lookups are padded to
    PORTAL_LOOKUP_FAILURE_MS; tests about that padding set it themselves."""
    settings.PORTAL_LOOKUP_FAILURE_MS = 0
    if request.node.get_closest_marker("worker"):
        return
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    }


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded and generated files of the test go to its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def tenant_a(db):
    return factories.TenantFactory(
        name="Alpha General Hospital", slug="alpha", timezone="America/Los_Angeles", jurisdiction="CA"
    )


@pytest.fixture
def tenant_b(db):
    return factories.TenantFactory(
        name="Beta Health System", slug="beta", timezone="America/New_York", jurisdiction="NY"
    )


@pytest.fixture
def alice(tenant_a):
    """Specialist in tenant A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="alice", role=Role.SPECIALIST).user


@pytest.fixture
def sam(tenant_a):
    """Supervisor in tenant A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="sam", role=Role.SUPERVISOR).user


@pytest.fixture
def charlie(tenant_b):
    """Specialist in tenant B: must see nothing of tenant A."""
    return factories.MembershipFactory(tenant=tenant_b, user__username="charlie", role=Role.SPECIALIST).user


@pytest.fixture
def client_for() -> Callable[..., Client]:
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_token_for():
    """A token of an integration client of `tenant` that works with `user`'s permissions there (a specialist's, or a
    supervisor's for supervisors and admins; a specialist's without a membership), with every scope unless
    `scopes` says otherwise. Returns (token, key), the key being the secret shown once. Its calls act as the
    client's service account, not as `user`."""

    def make(user, tenant, scopes: tuple[str, ...] = tuple(ApiScope.values)) -> tuple[ApiToken, str]:
        role = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
        name = f"{user.username} interface"
        client = IntegrationClient.objects.filter(tenant=tenant, name=name).first() or (
            factories.IntegrationClientFactory(
                tenant=tenant, name=name, role=Role.SUPERVISOR if role in SUPERVISING_ROLES else Role.SPECIALIST
            )
        )
        key = ApiToken.generate_key()
        token = factories.ApiTokenFactory(
            client=client, prefix=key[:8], key_digest=ApiToken.digest(key), scopes=list(scopes)
        )
        return token, key

    return make


# The transitions (and the actor role they need) that take a fresh request to each state.
PATHS: dict[str, list[str]] = {
    RequestState.RECEIVED: [],
    RequestState.VALIDATED: ["validate"],
    RequestState.IN_FULFILLMENT: ["validate", "start_fulfillment"],
    RequestState.EXCEPTION: ["open_exception"],
    RequestState.DELIVERED: ["validate", "start_fulfillment", "qc", "deliver"],
    RequestState.CLOSED: ["validate", "start_fulfillment", "qc", "deliver", "close"],
    RequestState.DENIED: ["deny"],
    RequestState.CANCELLED: ["cancel"],
}


@pytest.fixture
def request_in_state(tenant_a, sam) -> Callable[..., RecordRequest]:
    """A complete request of tenant A moved to `state` through the real services (by Sam, a supervisor)."""

    def make(state: str, **fields) -> RecordRequest:
        tenant = fields.pop("tenant", tenant_a)
        actor = fields.pop("actor", sam)
        rr = factories.RecordRequestFactory(tenant=tenant, **fields)
        for step in PATHS[state]:
            if step == "qc":
                # The fact fulfillment's QC service records on a pass (tests/fulfillment runs the real review).
                RecordRequest.objects.filter(pk=rr.pk).update(qc_passed_at=timezone.now(), qc_passed_by=actor)
            elif step == "open_exception":
                exception_open(
                    tenant=tenant,
                    actor=actor,
                    record_request=rr,
                    reason="awaiting_department",
                    detail="set up by test",
                    next_step="follow up",
                    next_action_due=date.today() + timedelta(days=7),
                )
            else:
                transitions.request_transition(
                    name=step,
                    tenant=tenant,
                    actor=actor,
                    record_request=rr,
                    reason="set up by test",
                    evidence="Fax confirmation 12345",
                    basis="not_held",
                )
        rr.refresh_from_db()
        assert rr.state == state
        return rr

    return make


def pytest_sessionstart(session):
    """Pages render with the same manifest static storage as production (tests run with DEBUG off). Run by the main
    process only, not by each xdist worker."""
    if not hasattr(session.config, "workerinput"):
        collect_static_if_stale()


# --- Browser tests ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Browser tests drive Debian's Chromium; Playwright never downloads a browser here. Where it is missing each
    browser test fails saying what to install: the browser behaviour is part of the suite, never skipped."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is not installed: apt-get install chromium (.ci/run installs it). To leave the browser tests "
            "out knowingly: make test ARGS=\"-m 'not browser'\"",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


# --- A real Celery worker --------------------------------------------------------------------------------------


@contextmanager
def celery_worker(*, database_name: str | None = None):
    """`celery -A roi worker` on a queue of its own (so no other worker on the same Redis takes its tasks); with
    `database_name`, connected to that database (the test database) instead of the configured one."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = os.environ.copy()
    env.pop("DATABASE_OWNER_URL", None)  # the worker is the app: the app role only, as in production
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)  # the test's files (the `media` fixture, when it ran first)
    if database_name:
        from urllib.parse import quote

        from django.db import connection

        db = connection.settings_dict
        user, password = CREDENTIALS["app"]  # the app role's credentials, as production's worker has
        userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        env["DATABASE_URL"] = f"postgres://{userinfo}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database_name}"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "roi", "worker", "-Q", queue, "--pool", "solo",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode not in (0, -15):
            print(output.decode(errors="replace"))


@pytest.fixture
def worker_queue():
    """A worker process for tasks that need no database."""
    with celery_worker() as queue:
        yield queue


@pytest.fixture
def db_worker_queue(transactional_db):
    """A worker process on the test database: what the test commits, the worker reads, and the other way round."""
    from django.db import connection

    with celery_worker(database_name=connection.settings_dict["NAME"]) as queue:
        yield queue
