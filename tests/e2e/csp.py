"""Content-security-policy violations in a browser test: a script that records each one as the page reports it,
and the list it kept."""

from __future__ import annotations

from playwright.sync_api import Page

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def violations(page: Page) -> list[str]:
    return page.evaluate("() => window.__cspViolations")
