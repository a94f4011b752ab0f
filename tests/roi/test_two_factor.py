"""Two-factor sign-in for staff: enrolment with an authenticator app and recovery codes, the code at every sign-in,
who must use it, and an admin resetting it for a lost phone."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from roi.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


def _password_only(user) -> Client:
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": factories.TEST_PASSWORD}).status_code == 302
    return client


def _app_code(device: TOTPDevice, *, step_offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + step_offset * device.step
    return f"{totp.token():0{device.digits}d}"


def test_a_first_sign_in_enrols_an_authenticator_and_shows_recovery_codes_once(alice):
    client = _password_only(alice)
    response = client.get("/requests/?state=open")
    assert response.status_code == 302
    assert response["Location"].startswith("/2fa/setup/?next=")
    assert client.get("/api/v1/requests/").status_code == 403  # the API with this session too
    page = client.get(response["Location"]).content.decode()
    assert 'class="qr"' in page
    key = re.search(r'id="totp-key">([A-Z2-7 ]+)<', page).group(1)
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    assert key.replace(" ", "").startswith(device.config_url.split("secret=")[1][:8])

    wrong = client.post("/2fa/setup/", {"token": "000000"})
    assert wrong.status_code == 400
    assert "That code did not match" in wrong.content.decode()
    device.refresh_from_db()
    before = client.cookies["sessionid"].value
    done = client.post("/2fa/setup/", {"token": _app_code(device), "next": "/requests/?state=open"})
    assert done.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{10})</li>", done.content.decode())
    assert len(codes) == 10
    assert client.cookies["sessionid"].value != before  # a new session id once the second factor is proven
    assert client.get("/requests/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    # Enrolled: the setup page cannot replace the authenticator from a signed-in session.
    assert client.get("/2fa/setup/").status_code == 302


def test_later_sign_ins_ask_for_a_code_from_the_app_or_a_recovery_code_used_once(alice):
    codes = factories.two_factor_enrolled(alice, recovery_codes=2)
    device = TOTPDevice.objects.get(user=alice)
    client = _password_only(alice)
    assert client.get("/requests/")["Location"].startswith("/2fa/verify/")
    wrong = client.post("/2fa/verify/", {"token": "123456"})
    assert wrong.status_code == 400
    assert "That code did not match" in wrong.content.decode()
    # One wrong code costs no wait (roi/sign_in.py slows codes only past TWO_FACTOR_FREE_FAILURES).
    assert client.post("/2fa/verify/", {"token": _app_code(device)}).status_code == 302
    assert client.get("/requests/").status_code == 200

    phone_lost = _password_only(alice)
    assert phone_lost.post("/2fa/verify/", {"token": codes[0]}).status_code == 302
    again = _password_only(alice)
    assert again.post("/2fa/verify/", {"token": codes[0]}).status_code == 400  # a recovery code works once


def test_an_outside_next_address_is_ignored(alice):
    codes = factories.two_factor_enrolled(alice, recovery_codes=1)
    client = _password_only(alice)
    response = client.post("/2fa/verify/", {"token": codes[0], "next": "https://evil.example.com/"})
    assert response["Location"] == "/requests/"


def test_an_organisation_may_spare_its_staff_but_never_its_admins(tenant_a, alice):
    tenant_a.two_factor_for_staff = False
    tenant_a.save()
    assert _password_only(alice).get("/requests/").status_code == 200
    ada = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    assert _password_only(ada).get("/requests/").status_code == 302


def test_the_portal_and_sign_out_need_no_second_factor(alice):
    client = _password_only(alice)
    assert client.get("/status/").status_code == 200
    assert client.post("/logout/").status_code == 302


def test_an_admin_resets_a_lost_phone_and_the_member_enrols_again(tenant_a, alice):
    ada = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    factories.two_factor_enrolled(alice)
    signed_in = _password_only(alice)
    admin = Client()
    admin.force_login(ada)
    response = admin.post("/staff/sessions/", {"user": alice.pk, "reset_two_factor": "1"}, follow=True)
    assert "they enrol again at their next sign-in" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert signed_in.get("/requests/").status_code == 302
    assert _password_only(alice).get("/requests/")["Location"].startswith("/2fa/setup/")


def test_the_demo_code_is_what_an_authenticator_app_shows_for_the_demo_key():
    from portal.demo_two_factor import DEMO_TOTP_KEY_HEX, demo_totp_code

    for moment in (0, 59, 1_790_000_000, 1_790_000_029, 1_790_000_030):
        totp = TOTP(bytes.fromhex(DEMO_TOTP_KEY_HEX))
        totp.time = moment
        assert demo_totp_code(moment) == f"{totp.token():06d}"


def test_a_member_renews_recovery_codes_with_a_code_from_the_app_and_the_old_ones_stop_working(alice):
    old = factories.two_factor_enrolled(alice, recovery_codes=2)
    device = TOTPDevice.objects.get(user=alice)
    client = _password_only(alice)
    assert client.get("/account/recovery-codes/")["Location"].startswith("/2fa/verify/")  # second factor first
    assert client.post("/2fa/verify/", {"token": old[0]}).status_code == 302
    page = client.get("/account/recovery-codes/").content.decode()
    assert "<strong>1</strong> unused recovery code." in page

    by_recovery_code = client.post("/account/recovery-codes/", {"token": old[1]})
    assert by_recovery_code.status_code == 400  # holding the old codes is not enough to renew them
    assert "a recovery code cannot renew the recovery codes" in by_recovery_code.content.decode()

    renewed = client.post("/account/recovery-codes/", {"token": _app_code(device)})
    assert renewed.status_code == 200
    assert "Your earlier recovery codes no longer work." in renewed.content.decode()
    new = re.findall(r"<li>([0-9a-f]{10})</li>", renewed.content.decode())
    assert len(new) == 10
    assert _password_only(alice).post("/2fa/verify/", {"token": old[1]}).status_code == 400
    assert _password_only(alice).post("/2fa/verify/", {"token": new[0]}).status_code == 302


def test_a_member_without_an_authenticator_has_no_codes_to_renew(tenant_a, alice, client_for):
    tenant_a.two_factor_for_staff = False
    tenant_a.save()
    page = client_for(alice).get("/account/recovery-codes/")
    assert page.status_code == 200
    assert "no authenticator app is enrolled" in page.content.decode()
    assert client_for(alice).post("/account/recovery-codes/", {"token": "123456"}).status_code == 400
