"""factory-boy factories for every model. SubFactory chains keep one tenant: a request's patient and requestor
belong to the request's tenant unless a test says otherwise."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import factory
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.utils import timezone
from faker import Faker as FakerGenerator

from roi.choices import ApiScope, Role
from roi.models import AccessEvent, ApiToken, IntegrationClient, Membership, Tenant, User
from workflow import deadlines
from workflow.choices import Channel, DeliveryMethod, RecordType, RequestorKind, RequestType
from workflow.models import Patient, RecordRequest, Requestor, RequestTransition

_fake = FakerGenerator()
TEST_PASSWORD = "correct-horse-battery-staple"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Test Hospital {n}")
    slug = factory.Sequence(lambda n: f"test-hospital-{n}")
    jurisdiction = "IL"
    timezone = "America/Chicago"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.SPECIALIST


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    tenant = factory.SubFactory(TenantFactory)
    mrn = factory.Sequence(lambda n: f"MRN{100000 + n}")
    first_name = factory.Faker("first_name")
    # Generated names, made unique: tests check that a patient's name stays off a page or out of a message, and a
    # plain generated name can be a generated staff member's name on the same page.
    last_name = factory.LazyAttributeSequence(lambda o, n: f"{_fake.last_name()}-Quill{n}")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=1, maximum_age=90)


class RequestorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Requestor

    tenant = factory.SubFactory(TenantFactory)
    kind = RequestorKind.ATTORNEY
    name = factory.Faker("name")
    organization = "Hartley & Moss LLP"
    email = factory.Sequence(lambda n: f"records{n}@lawfirm.example.com")
    phone = "(312) 555-0100"
    fax = "(312) 555-0199"
    address_line1 = "100 Main Street"
    city = "Springfield"
    state = "IL"
    postal_code = "62701"


class RecordRequestFactory(factory.django.DjangoModelFactory):
    """A complete request in `received`, ready to validate. Use `incomplete=True` for one that is not."""

    class Meta:
        model = RecordRequest

    class Params:
        incomplete = factory.Trait(
            record_types=[], scope_date_from=None, scope_date_to=None, delivery_method="", intake_completed_at=None
        )

    tenant = factory.SubFactory(TenantFactory)
    patient = factory.SubFactory(PatientFactory, tenant=factory.SelfAttribute("..tenant"))
    requestor = factory.SubFactory(RequestorFactory, tenant=factory.SelfAttribute("..tenant"))
    request_type = RequestType.AUTHORIZATION
    channel = Channel.FAX
    received_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    legal_due_date = factory.LazyAttribute(
        lambda o: deadlines.legal_due_date(tenant=o.tenant, request_type=o.request_type, received_at=o.received_at)
    )
    internal_target_date = factory.LazyAttribute(
        lambda o: deadlines.internal_target_date(tenant=o.tenant, received_at=o.received_at)
    )
    scope_date_from = factory.LazyAttribute(lambda o: (o.received_at - timedelta(days=365)).date())
    scope_date_to = factory.LazyAttribute(lambda o: o.received_at.date())
    record_types = factory.LazyFunction(lambda: [RecordType.DISCHARGE_SUMMARY, RecordType.LAB])
    delivery_method = DeliveryMethod.FAX
    delivery_destination = "(312) 555-0199"
    last_activity_at = factory.SelfAttribute("received_at")
    # The intake checklist passed: ready to validate. Intake tests build requests with intake_completed_at=None.
    intake_completed_at = factory.SelfAttribute("received_at")


class RequestTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RequestTransition


class ServiceAccountFactory(factory.django.DjangoModelFactory):
    """An integration client's service account: no usable password (the database insists), never staff."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"api.test.client-{n}")
    first_name = "Interface"
    is_service_account = True
    password = factory.LazyFunction(lambda: make_password(None))


class IntegrationClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IntegrationClient

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"EHR interface {n}")
    role = Role.SPECIALIST
    service_user = factory.SubFactory(ServiceAccountFactory, first_name=factory.SelfAttribute("..name"))


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A working token of an integration client, with every scope unless a test says otherwise."""

    class Meta:
        model = ApiToken

    client = factory.SubFactory(IntegrationClientFactory)
    tenant = factory.SelfAttribute("client.tenant")
    user = factory.SelfAttribute("client.service_user")
    prefix = "roi_test"
    key_digest = factory.Sequence(lambda n: ApiToken.digest(f"key-{n}"))
    scopes = factory.LazyFunction(lambda: list(ApiScope.values))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=90))


class AccessEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessEvent

    tenant = factory.SubFactory(TenantFactory)
    actor_label = "someone"
    action = "view_request"


def two_factor_enrolled(user, *, recovery_codes: int = 5) -> list[str]:
    """Give `user` a confirmed authenticator app and one-time recovery codes (roi/two_factor.py); returns the
    codes. Tests sign in through the real two-factor page with them (an app's code cannot be used twice in the
    same 30 seconds)."""
    import secrets

    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.get_or_create(user=user, name="Authenticator app", defaults={"confirmed": True})
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [secrets.token_hex(5) for _ in range(recovery_codes)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


# --- What a request relies on (intake.authorizations) ---------------------------------------------------------


class IntakeDocumentFactory(factory.django.DjangoModelFactory):
    """A one-page PDF received with a request (call inside a test whose MEDIA_ROOT is its own: the `media` fixture)."""

    class Meta:
        model = "intake.IntakeDocument"
        exclude = ("pdf",)

    request = factory.SubFactory(RecordRequestFactory)
    tenant = factory.SelfAttribute("request.tenant")
    kind = "authorization"
    source = "staff_upload"
    pdf = factory.LazyFunction(lambda: _pdf(1, "Signed form"))
    file = factory.LazyAttribute(lambda d: ContentFile(d.pdf, name="form.pdf"))
    original_name = factory.Sequence(lambda n: f"signed-form-{n}.pdf")
    content_type = "application/pdf"
    size_bytes = factory.LazyAttribute(lambda d: len(d.pdf))
    sha256 = factory.LazyAttribute(lambda d: hashlib.sha256(d.pdf).hexdigest())
    page_count = 1
    uploaded_at = factory.LazyFunction(timezone.now)


def _pdf(pages: int, label: str) -> bytes:
    from tests.fulfillment.pdfs import make_pdf

    return make_pdf(pages, label)


class RepresentativeAuthorityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "intake.RepresentativeAuthority"

    patient = factory.SubFactory(PatientFactory)
    tenant = factory.SelfAttribute("patient.tenant")
    name = factory.Faker("name")
    authority_type = "healthcare_poa"
    verified_by = factory.SubFactory(UserFactory)
    verified_at = factory.LazyFunction(timezone.now)


class AuthorizationFactory(factory.django.DjangoModelFactory):
    """A HIPAA authorization signed ten days ago by the patient, expiring in a year."""

    class Meta:
        model = "intake.Authorization"

    patient = factory.SubFactory(PatientFactory)
    tenant = factory.SelfAttribute("patient.tenant")
    kind = "authorization"
    signer_name = factory.LazyAttribute(lambda a: a.patient.full_name)
    signed_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=10))
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))
    recipient = "Hartley & Moss LLP"
    recorded_at = factory.LazyFunction(timezone.now)


# Every answer of a complete checklist, defects unticked.
DEFECTS = {"auth_improperly_combined", "auth_known_false", "auth_conditions_benefits", "part2_proceedings_consent"}


def complete_review(rr: RecordRequest, *, auth: dict | None = None, representative: dict | None = None, **fields):
    """The intake review of a request that passes every check for its basis, as a specialist leaves it: every answer
    confirmed; the authorization or directive recorded from its document (`auth`: its fields to change, or
    auth=False for none); a personal representative's authority recorded and checked (`representative`: its fields).
    `fields` override the answers."""
    from intake import bases, rules
    from intake.models import IntakeReview
    from intake.services import REVIEW_FIELDS

    answers: dict = {}
    for model_field in IntakeReview._meta.get_fields():
        name = model_field.name
        if name in REVIEW_FIELDS and name not in DEFECTS and model_field.get_internal_type() == "BooleanField":
            answers[name] = True
    answers.update(
        identity_method="photo_id_copy",
        legal_document_type="court_order",
        consents_received=[c for c in rr.sensitive_categories if c != "psychotherapy_notes"],
        part2_use_against_patient="no",
    )
    answers.update(fields)
    requestor = rr.requestor
    rep = None
    if requestor.kind == RequestorKind.PERSONAL_REPRESENTATIVE and representative is not False:
        document = IntakeDocumentFactory(request=rr, tenant=rr.tenant, kind="authority")
        rep = RepresentativeAuthorityFactory(
            patient=rr.patient, tenant=rr.tenant, name=requestor.name, document=document, **(representative or {})
        )
        answers["representative"] = rep
    basis = rules.basis_for(rr.request_type, requestor.kind)
    public = bases.BASES.get(basis)
    if public is not None and "basis_answers" not in fields:
        # A 164.512 basis met: its first path, every element confirmed and every decision met.
        chosen = {e.key: e.choices[0][0] for e in public.elements if e.kind == bases.CHOICE}
        met = {bases.CONFIRM: True, bases.DECISION: bases.MET}
        answers["basis_answers"] = chosen | {
            e.key: met[e.kind] for e in public.elements_for(chosen) if e.kind != bases.CHOICE
        }
    if basis in (rules.AUTHORIZATION, rules.DIRECTIVE) and auth is not False:
        document = IntakeDocumentFactory(request=rr, tenant=rr.tenant, kind="authorization")
        values = {
            "kind": basis,
            "recipient": requestor.organization or requestor.name,
            "document": document,
            "covers_psychotherapy_notes": "psychotherapy_notes" in rr.record_types and len(rr.record_types) == 1,
            **(auth or {}),
        }
        answers["authorization"] = AuthorizationFactory(patient=rr.patient, tenant=rr.tenant, **values)
    return IntakeReview.objects.update_or_create(request=rr, defaults={"tenant": rr.tenant, **answers})[0]


class RevocationFactory(factory.django.DjangoModelFactory):
    """A written revocation received today (the document is the caller's to give: the service requires one)."""

    class Meta:
        model = "intake.Revocation"

    authorization = factory.SubFactory(AuthorizationFactory)
    tenant = factory.SelfAttribute("authorization.tenant")
    received_on = factory.LazyFunction(timezone.localdate)
    recorded_at = factory.LazyFunction(timezone.now)


def licensed_professional(
    *, tenant: Tenant, username: str, credential: str = "Psychiatrist, MD, California A-123456", **user_fields
) -> User:
    """A member of `tenant` designated as a licensed health care professional through the real service, by the
    tenant's admin "hoyt" (created on first use), as a tenant admin does on the Licensed reviewers page."""
    from roi.services import licensed_professional_designate

    admin_membership = Membership.objects.filter(tenant=tenant, user__username="hoyt").select_related("user").first()
    admin = (admin_membership or MembershipFactory(tenant=tenant, user__username="hoyt", role=Role.ADMIN)).user
    user_fields = {f"user__{name}": value for name, value in user_fields.items()}
    member = Membership.objects.filter(tenant=tenant, user__username=username).select_related("user").first()
    if member is None:
        member = MembershipFactory(tenant=tenant, user__username=username, **user_fields)
    licensed_professional_designate(tenant=tenant, actor=admin, member_user=member.user, credential=credential)
    return member.user
