"""Letters to requestors (intake/letters.py): real PDFs, stored with their digest. The email about each letter is a
requestor notice (tests/intake/test_notices.py)."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from django.db import transaction
from pypdf import PdfReader

from intake.choices import LetterKind
from intake.letters import REQUIRED_DATES, letter_generate, letter_open, status_url
from intake.models import Letter
from roi.errors import ServiceError
from roi.pdf import LocalOnlyURLFetcher, render_pdf
from tests import factories
from workflow.choices import RequestType

# The kinds intake.letters writes; other apps write their own kinds (fulfillment.denials: the denial letter).
INTAKE_KINDS = [LetterKind(kind) for kind in REQUIRED_DATES]

DEFICIENCIES = [
    {
        "code": "AUTH_NO_EXPIRATION",
        "message": "The authorization form has no expiration date or event. Please send a corrected, signed form "
        "that says when it expires.",
        "citation": "45 CFR 164.508(c)(1)(v)",
    },
    {
        "code": "SCOPE_UNCLEAR",
        "message": "Please tell us which records you need: the kinds of records (for example lab results, "
        "discharge summaries) or the dates of service.",
        "citation": "45 CFR 164.508(c)(1)(i), 164.514(d)",
    },
]

SUMMARIES = {
    LetterKind.ACKNOWLEDGMENT: {"legal_due_date": "2030-03-15", "basis": "Individual's right of access"},
    LetterKind.DEFICIENCY: {"deficiencies": DEFICIENCIES, "respond_by": "2030-03-01", "legal_due_date": "2030-03-15"},
    LetterKind.EXTENSION: {
        "reason": "Older imaging reports are kept in off-site storage and take three weeks to retrieve.",
        "original_due_date": "2030-03-15",
        "new_due_date": "2030-04-14",
    },
}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://records.alpha.example.org"


@pytest.fixture
def tenant(tenant_a):
    tenant_a.him_address = "1200 Mission Street, San Francisco, CA 94103"
    tenant_a.him_phone = "(415) 555-0142"
    tenant_a.him_email = "roi@alpha.example.org"
    tenant_a.save()
    return tenant_a


@pytest.fixture
def record_request(tenant):
    return factories.RecordRequestFactory(
        tenant=tenant,
        request_type=RequestType.RIGHT_OF_ACCESS,
        patient__first_name="Marisol",
        patient__last_name="Quintanilla",
        patient__mrn="MRN-884213",
        patient__date_of_birth=date(1968, 4, 12),
        requestor__name="Jonathan Whitfield",
        requestor__email="jwhitfield@example.com",
    )


def generate(tenant, actor, record_request, kind: str) -> Letter:
    with transaction.atomic():
        return letter_generate(
            tenant=tenant, actor=actor, record_request=record_request, kind=kind, summary=SUMMARIES[kind]
        )


def pdf_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return len(reader.pages), " ".join(text.split())


@pytest.mark.parametrize("kind", INTAKE_KINDS)
def test_it_generates_a_real_pdf_stored_with_its_digest(kind, tenant, alice, record_request):
    letter = generate(tenant, alice, record_request, kind)

    letter.refresh_from_db()
    content = letter_open(letter)
    assert content.startswith(b"%PDF")
    assert letter.sha256 == hashlib.sha256(content).hexdigest()
    assert letter.file.name.startswith(f"tenant-{tenant.pk}/letters/")
    assert letter.file.name.endswith(".pdf")
    assert letter.generated_by == alice
    assert letter.generated_at is not None
    assert letter.emailed_at is None
    pages, text = pdf_text(content)
    assert pages >= 1
    assert record_request.tracking_number in text
    assert "Marisol Quintanilla" in text
    assert tenant.name in text
    assert "(415) 555-0142" in text
    assert "https://records.alpha.example.org/status/" in text


def test_the_deficiency_letter_lists_every_requestor_message_with_its_citation(tenant, alice, record_request):
    letter = generate(tenant, alice, record_request, LetterKind.DEFICIENCY)

    _, text = pdf_text(letter_open(letter))
    for item in DEFICIENCIES:
        assert " ".join(item["message"].split()) in text.replace("- ", "-")
        assert item["citation"] in text
    assert "March 1, 2030" in text  # respond by
    assert "March 15, 2030" in text  # legal due date, which waiting does not change
    assert letter.summary["deficiencies"][0]["code"] == "AUTH_NO_EXPIRATION"


def test_the_deficiency_letter_names_what_each_item_is_about_and_explains_the_titles_it_cites(
    tenant, alice, record_request
):
    part2 = {
        "code": "PART2_NO_CONSENT_OR_ORDER",
        "subject": "Part 2 consent or court order",
        "message": "A subpoena alone cannot release substance use disorder treatment records.",
        "citation": "42 CFR 2.31, 2.61, 2.64",
    }
    summary = {**SUMMARIES[LetterKind.DEFICIENCY], "deficiencies": [*DEFICIENCIES, part2]}
    with transaction.atomic():
        letter = letter_generate(
            tenant=tenant, actor=alice, record_request=record_request, kind=LetterKind.DEFICIENCY, summary=summary
        )
    _, text = pdf_text(letter_open(letter))
    assert "Part 2 consent or court order: A subpoena alone cannot release" in text
    assert "Part 164 of Title 45 (45 CFR) is the HIPAA Privacy Rule" in text
    assert "Part 2 of Title 42 (42 CFR) protects records of substance use disorder treatment" in text
    # A letter citing only HIPAA does not mention Title 42.
    _, hipaa_only = pdf_text(letter_open(generate(tenant, alice, record_request, LetterKind.DEFICIENCY)))
    assert "Title 42" not in hipaa_only


def test_the_extension_notice_gives_the_new_date_the_reason_and_the_rule(tenant, alice, record_request):
    letter = generate(tenant, alice, record_request, LetterKind.EXTENSION)

    _, text = pdf_text(letter_open(letter))
    assert "April 14, 2030" in text
    assert "off-site storage" in text
    assert "164.524(b)(2)(ii)" in text
    assert "only once" in text


def test_an_accounting_extension_cites_164_528(tenant, alice):
    rr = factories.RecordRequestFactory(tenant=tenant, request_type=RequestType.ACCOUNTING)
    letter = generate(tenant, alice, rr, LetterKind.EXTENSION)

    _, text = pdf_text(letter_open(letter))
    assert "164.528(c)(1)(ii)" in text
    assert "164.528(c)(2)" not in text  # that is the fee rule, not the extension
    assert "164.524" not in text


def test_the_acknowledgment_gives_the_receipt_date_channel_and_due_date(tenant, alice, record_request):
    letter = generate(tenant, alice, record_request, LetterKind.ACKNOWLEDGMENT)

    _, text = pdf_text(letter_open(letter))
    received = record_request.received_at.astimezone(tenant.tzinfo).date()
    assert f"{received:%B} {received.day}, {received.year} by fax" in text
    assert "no later than March 15, 2030" in text


def test_it_refuses_a_summary_without_the_dates_the_letter_needs(tenant, alice, record_request):
    with pytest.raises(ServiceError, match="new_due_date"):
        letter_generate(
            tenant=tenant,
            actor=alice,
            record_request=record_request,
            kind=LetterKind.EXTENSION,
            summary={"reason": "Off-site storage", "original_due_date": "2030-03-15"},
        )
    assert not Letter.objects.exists()


def test_it_refuses_a_request_of_another_tenant(tenant_b, alice, record_request):
    with pytest.raises(ServiceError):
        letter_generate(
            tenant=tenant_b,
            actor=alice,
            record_request=record_request,
            kind=LetterKind.ACKNOWLEDGMENT,
            summary=SUMMARIES[LetterKind.ACKNOWLEDGMENT],
        )
    assert not Letter.objects.exists()


def test_a_rolled_back_transaction_leaves_no_letter(tenant, alice, record_request, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        letter_generate(
            tenant=tenant,
            actor=alice,
            record_request=record_request,
            kind=LetterKind.ACKNOWLEDGMENT,
            summary=SUMMARIES[LetterKind.ACKNOWLEDGMENT],
        )
        raise RuntimeError("the caller's next step failed")

    assert not Letter.objects.exists()
    assert callbacks == []


def test_letter_open_refuses_a_file_that_changed_since_it_was_generated(tenant, alice, record_request):
    letter = generate(tenant, alice, record_request, LetterKind.ACKNOWLEDGMENT)
    with open(letter.file.path, "ab") as handle:
        handle.write(b"tampered")

    with pytest.raises(ServiceError):
        letter_open(letter)


def test_status_url_is_the_portal_status_page(record_request):
    assert status_url(record_request) == "https://records.alpha.example.org/status/"


# --- roi/pdf.py ---------------------------------------------------------------------------------------------


def test_the_pdf_fetcher_refuses_remote_urls_and_files_outside_static():
    fetcher = LocalOnlyURLFetcher()
    for url in ("http://example.com/logo.png", "https://example.com/x.css", "ftp://example.com/x"):
        with pytest.raises(ValueError, match="local files only"):
            fetcher.fetch(url)
    with pytest.raises(ValueError, match="static files only"):
        fetcher.fetch("file:///etc/passwd")


def test_the_pdf_fetcher_serves_our_static_stylesheet(settings):
    response = LocalOnlyURLFetcher().fetch((settings.BASE_DIR / "static" / "css" / "letter.css").as_uri())
    try:
        assert b"@page" in response.read()
    finally:
        response.close()


def test_render_pdf_applies_the_letter_stylesheet(tenant, record_request):
    """US Letter comes from letter.css (@page size), so this fails if the relative stylesheet did not resolve."""
    from intake.letters import _clean_summary, _letter_context

    _, shown = _clean_summary(LetterKind.ACKNOWLEDGMENT, SUMMARIES[LetterKind.ACKNOWLEDGMENT])
    context = _letter_context(tenant=tenant, record_request=record_request, kind="acknowledgment", shown=shown)
    reader = PdfReader(io.BytesIO(render_pdf("intake/letters/acknowledgment.html", context)))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # 8.5 x 11 in, in points
