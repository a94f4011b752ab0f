"""The Spanish catalogue (locale/es/LC_MESSAGES/django.po) read as the tests need it: its entries, and the English
sentences of it left in a page or an email that should be Spanish."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO_FILE = CATALOGUE / "django.po"
MO_FILE = CATALOGUE / "django.mo"

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")
TAG = re.compile(r"<[^>]+>")
# English left in a Spanish page or email: any catalogue message this long is a sentence, not a shared word
# ("Portal", "Fax").
ENGLISH_MIN_LENGTH = 20


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def translations(self) -> list[str]:
        return [self.msgstr_plural[n] for n in sorted(self.msgstr_plural)] if self.msgid_plural else [self.msgstr]


def _unquote(token: str) -> str:
    body = token.strip()
    assert body.startswith('"'), token
    assert body.endswith('"'), token
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], body[1:-1])


def po_entries(path: Path = PO_FILE) -> tuple[Entry, list[Entry]]:
    """(header, entries) of a .po file as makemessages writes it (a blank line between entries); obsolete (#~)
    entries are left out."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int | None] | None = None
    started = False

    def finish() -> None:
        nonlocal current, started, target
        if started:
            entries.append(current)
        current, started, target = Entry(), False, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, raw
            name, index = target
            if index is None:
                setattr(current, name, getattr(current, name) + _unquote(line))
            else:
                current.msgstr_plural[index] += _unquote(line)
        else:
            keyword, _, value = line.partition(" ")
            started = True
            plural = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if plural:
                target = ("msgstr_plural", int(plural.group(1)))
                current.msgstr_plural[target[1]] = _unquote(value)
            else:
                assert keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"), raw
                target = (keyword, None)
                setattr(current, keyword, _unquote(value))
    finish()
    header = next(entry for entry in entries if entry.msgid == "")
    return header, [entry for entry in entries if entry.msgid != ""]


def english_left(text: str) -> list[str]:
    """Catalogue messages (in English) found in `text`: a Spanish page or email should have none."""
    _, entries = po_entries()
    return [
        source
        for entry in entries
        for source in (entry.msgid, entry.msgid_plural)
        if len(source) >= ENGLISH_MIN_LENGTH and source in text
    ]
