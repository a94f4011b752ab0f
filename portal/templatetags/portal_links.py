"""Contact details on portal pages as links a phone can act on: a tap calls the office or opens an email."""

from __future__ import annotations

import re

from django import template

register = template.Library()

_DIGITS = re.compile(r"\d")


@register.filter
def tel_uri(phone: str) -> str:
    """'(312) 555-0100' -> 'tel:+13125550100' (RFC 3966). A North American number gets its +1; another number
    keeps its digits (and its + when it had one); an extension after 'x' or 'ext' is left out of the dialled part."""
    number = re.split(r"(?i)\s*(?:x|ext\.?)\s*\d+\s*$", phone or "")[0]
    digits = "".join(_DIGITS.findall(number))
    if not digits:
        return ""
    if len(digits) == 10:
        return f"tel:+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"tel:+{digits}"
    return f"tel:{'+' if number.strip().startswith('+') else ''}{digits}"
