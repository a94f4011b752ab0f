"""Fixtures for the browser tests: Playwright (pytest-playwright's `page`) against pytest-django's `live_server`.

The Chromium launch arguments, and the failure that names what to install when it is missing, live in tests/conftest.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import Page, expect

from tests import factories

# Playwright's sync API runs an asyncio event loop in the test thread, so Django's async-safety check would refuse
# every ORM call the test makes (fixtures, factories, services) with SynchronousOnlyOperation. Nothing here is
# actually async: the test thread is the only user of its DB connection, and the live server has its own thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Browser assertions wait at most this long (ms): the live server answers locally, so a longer wait only hides a
# failure for longer.
expect.set_options(timeout=5_000)


@pytest.fixture(scope="session", autouse=True)
def _unhashed_static_urls():
    """pytest-django's live server answers /static/ itself, from the staticfiles finders, before the request
    reaches WhiteNoise; the finders know `css/app.css` but not the hashed names that the manifest storage puts in
    pages. In the browser tests only, pages link the plain names so that the live server finds them."""
    override = override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    override.enable()
    yield
    override.disable()


@pytest.fixture
def login(live_server, page: Page) -> Callable[..., Page]:
    """Sign a user in through the real login form and wait for the queue."""

    def do_login(user) -> Page:
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("User name").fill(user.username)
        page.get_by_label("Password").fill(factories.TEST_PASSWORD)
        code = factories.two_factor_enrolled(user, recovery_codes=1)[0]
        page.get_by_role("button", name="Sign in").click()
        # The second factor, through the real page, with one of the user's recovery codes.
        expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
        page.get_by_label("Code").fill(code)
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(re.compile(r"/requests/$"))
        return page

    return do_login
