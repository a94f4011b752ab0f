"""The all-or-nothing media storage (roi/storage.py), and what users see when the storage refuses a write: a clear
503, the request as it was, and no partial file (the media-full drill of docs/operations.md, at the unit level)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import Client

from intake.models import Letter
from roi.storage import MediaStorage
from workflow.models import RecordRequest


class _FullDisk(ContentFile):
    """Content whose first chunk is written, then the disk is full."""

    def chunks(self, chunk_size=None):
        yield b"%PDF-1.7 the first bytes"
        raise OSError(errno.ENOSPC, "No space left on device")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_write_that_fails_half_way_leaves_no_file(tmp_path):
    storage = MediaStorage(location=tmp_path)
    with pytest.raises(OSError, match="No space left"):
        storage.save("tenant-1/letters/acknowledgment.pdf", _FullDisk(b""))
    assert _files(tmp_path) == []


def test_a_complete_write_never_replaces_another_file(tmp_path):
    storage = MediaStorage(location=tmp_path)
    first = storage.save("tenant-1/letters/acknowledgment.pdf", ContentFile(b"first"))
    # Two writers that picked the same free name at once: the second gets another name (the link refuses).
    raced = storage._save(first, ContentFile(b"second"))
    assert first == "tenant-1/letters/acknowledgment.pdf"
    assert raced != first
    assert raced.startswith("tenant-1/letters/acknowledgment")
    assert storage.open(first).read() == b"first"
    assert storage.open(raced).read() == b"second"
    assert _files(tmp_path) == sorted([first, raced])  # no temporary file left beside them


def test_on_a_file_system_without_hard_links_the_complete_file_is_renamed_into_place(tmp_path, monkeypatch):
    storage = MediaStorage(location=tmp_path)
    existing = storage.save("tenant-1/letters/acknowledgment.pdf", ContentFile(b"first"))

    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr("roi.storage.os.link", no_links)
    saved = storage.save("tenant-1/letters/acknowledgment.pdf", ContentFile(b"second"))
    raced = storage._save(existing, ContentFile(b"third"))  # a name taken meanwhile: another one, nothing replaced
    assert storage.open(existing).read() == b"first"
    assert storage.open(saved).read() == b"second"
    assert storage.open(raced).read() == b"third"
    assert _files(tmp_path) == sorted([existing, saved, raced])


@pytest.fixture
def full_disk(settings, tmp_path, monkeypatch):
    """MEDIA_ROOT fills up during a write: Django's own storage writes the first bytes, then ENOSPC."""
    settings.MEDIA_ROOT = tmp_path

    def save_until_full(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.7 the first bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", save_until_full)
    return tmp_path


@pytest.mark.django_db
def test_api_intake_on_a_full_disk_answers_503_and_keeps_nothing(full_disk, alice, tenant_a, api_token_for):
    """The acknowledgment letter cannot be stored: no request, no letter row, no file, and a message that says why."""
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_for(alice, tenant_a)[1]}")
    client.raise_request_exception = False
    before = RecordRequest.objects.count()
    body = {
        "patient": {"mrn": "FULL-1", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
        "requestor": {"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"},
        "request_type": "right_of_access",
        "record_types": ["lab"],
        "delivery_method": "portal_download",
    }
    response = client.post("/api/v1/requests/", json.dumps(body), content_type="application/json")
    assert response.status_code == 503
    assert "document storage is full or unavailable" in response.json()["detail"]
    assert RecordRequest.objects.count() == before
    assert not Letter.objects.exists()
    assert _files(full_disk) == []


@pytest.mark.django_db
def test_a_page_whose_write_the_storage_refuses_says_so(monkeypatch, client_for, alice):
    from roi.tenancy import TenantMiddleware

    def read_only(self, request):
        raise OSError(errno.EROFS, "Read-only file system", "/srv/openroi/media/tenant-1/letters/x.pdf")

    monkeypatch.setattr(TenantMiddleware, "_handle", read_only)
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.get("/requests/")
    assert response.status_code == 503
    assert "The document could not be stored" in response.content.decode()
    assert "Retry-After" not in response  # it needs the operator, not a moment's wait
