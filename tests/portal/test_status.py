"""The status page in the requestor's words for every state, the timeline, what it never shows, and the one change a
requestor can make: uploading what we asked for, which goes back into the staff workflow."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from exceptions.models import ExceptionEpisode
from exceptions.services import exception_open
from fulfillment.denials import denial_create
from intake import services as intake_services
from intake.models import IntakeDocument
from portal import verification
from portal.status import Phase, mask_destination, portal_status
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent, Notification
from tests import factories
from tests.fulfillment.factories import DeliveryFactory
from tests.fulfillment.pdfs import make_pdf
from tests.portal.helpers import deficient_request, download_link
from workflow.choices import DeliveryMethod

pytestmark = pytest.mark.django_db


def _page(record_request) -> str:
    client = Client()
    _grant(client, record_request)
    response = client.get(reverse("portal:status", args=[record_request.tracking_number]))
    assert response.status_code == 200
    return response.content.decode()


def _grant(client: Client, record_request) -> None:
    """A browser verified for the request, as a successful lookup leaves it."""
    from django.http import HttpRequest, HttpResponse

    request = HttpRequest()
    verification.grant(request, record_request.pk)
    response = verification.keep_grants(request, HttpResponse())
    client.cookies[verification.COOKIE_NAME] = response.cookies[verification.COOKIE_NAME].value


@pytest.mark.parametrize(
    ("state", "phase", "text"),
    [
        ("received", Phase.RECEIVED, "Our staff will start reviewing it soon"),
        ("validated", Phase.IN_PROGRESS, "preparing the records"),
        ("in_fulfillment", Phase.IN_PROGRESS, "preparing the records"),
        ("delivered", Phase.SENT, "Sent"),
        ("closed", Phase.SENT, "Sent"),
        ("denied", Phase.DENIED, "Your request was denied"),
        ("cancelled", Phase.CANCELLED, "This request was cancelled"),
    ],
)
def test_each_state_reads_in_plain_language(request_in_state, state, phase, text, media):
    rr = request_in_state(state)
    if state == "denied":  # the fixture denies through the transition; the page reads the Denial record
        from fulfillment.models import Denial

        Denial.objects.create(
            tenant=rr.tenant,
            request=rr,
            basis="not_held",
            scope_denied="All records",
            decided_by=rr.assignee or factories.UserFactory(),
            decided_at=rr.updated_at,
            explanation="",
            records_location="Mercy Clinic",
        )
    current = portal_status(rr)
    assert current.phase == phase
    page = _page(rr)
    assert text in page
    assert rr.patient.last_name not in page
    assert rr.patient.first_name not in page
    assert rr.patient.mrn not in page
    # The birth year as a word: a random year must not be found inside the OCR's ZIP code (20201) or a phone number.
    birth_year = rr.patient.date_of_birth.strftime("%Y")
    assert not re.search(rf"\b{birth_year}\b", page.replace(str(rr.received_at.year), ""))
    assert current.patient_initials in page


def test_an_exception_that_waits_on_us_shows_as_in_progress_without_its_detail(request_in_state):
    rr = request_in_state("exception")  # awaiting_department, opened from received
    assert portal_status(rr).phase == Phase.UNDER_REVIEW
    page = _page(rr)
    assert "set up by test" not in page
    assert "follow up" not in page
    assert "Action needed" not in page.split("Timeline")[0]


def test_action_needed_says_exactly_what_to_send_from_the_deficiency_letter(tenant_a, alice, media):
    rr = deficient_request(tenant_a, alice)
    current = portal_status(rr)
    assert current.phase == Phase.ACTION_NEEDED
    assert current.can_upload
    assert any("expiration date" in ask for ask in current.asks), current.asks
    assert current.respond_by is not None
    page = _page(rr)
    assert "What we need from you" in page
    assert "expiration date" in page
    assert 'action="/status/' in page
    assert 'enctype="multipart/form-data"' in page


def test_a_sensitive_deficiency_is_described_without_naming_the_category(tenant_a, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a, intake_completed_at=None, sensitive_categories=["hiv"])
    factories.complete_review(rr, consents_received=[])
    intake_services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    rr.refresh_from_db()
    page = _page(rr)
    assert "HIV" not in page
    assert "specific written consent" in page


def test_an_extension_shows_delayed_with_reason_and_new_date(db, media):
    tenant = factories.TenantFactory(slug="illinois", jurisdiction="IL", timezone="America/Chicago")
    user = factories.MembershipFactory(tenant=tenant).user
    rr = factories.RecordRequestFactory(tenant=tenant, request_type="right_of_access", requestor__kind="patient")
    extension = intake_services.extension_grant(
        tenant=tenant, actor=user, record_request=rr, reason="Records are stored off-site and are being retrieved."
    )
    current = portal_status(rr)
    assert current.phase == Phase.DELAYED
    assert current.expected_on == extension.new_due_date
    page = _page(rr)
    assert "Records are stored off-site" in page
    assert "New expected date" in page


def test_sent_gives_date_method_and_a_masked_destination(request_in_state, media):
    rr = request_in_state("delivered")
    DeliveryFactory(
        packet__request=rr, method=DeliveryMethod.FAX, destination="(312) 555-0199", fax_confirmation="OK 1"
    )
    page = _page(rr)
    assert "by fax" in page
    assert "fax number ending 0199" in page
    assert "555-0199" not in page


@pytest.mark.parametrize(
    ("method", "destination", "shown"),
    [
        (DeliveryMethod.EMAIL_LINK, "paralegal@hartley.example.com", "p***@h***.com"),
        (DeliveryMethod.FAX, "+1 (312) 555-0199", "fax number ending 0199"),
        (DeliveryMethod.MAIL, "100 Main Street, Springfield IL 62701", "the mailing address with postal code 62701"),
        (DeliveryMethod.PICKUP, "Rosa Diaz", ""),
    ],
)
def test_destinations_are_masked(method, destination, shown):
    assert mask_destination(method, destination) == shown


def test_a_denial_shows_the_reasons_and_the_rights_from_the_letter(tenant_a, sam, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a, request_type="right_of_access", requestor__kind="patient")
    denial_create(
        tenant=tenant_a,
        actor=sam,
        record_request=rr,
        basis="endanger_life",
        scope_denied="The 2024 psychiatric evaluation",
        explanation="Reviewed by Dr. Lee.",
        determined_by=factories.licensed_professional(tenant=tenant_a, username="lee"),
    )
    rr.refresh_from_db()
    page = _page(rr)
    assert "Your request was denied" in page
    assert "endanger the life" in page
    assert "reviewed by a licensed health care professional" in page
    assert "Office for Civil Rights" in page


def test_the_timeline_runs_from_receipt_to_the_expected_date(tenant_a, alice, media):
    rr = deficient_request(tenant_a, alice)
    steps = portal_status(rr).steps
    labels = [str(step.label) for step in steps]
    assert labels[0] == "Received"
    assert labels[-1] == "Sent"
    assert [step.state for step in steps if str(step.label) == "Action needed from you"] == ["attention"]
    assert steps[-1].when == rr.legal_due_date


# --- Upload while action is needed --------------------------------------------------------------------------------


def _upload(client, rr, content=None, kind="authorization", name="authorization.pdf"):
    file = SimpleUploadedFile(name, content if content is not None else make_pdf(1, "Signed authorization"))
    return client.post(reverse("portal:upload", args=[rr.tracking_number]), {"kind": kind, "file": file, "note": ""})


def test_an_upload_joins_the_request_and_puts_the_next_step_back_with_staff(tenant_a, alice, media):
    rr = deficient_request(tenant_a, alice)
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    client = Client()
    _grant(client, rr)
    moment = clock.now()
    with clock.frozen(moment):
        response = _upload(client, rr)
    assert response.status_code == 302
    document = IntakeDocument.objects.get(request=rr, source="portal")
    assert (document.kind, document.page_count, document.uploaded_by) == ("authorization", 1, None)
    episode.refresh_from_db()
    assert episode.next_step.startswith("Review what the requestor uploaded on the portal")
    assert episode.next_action_due == moment.astimezone(tenant_a.tzinfo).date()  # today, where the hospital is
    assert episode.owner == alice
    notice = Notification.objects.get(kind="portal_upload")
    assert (notice.recipient, notice.email_to) == (alice, "")
    assert notice.link == reverse("workflow:detail", args=[rr.tracking_number])
    assert AccessEvent.objects.filter(action=AccessAction.PORTAL_UPLOAD, request_id=rr.pk).count() == 1
    # The requestor sees that we have it.
    page = client.get(response["Location"]).content.decode()
    assert "We received your document" in page
    assert portal_status(rr).phase == Phase.UNDER_REVIEW


def test_a_file_that_is_not_a_document_is_refused_and_changes_nothing(tenant_a, alice, media):
    rr = deficient_request(tenant_a, alice)
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    documents = list(IntakeDocument.objects.filter(request=rr))  # the authorization form on file
    client = Client()
    _grant(client, rr)
    response = _upload(client, rr, content=b"MZ\x90\x00 not a pdf", name="form.pdf")
    assert response.status_code == 400
    assert "The document was not uploaded" in response.content.decode()
    assert list(IntakeDocument.objects.filter(request=rr)) == documents
    assert ExceptionEpisode.objects.get(pk=episode.pk).next_step == episode.next_step
    assert not Notification.objects.filter(kind="portal_upload").exists()


def test_nothing_can_be_uploaded_when_nothing_is_asked(request_in_state, media):
    rr = request_in_state("in_fulfillment")
    client = Client()
    _grant(client, rr)
    response = _upload(client, rr)
    assert response.status_code == 400
    assert "We are not waiting for anything from you" in response.content.decode()
    assert not IntakeDocument.objects.filter(request=rr).exists()


def test_an_upload_needs_a_grant_for_that_request(tenant_a, alice, media):
    rr = deficient_request(tenant_a, alice)
    documents = list(IntakeDocument.objects.filter(request=rr))  # the authorization form on file
    other = factories.RecordRequestFactory(tenant=tenant_a)
    client = Client()
    _grant(client, other)
    response = _upload(client, rr)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:lookup"))
    assert list(IntakeDocument.objects.filter(request=rr)) == documents


def test_with_no_owner_the_supervisors_are_told(tenant_a, sam, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    exception_open(
        tenant=tenant_a,
        actor=sam,
        record_request=rr,
        reason="identity_not_verified",
        detail="ID unreadable",
        next_step="Ask for a clearer ID",
        next_action_due=date.today() + timedelta(days=7),
    )
    ExceptionEpisode.objects.filter(request=rr).update(owner=None)
    client = Client()
    _grant(client, rr)
    assert _upload(client, rr, kind="identity", name="id.pdf").status_code == 302
    assert set(Notification.objects.filter(kind="portal_upload").values_list("recipient__username", flat=True)) == {
        sam.username
    }


def test_the_staff_request_page_shows_calls_beside_portal_views(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    _page(rr)
    _page(rr)
    staff = client_for(alice)
    staff.post(
        reverse("workflow:status_call", args=[rr.tracking_number]), {"caller": "requestor", "outcome": "redirected"}
    )
    page = staff.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "1 status call · 2 portal status views" in page


@pytest.mark.parametrize("method", [DeliveryMethod.FAX, DeliveryMethod.PORTAL_DOWNLOAD])
def test_the_status_page_costs_one_query_and_the_access_event(
    request_in_state, django_assert_num_queries, media, method
):
    """The portal's busiest page: the organisation of the tracking number (its row-level security scope, roi/rls.py),
    then every fact in one statement (portal.status.STATUS_SQL), the download offer included, then the audit
    INSERT."""

    destination = "(312) 555-0199" if method == DeliveryMethod.FAX else "paralegal@hartley.example.com"
    rr = request_in_state("delivered", delivery_method=method, delivery_destination=destination)
    if method == DeliveryMethod.FAX:
        DeliveryFactory(packet__request=rr, method=method, destination="(312) 555-0199")
    else:
        download_link(rr.tenant, record_request=rr)
    client = Client()
    _grant(client, rr)
    client.get(reverse("portal:status", args=[rr.tracking_number]))  # warm
    with django_assert_num_queries(3):
        page = client.get(reverse("portal:status", args=[rr.tracking_number]))
    assert page.status_code == 200
    assert ("Download your records" in page.content.decode()) == (method == DeliveryMethod.PORTAL_DOWNLOAD)


def test_before_staff_identify_the_patient_the_page_shows_the_typed_initials_not_the_placeholder(tenant_a, media):
    from intake.patients import placeholder_patient_create
    from portal.models import PortalSubmission

    placeholder = placeholder_patient_create(tenant=tenant_a, actor=None, reference="X1", source="email intake")
    rr = factories.RecordRequestFactory(tenant=tenant_a, patient=placeholder)
    assert portal_status(rr).patient_initials == ""
    assert "Being confirmed by our staff" in _page(rr)
    PortalSubmission.objects.create(
        tenant=tenant_a, request=rr, form_token="t", submitted_at=rr.received_at, patient_first_name="Rosa",
        patient_last_name="Diaz", patient_date_of_birth=date(1980, 4, 2),
    )  # fmt: skip
    assert portal_status(rr).patient_initials == "R.D."


def test_what_we_need_is_said_in_the_requestors_language(tenant_a, alice, media):
    """The checklist's deficiency wording is stored in English (letters, staff pages) and shown in Spanish on a
    Spanish page, a message with values (the missing element, the expiry date) included."""
    rr = factories.RecordRequestFactory(tenant=tenant_a, intake_completed_at=None)
    factories.complete_review(
        rr, auth={"signed_on": date(2019, 1, 31), "expires_on": date(2020, 1, 31)}, auth_states_purpose=False
    )
    intake_services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    client = Client()
    _grant(client, rr)
    url = reverse("portal:status", args=[rr.tracking_number])
    spanish = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Al formulario de autorización le falta el propósito de la entrega" in spanish
    assert "La autorización ya había vencido el 31 de enero de 2020, antes de que la recibiéramos." in spanish
    assert "is missing" not in spanish
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The authorization form is missing the purpose of the release" in english
    assert "The authorization had already expired on January 31, 2020, before we received it." in english


def test_a_request_nobody_has_picked_up_reads_received(tenant_a, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a, assignee=None, intake_completed_at=None)
    assert portal_status(rr).phase == Phase.RECEIVED
    assert "Our staff will start reviewing it soon" in _page(rr)
    factories.complete_review(rr)
    assert portal_status(rr).phase == Phase.UNDER_REVIEW
