"""Accessibility checks with axe-core (vendored from the npm registry: tests/e2e/vendor/axe-core/README.md), injected
into the page under test by Playwright. WCAG 2.0/2.1 A and AA rules; a test fails on any serious or critical
violation and prints what and where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page, impacts: frozenset[str] = frozenset({"serious", "critical"})) -> list[dict[str, Any]]:
    """Run axe on the page as it is now; return the violations of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not as a <script> tag: staff pages' content security policy
        # refuses inline scripts, and the test must not lift the policy it is meant to run under.
        page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_AA,
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, "axe-core found accessibility violations:\n" + describe(violations)
