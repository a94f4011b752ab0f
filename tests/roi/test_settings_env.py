"""Bad configuration stops the process at start-up with a message that names the variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from roi import env


def test_a_missing_required_variable_is_named(monkeypatch):
    monkeypatch.delenv("ROI_TEST_VALUE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="ROI_TEST_VALUE is required"):
        env.env_str("ROI_TEST_VALUE")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("ON", True), ("0", False), ("no", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("ROI_TEST_BOOL", raw)
    assert env.env_bool("ROI_TEST_BOOL") is expected


def test_a_bad_boolean_says_what_to_use(monkeypatch):
    monkeypatch.setenv("ROI_TEST_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="not a boolean; use true or false"):
        env.env_bool("ROI_TEST_BOOL", False)


def test_integers_are_checked(monkeypatch):
    monkeypatch.setenv("ROI_TEST_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env.env_int("ROI_TEST_INT", 1)
    monkeypatch.setenv("ROI_TEST_INT", "-5")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.env_int("ROI_TEST_INT", 1, minimum=0)


def test_urls_must_use_an_allowed_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL_TEST", "mysql://localhost/db")
    with pytest.raises(ImproperlyConfigured, match="postgres://"):
        env.env_url("DATABASE_URL_TEST", schemes=("postgres", "postgresql"))


def test_lists_split_on_commas(monkeypatch):
    monkeypatch.setenv("ROI_TEST_LIST", " a.example, b.example ,,")
    assert env.env_list("ROI_TEST_LIST") == ["a.example", "b.example"]


def test_settings_refuse_a_short_secret_key():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; settings.DEBUG"],
        env={"DJANGO_SETTINGS_MODULE": "roi.settings", "SECRET_KEY": "short", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 32 characters" in result.stderr


def test_pairs_parse_and_refuse_malformed(monkeypatch):
    monkeypatch.setenv("ROI_TEST_PAIRS", "alpha=s3cret, beta=other")
    assert env.env_pairs("ROI_TEST_PAIRS") == {"alpha": "s3cret", "beta": "other"}
    monkeypatch.setenv("ROI_TEST_PAIRS", "alpha")
    with pytest.raises(ImproperlyConfigured, match="key=value pairs"):
        env.env_pairs("ROI_TEST_PAIRS")
