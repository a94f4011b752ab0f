"""Control characters in a path, a query string, a form field or a JSON body are refused in one place
(roi.security.InputHygieneMiddleware) with 400 and a message that says what to fix: JSON for the API, the 400 page
elsewhere. They used to reach PostgreSQL, which cannot store NUL, and answer 500. Ordinary text (accents, emoji, line
breaks, tabs) still goes through."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from roi.security import PERMISSIONS_POLICY
from workflow.choices import RequestState

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture
def api(alice, tenant_a, api_token_for) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_for(alice, tenant_a)[1]}")


def assert_refused_page(response, *fragments: str) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "This request could not be read" in page
    for fragment in fragments:
        assert fragment in page
    assert "\x00" not in page
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def assert_refused_json(response, *fragments: str) -> dict:
    assert response.status_code == 400
    assert response["Content-Type"] == JSON
    body = response.json()
    assert set(body) == {"detail"}
    for fragment in fragments:
        assert fragment in body["detail"]
    return body


# --- Staff pages -----------------------------------------------------------------------------------------------


def test_a_nul_in_the_queue_path_answers_the_400_page(client_for, alice, request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    response = client_for(alice).get(f"/requests/{rr.tracking_number}%00/")
    assert_refused_page(response, "The address contains a control character (U+0000)", "retype the address")


def test_a_nul_in_the_patient_lookup_query_answers_400_naming_the_parameter(client_for, alice):
    response = client_for(alice).get("/requests/patients/lookup/", {"patient_q": "Riv\x00era"})
    assert_refused_page(response, "The query parameter &quot;patient_q&quot; contains a control character (U+0000)")


@pytest.mark.parametrize("character", ["\t", "\n", "\r", "\x1b", "\x7f"])
def test_no_control_character_is_accepted_in_a_query_string(client_for, alice, character):
    response = client_for(alice).get("/requests/", {"q": f"Rivera{character}"})
    assert_refused_page(response, f"U+{ord(character):04X}")


def test_a_control_character_in_a_query_parameter_name_is_refused_without_repeating_the_name(client_for, alice):
    response = client_for(alice).get("/requests/?a%01b=1")
    assert_refused_page(response, "The name of a query parameter contains a control character (U+0001)")
    assert "a\x01b" not in response.content.decode()


# --- Portal ---------------------------------------------------------------------------------------------------


def test_a_nul_in_the_portal_status_path_answers_the_400_page(request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    response = Client().get(f"/status/{rr.tracking_number}%00/")
    assert_refused_page(response, "control character (U+0000)")


def test_a_nul_in_the_portal_lookup_form_urlencoded_answers_400_naming_the_field(request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    body = urlencode({"tracking_number": rr.tracking_number + "\x00", "verifier": "x"})
    response = Client().post("/status/", body, content_type=FORM)
    assert_refused_page(response, "The form field &quot;tracking_number&quot; contains a control character (U+0000)")


# --- API -------------------------------------------------------------------------------------------------------


def test_a_nul_in_an_api_list_query_answers_json_400(api):
    response = api.get("/api/v1/requests/", {"state": "received\x00"})
    assert_refused_json(response, 'The query parameter "state" contains a control character (U+0000)')


def test_a_nul_in_an_api_detail_path_answers_json_400(api, request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    response = api.get(f"/api/v1/requests/{rr.tracking_number}%00/")
    assert_refused_json(response, "The address contains a control character (U+0000)")


def test_an_anonymous_api_call_is_refused_for_the_nul_before_authentication(db):
    """The input is refused before anything else reads it: no token is needed to get the 400, and nothing to leak."""
    assert_refused_json(Client().get("/api/v1/requests/%00/"), "U+0000")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('"Rivera\\u0000"', "U+0000"),
        ('"Rivera\\u001B"', "U+001B"),
        ('"Rivera\\u007f"', "U+007F"),
        ('"Rivera\\b"', "U+0008"),
        ('"Rivera\\f"', "U+000C"),
        ('"Rivera\\\\\\u0000"', "U+0000"),  # an escaped backslash, then NUL
        ('"Rivera\x7f"', "U+007F"),  # DEL is valid raw in a JSON string; refused all the same
    ],
)
def test_a_control_character_in_a_json_string_answers_json_400_naming_the_field(api, raw, code):
    body = '{"patient": {"last_name": RAW, "first_name": "Ana"}, "request_type": "right_of_access"}'.replace("RAW", raw)
    response = api.post("/api/v1/requests/", body, content_type=JSON)
    assert_refused_json(response, f"({code})", 'the field "patient.last_name"', "tabs and line breaks")


def test_a_raw_nul_byte_in_a_json_body_is_refused(api, request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    response = api.post(f"/api/v1/requests/{rr.tracking_number}/cancel/", b'{"reason": "x"}\x00', content_type=JSON)
    assert_refused_json(response, "(U+0000) in the body")


def test_json_text_with_an_escaped_backslash_before_u0000_is_text_not_nul(api, request_in_state):
    """A backslash followed by the letters u0000 ("\\\\u0000" in JSON) is plain text: the action takes it as its
    reason, with its tab, line break, accent and emoji."""
    rr = request_in_state(RequestState.RECEIVED)
    body = json.dumps({"reason": "Path C:\\u0000\\new\tline\nnext ñ 🙂"})
    assert "\\\\u0000" in body
    response = api.post(f"/api/v1/requests/{rr.tracking_number}/cancel/", body, content_type=JSON)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == RequestState.CANCELLED


def test_a_json_body_over_the_memory_limit_answers_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"scope_notes": "x" * (1024 * 1024)})
    response = api.post("/api/v1/requests/", body, content_type=JSON)
    assert response.status_code == 413
    assert "over the 1 MB" in response.json()["detail"]


# --- Forms: multipart and urlencoded; ordinary text still passes ------------------------------------------------


@pytest.fixture
def details(client_for, alice, request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    return client_for(alice), f"/requests/{rr.tracking_number}/intake/details/", rr


def _details_form(scope_notes: str) -> dict[str, str]:
    return {"request_type": "right_of_access", "record_types": "lab", "scope_notes": scope_notes}


def test_a_control_character_in_a_multipart_field_answers_400_and_saves_nothing(details):
    client, url, rr = details
    response = client.post(url, _details_form("Labs since 2019\x0bplease"))  # Word's line break, pasted
    assert_refused_page(response, "The form field &quot;scope_notes&quot; contains a control character (U+000B)")
    rr.refresh_from_db()
    assert "Labs since 2019" not in rr.scope_notes


def test_a_nul_in_an_urlencoded_field_answers_400(details):
    client, url, _ = details
    response = client.post(url, urlencode(_details_form("Labs\x00")), content_type=FORM)
    assert_refused_page(response, "&quot;scope_notes&quot;", "(U+0000)")


def test_an_uploaded_file_is_not_checked_for_control_characters(client_for, alice, media):
    """A file's bytes are the upload check's business (roi/pages.py), NUL bytes and all: the form answers, with its
    own message about the document."""
    scan = SimpleUploadedFile("letter.pdf", b"%PDF-1.4\x00\x01\x02", content_type="application/pdf")
    response = client_for(alice).post("/requests/new/", {"channel": "mail", "scanned_request": scan})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This request could not be read" not in page
    assert "Record request" in page


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_text_with_accents_emoji_tabs_and_line_breaks_still_saves(details, encoding):
    client, url, rr = details
    notes = "Señora Núñez: résumé of labs 🩺\r\nsince 2019\tincl. “imaging” — ok"
    form = _details_form(notes)
    if encoding == "multipart":
        response = client.post(url, form)
    else:
        response = client.post(url, urlencode(form), content_type=FORM)
    assert response.status_code == 302, response.content.decode()[:500]
    rr.refresh_from_db()
    assert rr.scope_notes == notes


# --- The log ---------------------------------------------------------------------------------------------------


def test_the_refusal_is_logged_without_the_input(client_for, alice, caplog):
    with caplog.at_level(logging.WARNING, logger="roi.security"):
        client_for(alice).get("/requests/patients/lookup/%07x/", {"patient_q": "Rivera\x00MRN-4417"})
    [line] = [record.getMessage() for record in caplog.records if record.name == "roi.security"]
    expected = "Refused a request with a control character (U+0007) in its path: GET /requests/patients/lookup/\\x07x/"
    assert line == expected
    assert "Rivera" not in caplog.text
    assert "MRN-4417" not in caplog.text
    assert "\x00" not in caplog.text
    assert "\x07" not in caplog.text


def test_a_request_without_control_characters_is_untouched(client_for, alice):
    assert client_for(alice).get("/requests/", {"q": "Núñez 🙂"}).status_code == 200
