"""A tenant admin removes a reviewer's designation at the moment the reviewer decides (45 CFR 164.524(a)(4)): the
decision reads the designation with its row locked, so it waits for the removal and is refused, rather than deciding
on a designation that no longer holds. Separate transactions against the real database."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from fulfillment import denials
from fulfillment.models import Denial
from intake.choices import LetterKind
from intake.models import Letter
from roi.errors import NotPermitted
from roi.models import Membership, Notification
from roi.services import licensed_professional_remove
from tests import factories
from tests.concurrency import wait_for_lock_waiter, wait_until
from tests.scoping import scoped_thread


@pytest.mark.django_db(transaction=True)
def test_164_524_a_4_a_designation_removed_while_the_reviewer_decides_refuses_the_decision(media, tenant_a, sam):
    lee = factories.licensed_professional(tenant=tenant_a, username="lee")
    rivera = factories.licensed_professional(tenant=tenant_a, username="rivera")
    admin = Membership.objects.get(user__username="hoyt").user
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com")
    denial = denials.denial_create(
        tenant=tenant_a, actor=sam, record_request=rr, basis="endanger_life", scope_denied="Psychiatric notes",
        explanation="Danger to life.", determined_by=lee,
    )  # fmt: skip
    denials.denial_review_request(tenant=tenant_a, actor=sam, denial=denial)
    denials.denial_reviewer_assign(tenant=tenant_a, actor=sam, denial=denial, reviewer=rivera)
    admin_may_commit = threading.Event()
    outcome: dict[str, object] = {}

    def admin_removes() -> None:
        try:
            with transaction.atomic():
                licensed_professional_remove(tenant=tenant_a, actor=admin, member_user=rivera)
                outcome["admin"] = "removed"
                admin_may_commit.wait(10)
        except Exception as error:  # noqa: BLE001 - recorded and asserted below
            outcome["admin"] = error
        finally:
            connection.close()

    def rivera_decides() -> None:
        try:
            denials.denial_review_decide(tenant=tenant_a, actor=rivera, denial=denial, outcome="overturned", note="x")
            outcome["rivera"] = "decided"
        except Exception as error:  # noqa: BLE001 - recorded and asserted below
            outcome["rivera"] = error
        finally:
            connection.close()

    first = scoped_thread(target=admin_removes)
    first.start()
    wait_until(lambda: "admin" in outcome, what="the admin's removal to hold the membership row")
    second = scoped_thread(target=rivera_decides)
    second.start()
    wait_for_lock_waiter()  # the decision waits on the membership row the removal holds
    admin_may_commit.set()
    first.join(10)
    second.join(10)

    assert outcome["admin"] == "removed"
    assert isinstance(outcome["rivera"], NotPermitted)
    assert "no longer designated" in outcome["rivera"].message
    denial = Denial.objects.get(pk=denial.pk)
    assert (denial.review_outcome, denial.review_letter_id) == ("", None)
    assert not Letter.objects.filter(kind=LetterKind.DENIAL_REVIEW).exists()
    assert not Notification.objects.filter(kind="requestor_denial_reviewed").exists()
