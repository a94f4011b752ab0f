"""Strict readers for settings that come from the environment.

Every setting OpenROI reads from the environment goes through one of these helpers, so a bad value stops the
process at start-up with a message that names the variable and says what is expected, instead of failing later
in a request.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, default: object) -> str | object:
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_str(name: str, default: object = _MISSING) -> str:
    value = _raw(name, default)
    if not isinstance(value, str):
        return value  # type: ignore[return-value]  # the caller's type, checked by the parser it chose
    return value.strip()


def env_bool(name: str, default: bool | object = _MISSING) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"Environment variable {name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int | object = _MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ImproperlyConfigured(f"Environment variable {name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"Environment variable {name}={number} must be at least {minimum}.")
    return number


def env_list(name: str, default: list[str] | object = _MISSING) -> list[str]:
    value = _raw(name, default)
    if isinstance(value, list):
        return value
    return [item.strip() for item in str(value).split(",") if item.strip()]


def env_url(name: str, default: object = _MISSING, *, schemes: tuple[str, ...]) -> str:
    value = env_str(name, default)
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"Environment variable {name} must be a URL starting with {allowed}; got {value!r}.")
    return value


def env_pairs(name: str, default: dict[str, str] | object = _MISSING) -> dict[str, str]:
    """`key=value,key2=value2` into a dict; a malformed pair stops start-up with the variable named."""
    value = _raw(name, default)
    if isinstance(value, dict):
        return value
    pairs: dict[str, str] = {}
    for item in str(value).split(","):
        if not item.strip():
            continue
        key, sep, secret = item.partition("=")
        if not sep or not key.strip() or not secret.strip():
            raise ImproperlyConfigured(f"Environment variable {name} must be key=value pairs separated by commas.")
        pairs[key.strip()] = secret.strip()
    return pairs
