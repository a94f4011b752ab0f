"""Every `# type: ignore` in the app's code and its tests names the error it silences and says why, so a reader (and the next
change) knows what it stands for; mypy (`make lint`) also checks on roi/ and workflow/ that each is still needed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = (
    "roi",
    "workflow",
    "exceptions",
    "intake",
    "fulfillment",
    "portal",
    "reporting",
    "benchmarks",
    "ops",
    "tests",
)
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[a-z-]+(?:,\s*[a-z-]+)*\])?(?P<rest>.*)$")


def test_every_type_ignore_names_its_error_and_its_reason():
    missing = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts or path == Path(__file__).resolve():
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                found = IGNORE.search(line)
                if found and not (found["code"] and re.match(r"\s+#\s*\S", found["rest"])):
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert missing == [], "a # type: ignore without [code] and a '# reason' after it:\n" + "\n".join(missing)
