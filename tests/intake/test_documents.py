"""Documents received with a request: what is accepted (real PDF, TIFF, PNG, JPEG files built here), what is refused
and with which message, where files are stored, and the audited, tenant-scoped download."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfWriter

from intake.choices import DocumentKind, DocumentSource
from intake.documents import document_attach, inspect_upload
from intake.models import IntakeDocument
from roi.choices import AccessAction
from roi.downloads import content_disposition
from roi.errors import ServiceError
from roi.models import AccessEvent
from tests import factories

# --- Real files, built in the test --------------------------------------------------------------------------------


def pdf_bytes(pages: int = 3) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_bytes(fmt: str, frames: int = 1) -> bytes:
    images = [Image.new("L", (200, 260), color=255 - 40 * i) for i in range(frames)]
    out = io.BytesIO()
    if frames > 1:
        images[0].save(out, format=fmt, save_all=True, append_images=images[1:])
    else:
        images[0].save(out, format=fmt)
    return out.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    # The browser's content type is deliberately a lie in most tests: it must never be trusted.
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- inspect_upload: accepted ------------------------------------------------------------------------------------


def test_it_accepts_a_three_page_pdf_and_counts_its_pages():
    detected = inspect_upload(upload("request.pdf", pdf_bytes(3)))
    assert detected.content_type == "application/pdf"
    assert detected.extension == ".pdf"
    assert detected.page_count == 3
    assert len(detected.sha256) == 64


def test_it_counts_each_frame_of_a_tiff_as_a_page():
    content = image_bytes("TIFF", frames=2)
    detected = inspect_upload(upload("fax.tif", content, "application/octet-stream"))
    assert (detected.content_type, detected.extension, detected.page_count) == ("image/tiff", ".tif", 2)
    assert detected.size_bytes == len(content)


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"), [("PNG", "image/png", ".png"), ("JPEG", "image/jpeg", ".jpg")]
)
def test_it_accepts_png_and_jpeg_images_as_one_page(fmt, content_type, extension):
    detected = inspect_upload(upload("photo-id.bin", image_bytes(fmt), "text/plain"))
    assert (detected.content_type, detected.extension, detected.page_count) == (content_type, extension, 1)


def test_the_type_comes_from_the_content_not_the_name():
    detected = inspect_upload(upload("scan.pdf", image_bytes("PNG")))
    assert detected.content_type == "image/png"


# --- inspect_upload: refused, with a message that says what to fix -------------------------------------------------


def refusal(uploaded) -> str:
    with pytest.raises(ServiceError) as caught:
        inspect_upload(uploaded)
    return caught.value.message


def test_it_refuses_a_windows_program_renamed_to_pdf():
    content = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200
    assert refusal(upload("report.pdf", content)) == (
        "'report.pdf' is not a PDF, TIFF, PNG or JPEG file (its content looks like a Windows program). "
        "Attach the scanned document itself, saved as PDF, TIFF, PNG or JPEG."
    )


def test_it_refuses_a_web_page_named_pdf():
    content = b"<!DOCTYPE html>\n<html><head><title>Records</title></head><body>hello</body></html>"
    assert refusal(upload("records.pdf", content)) == (
        "'records.pdf' is not a PDF, TIFF, PNG or JPEG file (its content looks like a web page (HTML)). "
        "Attach the scanned document itself, saved as PDF, TIFF, PNG or JPEG."
    )


def test_it_refuses_an_office_document():
    content = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100
    assert "its content looks like a ZIP archive or a Word, Excel or PowerPoint document" in refusal(
        upload("authorization.pdf", content)
    )


def test_it_refuses_an_empty_file():
    assert refusal(upload("scan.pdf", b"")) == (
        "'scan.pdf' is empty (0 bytes). Scan or save it again and attach the new file."
    )


def test_it_refuses_a_file_over_the_limit(settings):
    settings.INTAKE_MAX_UPLOAD_BYTES = 1024 * 1024
    content = b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 200 * 1024)
    assert refusal(upload("scan.pdf", content)) == (
        "'scan.pdf' is 1.2 MB; the limit is 1 MB. Scan it at a lower resolution or in black and white, or split it "
        "into several files."
    )


def test_the_default_limit_is_25_mb_and_reads_like_the_brief(settings):
    if hasattr(settings, "INTAKE_MAX_UPLOAD_BYTES"):
        del settings.INTAKE_MAX_UPLOAD_BYTES
    content = b"%PDF-1.7\n" + b"0" * int(31.2 * 1024 * 1024 - 9)
    assert refusal(upload("scan.pdf", content)).startswith("'scan.pdf' is 31.2 MB; the limit is 25 MB.")


def test_it_refuses_a_corrupt_pdf_that_is_only_a_header():
    assert refusal(upload("scan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")) == (
        "'scan.pdf' looks like a PDF but cannot be opened: it is damaged or incomplete. "
        "Scan or save it again and attach the new file."
    )


def test_it_refuses_a_password_protected_pdf():
    message = refusal(upload("locked.pdf", encrypted_pdf_bytes()))
    assert message.startswith("'locked.pdf' is a password-protected (encrypted) PDF.")
    assert "Ask the sender for an unprotected copy" in message


def test_it_refuses_a_truncated_png():
    assert refusal(upload("id.png", image_bytes("PNG")[:40])) == (
        "'id.png' looks like a PNG image but cannot be opened: it is damaged or incomplete. "
        "Scan or save it again and attach the new file."
    )


# --- document_attach: storage ----------------------------------------------------------------------------------


@pytest.fixture
def record_request(tenant_a):
    return factories.RecordRequestFactory(tenant=tenant_a)


def attach(tenant, actor, record_request, uploaded, kind=DocumentKind.AUTHORIZATION) -> IntakeDocument:
    return document_attach(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        uploaded_file=uploaded,
        kind=kind,
        source=DocumentSource.STAFF_UPLOAD,
        note="Faxed by the law firm",
    )


def test_the_stored_file_has_a_server_name_under_the_tenants_folder(tenant_a, alice, record_request, media_root):
    content = pdf_bytes(3)
    document = attach(tenant_a, alice, record_request, upload("Smith John authorization.pdf", content))

    document.refresh_from_db()
    stored = Path(document.file.path)
    assert stored.is_relative_to(media_root / f"tenant-{tenant_a.pk}" / "documents")
    assert "Smith" not in document.file.name
    assert "authorization" not in document.file.name
    assert stored.suffix == ".pdf"
    assert stored.read_bytes() == content
    assert document.original_name == "Smith John authorization.pdf"
    assert (document.content_type, document.page_count, document.size_bytes) == ("application/pdf", 3, len(content))
    assert document.uploaded_by == alice
    assert document.history.count() == 1


def test_the_stored_extension_is_the_detected_types(tenant_a, alice, record_request):
    document = attach(tenant_a, alice, record_request, upload("fax.pdf", image_bytes("TIFF", frames=2)))
    assert document.file.name.endswith(".tif")
    assert document.page_count == 2


def test_a_path_in_the_uploaded_name_is_dropped(tenant_a, alice, record_request):
    document = attach(tenant_a, alice, record_request, upload("../../etc/passwd.pdf", pdf_bytes(1)))
    assert document.original_name == "passwd.pdf"
    assert ".." not in document.file.name


def test_a_refused_file_is_neither_stored_nor_recorded(tenant_a, alice, record_request, media_root):
    with pytest.raises(ServiceError):
        attach(tenant_a, alice, record_request, upload("report.pdf", b"MZ" + b"\x00" * 100))
    assert IntakeDocument.objects.count() == 0
    assert not any(p.is_file() for p in Path(media_root).rglob("*"))


def test_it_refuses_a_request_of_another_tenant(tenant_b, charlie, record_request):
    with pytest.raises(ServiceError, match="Request not found"):
        attach(tenant_b, charlie, record_request, upload("scan.pdf", pdf_bytes(1)))


# --- Download ------------------------------------------------------------------------------------------------------


@pytest.fixture
def document(tenant_a, alice, record_request):
    return attach(tenant_a, alice, record_request, upload("authorization.pdf", pdf_bytes(3)))


def download_url(document: IntakeDocument) -> str:
    return reverse("intake:document-download", args=[document.request.tracking_number, document.pk])


def test_download_returns_the_file_as_an_attachment_and_records_the_access(client_for, alice, document):
    response = client_for(alice).get(download_url(document))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == Path(document.file.path).read_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="authorization.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    event = AccessEvent.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT)
    assert (event.tenant_id, event.actor, event.request_id, event.patient_id) == (
        document.tenant_id,
        alice,
        document.request_id,
        document.request.patient_id,
    )
    assert (event.object_type, event.object_id) == ("intake.IntakeDocument", str(document.pk))


def test_every_download_is_recorded(client_for, sam, document):
    client = client_for(sam)
    client.get(download_url(document))
    client.get(download_url(document))
    assert AccessEvent.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT, actor=sam).count() == 2


def test_another_tenants_document_answers_404_and_records_nothing(client_for, charlie, document):
    response = client_for(charlie).get(download_url(document))
    assert response.status_code == 404
    assert not AccessEvent.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT).exists()


def test_a_document_under_another_requests_number_answers_404(client_for, alice, tenant_a, document):
    other = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).get(reverse("intake:document-download", args=[other.tracking_number, document.pk]))
    assert response.status_code == 404


def test_anonymous_download_goes_to_the_login_page(client, document):
    response = client.get(download_url(document))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not AccessEvent.objects.exists()


def test_a_file_changed_on_disk_is_not_handed_out(client_for, alice, document):
    Path(document.file.path).write_bytes(pdf_bytes(1))
    response = client_for(alice).get(download_url(document))
    assert response.status_code == 302
    assert not AccessEvent.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT).exists()


def test_download_name_takes_the_extension_of_the_content(client_for, alice, tenant_a, record_request):
    document = attach(tenant_a, alice, record_request, upload("fax", image_bytes("TIFF", frames=2)))
    response = client_for(alice).get(download_url(document))
    assert response["Content-Disposition"] == 'attachment; filename="fax.tif"'
    assert response["Content-Type"] == "image/tiff"


def test_a_non_ascii_name_gets_an_ascii_fallback_and_rfc_6266_filename_star():
    assert content_disposition("Autorización José.pdf") == (
        "attachment; filename=\"Autorizacion Jose.pdf\"; filename*=UTF-8''Autorizaci%C3%B3n%20Jos%C3%A9.pdf"
    )
    assert content_disposition('evil"; name=x.pdf') == 'attachment; filename="evil_ name_x.pdf"; ' + (
        "filename*=UTF-8''evil%22%3B%20name%3Dx.pdf"
    )


# --- Adding a document to a request from its page -----------------------------------------------------------------


def test_staff_add_a_document_to_a_request(client_for, alice, tenant_a, record_request):
    url = reverse("intake:document-upload", args=[record_request.tracking_number])
    response = client_for(alice).post(
        url, {"kind": DocumentKind.IDENTITY, "note": "Driver licence", "file": upload("id.jpg", image_bytes("JPEG"))}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:detail", args=[record_request.tracking_number])
    document = IntakeDocument.objects.get(request=record_request)
    assert (document.kind, document.source, document.note) == (DocumentKind.IDENTITY, "staff_upload", "Driver licence")
    record_request.refresh_from_db()
    assert record_request.last_activity_at == document.uploaded_at


def test_a_refused_upload_on_the_request_page_is_a_message_and_saves_nothing(client_for, alice, record_request):
    url = reverse("intake:document-upload", args=[record_request.tracking_number])
    response = client_for(alice).post(
        url,
        {"kind": DocumentKind.AUTHORIZATION, "file": upload("auth.pdf", b"<html><body>x</body></html>")},
        follow=False,
    )
    assert response.status_code == 302
    assert not IntakeDocument.objects.exists()
    from django.contrib.messages import get_messages

    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == [
        "Document not added. File: 'auth.pdf' is not a PDF, TIFF, PNG or JPEG file (its content looks like a web "
        "page (HTML)). Attach the scanned document itself, saved as PDF, TIFF, PNG or JPEG."
    ]


def test_another_tenant_cannot_add_a_document(client_for, charlie, record_request):
    url = reverse("intake:document-upload", args=[record_request.tracking_number])
    response = client_for(charlie).post(url, {"kind": DocumentKind.OTHER, "file": upload("x.pdf", pdf_bytes(1))})
    assert response.status_code == 404
    assert not IntakeDocument.objects.exists()


def test_the_upload_form_fragment_renders_for_htmx(client_for, alice, record_request):
    url = reverse("intake:document-upload", args=[record_request.tracking_number])
    response = client_for(alice).get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "<html" not in html
    page = client_for(alice).get(url)
    assert "<html" in page.content.decode()


@pytest.fixture
def full_disk(monkeypatch):
    """The storage writes the first bytes of a file, then the disk is full (ENOSPC), as on a full MEDIA_ROOT: the
    partial file stays on disk, as Django's FileSystemStorage leaves it."""
    import errno

    from django.core.files.storage import FileSystemStorage

    def save_until_full(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.read(100))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", save_until_full)


def test_a_full_media_folder_is_a_clear_error_and_leaves_nothing_half_saved(
    tenant_a, alice, record_request, media_root, full_disk
):
    from intake.documents import DocumentNotStored, document_add

    activity_before = record_request.last_activity_at

    with pytest.raises(DocumentNotStored) as refused:
        document_add(
            tenant=tenant_a,
            actor=alice,
            record_request=record_request,
            uploaded_file=upload("scan.pdf", pdf_bytes(2)),
            kind=DocumentKind.AUTHORIZATION,
        )

    assert "storage is full or unavailable" in refused.value.message
    assert refused.value.status_code == 503
    assert not IntakeDocument.objects.for_tenant(tenant_a).filter(request=record_request).exists()
    assert [p for p in Path(media_root).rglob("*") if p.is_file()] == []
    record_request.refresh_from_db()
    assert record_request.last_activity_at == activity_before
