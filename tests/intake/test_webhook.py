"""The signed inbound-email webhook: POST /requests/inbound/email/<tenant_slug>/ with the raw message."""

from __future__ import annotations

import time

import pytest

from intake.models import FailedIntake
from intake.views.channels import webhook_signature
from tests.intake import messages
from workflow.choices import Channel, RequestState
from workflow.models import RecordRequest

SECRET = "alpha-webhook-secret-0123456789"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.INBOUND_EMAIL_WEBHOOK_SECRETS = {"alpha": SECRET, "ghost": "secret-of-a-tenant-that-does-not-exist"}


def _post(client, raw: bytes, *, slug: str = "alpha", secret: str = SECRET, timestamp: int | None = None, **headers):
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signed = {
        "HTTP_X_OPENROI_TIMESTAMP": stamp,
        "HTTP_X_OPENROI_SIGNATURE": webhook_signature(secret, stamp, raw),
    }
    signed.update(headers)
    return client.post(f"/requests/inbound/email/{slug}/", data=raw, content_type="message/rfc822", **signed)


def test_a_signed_message_is_taken_in_as_a_request(client, tenant_a):
    response = _post(client, messages.fax_message())

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "created"
    rr = RecordRequest.objects.get(tracking_number=body["tracking_number"])
    assert (rr.tenant, rr.state, rr.channel, rr.needs_intake_completion) == (
        tenant_a,
        RequestState.RECEIVED,
        Channel.FAX,
        True,
    )


def test_the_same_message_twice_is_a_duplicate_with_the_same_tracking_number(client, tenant_a):
    raw = messages.build(attachments=[(messages.pdf_bytes(1), "application", "pdf", "auth.pdf")])
    first = _post(client, raw).json()
    second = _post(client, raw)

    assert second.status_code == 202
    assert second.json() == {"status": "duplicate", "tracking_number": first["tracking_number"]}
    assert RecordRequest.objects.count() == 1


def test_an_unusable_message_is_kept_and_acknowledged_as_failed(client, tenant_a):
    response = _post(client, b"\x00\x01\x02 not an email")
    assert response.status_code == 202
    assert response.json() == {"status": "failed", "tracking_number": None}
    assert FailedIntake.objects.get().tenant == tenant_a


def test_a_bad_signature_is_refused(client, tenant_a):
    response = _post(client, messages.fax_message(), secret="wrong-secret")
    assert response.status_code == 403
    assert RecordRequest.objects.count() == 0


def test_a_signature_of_another_body_is_refused(client, tenant_a):
    raw = messages.fax_message()
    stamp = str(int(time.time()))
    response = client.post(
        "/requests/inbound/email/alpha/",
        data=raw + b"\r\nX-Tampered: yes",
        content_type="message/rfc822",
        HTTP_X_OPENROI_TIMESTAMP=stamp,
        HTTP_X_OPENROI_SIGNATURE=webhook_signature(SECRET, stamp, raw),
    )
    assert response.status_code == 403


def test_unknown_tenant_and_tenant_without_secret_get_the_same_answer_as_a_bad_signature(client, tenant_a, tenant_b):
    raw = messages.fax_message()
    bad_signature = _post(client, raw, secret="wrong-secret")
    unknown = _post(client, raw, slug="ghost", secret="secret-of-a-tenant-that-does-not-exist")
    no_secret = _post(client, raw, slug="beta", secret="anything")

    for response in (unknown, no_secret):
        assert response.status_code == 403
        assert response.content == bad_signature.content
        assert response["Content-Type"] == bad_signature["Content-Type"]
    assert RecordRequest.objects.count() == 0


def test_a_stale_timestamp_is_refused_even_with_a_valid_signature(client, tenant_a):
    stale = int(time.time()) - 6 * 60
    response = _post(client, messages.fax_message(), timestamp=stale)
    assert response.status_code == 403
    future = int(time.time()) + 6 * 60
    assert _post(client, messages.fax_message(), timestamp=future).status_code == 403
    assert RecordRequest.objects.count() == 0


def test_missing_signing_headers_answer_400(client, tenant_a):
    raw = messages.fax_message()
    response = client.post("/requests/inbound/email/alpha/", data=raw, content_type="message/rfc822")
    assert response.status_code == 400
    assert "X-OpenROI-Signature" in response.json()["detail"]
    only_stamp = client.post(
        "/requests/inbound/email/alpha/",
        data=raw,
        content_type="message/rfc822",
        HTTP_X_OPENROI_TIMESTAMP=str(int(time.time())),
    )
    assert only_stamp.status_code == 400


def test_a_message_over_the_size_limit_answers_413(client, tenant_a, settings):
    settings.INTAKE_MAX_UPLOAD_BYTES = 10_000  # the message limit is one and a half times the document limit
    raw = messages.build(body="x" * 20_000)
    response = _post(client, raw)
    assert response.status_code == 413
    assert RecordRequest.objects.count() == 0
    assert FailedIntake.objects.count() == 0


def test_a_message_larger_than_django_form_limit_is_accepted(client, tenant_a, settings):
    """DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is for form posts; a fax of a few MB must still get through."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = _post(client, messages.fax_message(pages=3))
    assert response.status_code == 202
    assert response.json()["status"] == "created"


def test_only_post_is_allowed(client, tenant_a):
    assert client.get("/requests/inbound/email/alpha/").status_code == 405
