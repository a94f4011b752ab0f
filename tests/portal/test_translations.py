"""The Spanish catalogue of the requestor portal and requestor emails (locale/es/LC_MESSAGES): every message
translated and none fuzzy, placeholders and markup kept, the committed .mo compiled from the current .po, and the
portal page and a requestor email coming out in Spanish."""

from __future__ import annotations

import gettext
from collections import Counter
from datetime import date

import pytest
from django.urls import reverse

from intake import notices
from intake.choices import NoticeEvent
from tests import factories
from tests.portal.translations import (
    MO_FILE,
    PLACEHOLDER,
    TAG,
    english_left,
    po_entries,
)
from workflow.choices import DeliveryMethod


def _placeholders(text: str) -> Counter[str]:
    return Counter(match.group(0) for match in PLACEHOLDER.finditer(text))


def test_the_catalogue_is_spanish_with_two_plural_forms():
    header, entries = po_entries()
    assert "fuzzy" not in header.flags
    assert "Language: es\n" in header.msgstr
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header.msgstr
    assert len(entries) > 300


def test_every_message_is_translated_and_none_is_fuzzy():
    _, entries = po_entries()
    untranslated = [entry.msgid for entry in entries if not all(text.strip() for text in entry.translations)]
    fuzzy = [entry.msgid for entry in entries if "fuzzy" in entry.flags]
    wrong_plurals = [entry.msgid for entry in entries if entry.msgid_plural and sorted(entry.msgstr_plural) != [0, 1]]
    assert untranslated == [], "untranslated:\n" + "\n".join(untranslated)
    assert fuzzy == [], "fuzzy:\n" + "\n".join(fuzzy)
    assert wrong_plurals == [], "not two plural forms:\n" + "\n".join(wrong_plurals)


def test_placeholders_and_markup_are_kept():
    _, entries = po_entries()
    problems = []
    for entry in entries:
        sources = [entry.msgid, entry.msgid_plural] if entry.msgid_plural else [entry.msgid]
        for index, translation in enumerate(entry.translations):
            source = sources[min(index, len(sources) - 1)]
            if "python-format" in entry.flags and _placeholders(source) != _placeholders(translation):
                problems.append(f"placeholders: {entry.msgid!r} -> {translation!r}")
            if sorted(TAG.findall(source)) != sorted(TAG.findall(translation)):
                problems.append(f"markup: {entry.msgid!r} -> {translation!r}")
            if source.endswith("\n") != translation.endswith("\n"):
                problems.append(f"final newline: {entry.msgid!r}")
    assert problems == [], "\n".join(problems)


def test_the_committed_mo_is_compiled_from_the_current_po():
    _, entries = po_entries()
    with MO_FILE.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    assert compiled.info().get("plural-forms") == "nplurals=2; plural=(n != 1);"
    stale = []
    for entry in entries:
        if entry.msgid_plural:
            for n, expected in ((1, entry.msgstr_plural[0]), (2, entry.msgstr_plural[1])):
                got = (
                    compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                    if entry.msgctxt is not None
                    else compiled.ngettext(entry.msgid, entry.msgid_plural, n)
                )
                if got != expected:
                    stale.append(entry.msgid)
        else:
            got = (
                compiled.pgettext(entry.msgctxt, entry.msgid)
                if entry.msgctxt is not None
                else compiled.gettext(entry.msgid)
            )
            if got != entry.msgstr:
                stale.append(entry.msgid)
    # The same number of messages (and the header): a message dropped from the .po is gone from the .mo too.
    assert len(compiled._catalog) == 1 + sum(2 if entry.msgid_plural else 1 for entry in entries)
    assert stale == [], "out of date in django.mo (run compilemessages -l es):\n" + "\n".join(stale)


@pytest.mark.django_db
def test_the_lookup_page_is_spanish_for_a_spanish_browser(client):
    page = client.get(reverse("portal:lookup"), HTTP_ACCEPT_LANGUAGE="es-US,es;q=0.9").content.decode()
    assert '<html lang="es">' in page
    assert "<h1>Consulte el estado de una solicitud de expedientes</h1>" in page
    assert "Número de seguimiento" in page
    assert "Consultar el estado" in page
    assert "Nunca le pediremos una contraseña" in page
    assert "Check the status of a records request" not in page
    assert "Tracking number" not in page
    assert english_left(page) == []


@pytest.mark.django_db
def test_a_records_ready_email_to_a_spanish_speaking_requestor_is_spanish(settings, tenant_a):
    settings.SITE_URL = "https://records.alpha.example.org"
    tenant_a.him_phone = "(415) 555-0142"
    tenant_a.him_email = "roi@alpha.example.org"
    tenant_a.save()
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com", requestor__language="es")
    notice = notices.requestor_notify(
        tenant=tenant_a,
        record_request=rr,
        event=NoticeEvent.SENT,
        facts={
            "is_download": True,
            "sent_on": date(2026, 3, 2),
            "method_phrase": notices.METHOD_PHRASES[DeliveryMethod.PORTAL_DOWNLOAD],
            "link_expires_on": date(2026, 4, 1),
            "link_uses": 3,
        },
        occurrence="delivery-1",
    )
    assert notice is not None
    assert notice.subject == f"Sus expedientes están listos: solicitud {rr.tracking_number}"
    body = notice.body
    assert body.startswith("Hola:")
    assert "están listos para descargar" in body
    assert '"Descargar sus expedientes"' in body
    assert "La descarga funciona hasta el 1 de abril de 2026, para 3 descargas como máximo." in body
    assert "¿Preguntas? Llame a" in body
    assert f"su número de seguimiento, {rr.tracking_number}." in body
    assert "Hello," not in body
    assert english_left(f"{notice.subject}\n{body}") == []
