"""Search for requests, from the box in the header of every staff page and `GET /api/v1/requests/?q=`.

One term, typed the way people type it on the phone with a requestor: a tracking number in any case, with or without
hyphens, spaces or "ROI"; a patient's name with a typo, "first last" or "last, first" (PostgreSQL pg_trgm
similarity: trigrams ignore word order and punctuation); an MRN (exact, any case); a date of birth (03/14/1961,
1961-03-14, 3/14/61), alone or after a name; a requestor's name, organisation or email; a phone number (digits only
compared). Exact matches come first (tracking number, MRN, then dates of birth, phone numbers and email addresses),
then names by similarity, the most recently received first among equals.

Two statements whatever the number of results: one finds the ranked request ids (each kind of match is a small index
scan of its own: the GIN trigram and expression indexes of workflow/migrations/0018), one reads those requests as
queue rows. Results are capped at SEARCH_LIMIT: a search is for finding a request, the queue for browsing many.

A restricted request the user may not open (workflow/break_glass.py) is listed masked, as on the queue, and only when
the term named the request or its requestor: found under a patient's name, MRN or date of birth, its row would say
what the mask hides, that this patient has a request with a sensitive category.
"""

# ruff: noqa: S608 - the SQL below is built from table names (model metadata), MatchKind constants and scores of this
# module; every value typed by a user is a parameter.
from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.crypto import salted_hmac

from roi import clock, rls
from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction
from roi.models import Tenant
from roi.tenancy import role_in
from workflow.models import BreakGlassGrant, Patient, RecordRequest
from workflow.selectors import _QUEUE_ROW_VALUES, QueueRow, _queue_row

SEARCH_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 100
SEARCH_LIMIT = 50
# Patients and requestors considered per name search, the most similar first: a common surname matches hundreds of
# patients, and their requests beyond the first SEARCH_LIMIT are never shown anyway.
NAME_CANDIDATES = 200
# Requestors considered per search: each brings up to a page of its most recent requests.
REQUESTOR_CANDIDATES = 50
# pg_trgm's own default for the `%` operator (pg_trgm.similarity_threshold), which the GIN indexes answer.
SIMILARITY_THRESHOLD = 0.3


class MatchKind:
    """What a term matched, in the order a page lists them. Stored in the access event's detail (never the term)."""

    TRACKING_NUMBER = "tracking_number"
    MRN = "mrn"
    PATIENT_NAME_AND_DOB = "patient_name_dob"
    DATE_OF_BIRTH = "date_of_birth"
    PATIENT_NAME = "patient_name"
    REQUESTOR_PHONE = "requestor_phone"
    REQUESTOR_EMAIL = "requestor_email"
    REQUESTOR_NAME = "requestor_name"
    REQUESTOR_ORGANIZATION = "requestor_organization"

    LABELS = {
        TRACKING_NUMBER: "tracking number",
        MRN: "MRN",
        PATIENT_NAME_AND_DOB: "patient name and date of birth",
        DATE_OF_BIRTH: "date of birth",
        PATIENT_NAME: "patient name",
        REQUESTOR_PHONE: "requestor phone",
        REQUESTOR_EMAIL: "requestor email",
        REQUESTOR_NAME: "requestor name",
        REQUESTOR_ORGANIZATION: "requestor organisation",
    }
    ORDER = list(LABELS)
    # Kinds that say who the patient is: not used to find a restricted request the user may not open.
    PATIENT_KINDS = frozenset({MRN, PATIENT_NAME_AND_DOB, DATE_OF_BIRTH, PATIENT_NAME})


# Rank of the exact kinds; names rank by their similarity (0 to 1), below every exact match.
_EXACT_SCORE = {
    MatchKind.TRACKING_NUMBER: 10.0,
    MatchKind.MRN: 9.0,
    MatchKind.DATE_OF_BIRTH: 4.0,
    MatchKind.REQUESTOR_PHONE: 4.0,
    MatchKind.REQUESTOR_EMAIL: 4.0,
}
# A name with its date of birth: above a date of birth alone, ordered among themselves by the name's similarity.
_NAME_AND_DOB_BASE = 5.0


class SearchTermError(ValueError):
    """A term that cannot be searched for; the message says what to type instead."""


@dataclass(frozen=True)
class SearchTerm:
    """What a typed term may be. Every field is a normalised form; `text` is the term itself, for the names."""

    text: str
    tracking: str  # letters and digits, upper case, "ROI" first: replace(tracking_number, '-', '')
    mrn: str  # upper case, as typed otherwise
    date_of_birth: date | None
    name_with_date: str  # the words before or after a date of birth ("Smith 3/14/61"), or ""
    phones: tuple[str, ...]  # digit strings a stored phone number's digits may equal
    has_letters: bool


_DATE_FORMATS = (
    re.compile(r"^(?P<m>\d{1,2})[/.-](?P<d>\d{1,2})[/.-](?P<y>\d{4}|\d{2})$"),
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
)
_PHONE_CHARACTERS = re.compile(r"^[\d\s().+-]+$")


def parse_date_of_birth(text: str, *, today: date) -> date | None:
    """A date as US staff type it (month first), or ISO. A two-digit year is the latest year not after today's:
    a date of birth is in the past, so 3/14/61 is 1961 and 3/14/09 is 2009."""
    for pattern in _DATE_FORMATS:
        found = pattern.match(text)
        if found is None:
            continue
        year, month, day = int(found["y"]), int(found["m"]), int(found["d"])
        if len(found["y"]) == 2:
            year += 2000 if 2000 + year <= today.year else 1900
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return None


def parse_term(raw: str, *, today: date) -> SearchTerm:
    """The term's possible meanings. Raises SearchTermError for an empty, too short or too long term."""
    text = " ".join(raw.split())
    if len(text) < SEARCH_MIN_LENGTH:
        raise SearchTermError(
            f"Type at least {SEARCH_MIN_LENGTH} characters: a tracking number, a patient's name, MRN or date of birth, "
            "or a requestor's name, organisation, email or phone."
        )
    if len(text) > SEARCH_MAX_LENGTH:
        raise SearchTermError(f"Type at most {SEARCH_MAX_LENGTH} characters: one name, number or date.")
    compact = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    tracking = compact if compact.startswith("ROI") else "ROI" + compact
    date_of_birth = parse_date_of_birth(text, today=today)
    name_with_date = ""
    if date_of_birth is None:
        words = text.replace(",", " ").split()
        for index in (len(words) - 1, 0):  # "Smith 3/14/61" or "3/14/61 Smith"
            if len(words) > 1 and (found := parse_date_of_birth(words[index], today=today)) is not None:
                rest = " ".join(words[:index] + words[index + 1 :])
                if re.search(r"[A-Za-z]", rest):
                    date_of_birth, name_with_date = found, rest
                break
    phones: tuple[str, ...] = ()
    digits = re.sub(r"\D", "", text)
    if _PHONE_CHARACTERS.match(text) and len(digits) >= 7:
        # A US number typed with or without its country code matches one stored either way.
        if len(digits) == 11 and digits.startswith("1"):
            phones = (digits, digits[1:])
        elif len(digits) == 10:
            phones = (digits, "1" + digits)
        else:
            phones = (digits,)
    return SearchTerm(
        text=text,
        tracking=tracking,
        mrn=text.upper(),
        date_of_birth=date_of_birth,
        name_with_date=name_with_date,
        phones=phones,
        has_letters=bool(re.search(r"[^\W\d_]", text)),
    )


def term_digest(term: str) -> str:
    """A keyed hash of the normalised term for the access event: an auditor can tell that two searches were for the
    same thing, and check a term they suspect with the server's key, but the event never holds the term itself."""
    normalised = " ".join(term.split()).casefold()
    return salted_hmac("workflow.search.term", normalised, algorithm="sha256").hexdigest()[:16]


@dataclass(frozen=True)
class SearchHit:
    request_id: int
    score: float
    kinds: tuple[str, ...]


@dataclass
class SearchResults:
    """The ranked hits (at most SEARCH_LIMIT), whether more matched, and what kinds of match they hold."""

    tenant: Tenant
    term: SearchTerm
    hits: list[SearchHit]
    more: bool
    kinds_by_id: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kinds_by_id = {hit.request_id: hit.kinds for hit in self.hits}

    @property
    def ids(self) -> list[int]:
        return [hit.request_id for hit in self.hits]

    @property
    def kinds(self) -> list[str]:
        """Every kind matched, in MatchKind.ORDER."""
        found = {kind for hit in self.hits for kind in hit.kinds}
        return [kind for kind in MatchKind.ORDER if kind in found]

    @property
    def exact_tracking_number(self) -> str | None:
        """The term as a tracking number when it was one of this tenant's (the first hit then: nothing ranks
        higher), for the page to go straight to the request."""
        if self.hits and MatchKind.TRACKING_NUMBER in self.hits[0].kinds:
            return self.term.tracking
        return None

    def queryset(self, base: QuerySet[RecordRequest] | None = None) -> QuerySet[RecordRequest]:
        """The hits as requests (of `base`, the tenant's requests by default) in rank order: the API's list."""
        base = RecordRequest.objects.for_tenant(self.tenant) if base is None else base
        if not self.hits:
            return base.none()
        rank = Case(
            *(When(pk=pk, then=Value(position)) for position, pk in enumerate(self.ids)), output_field=IntegerField()
        )
        return base.filter(pk__in=self.ids).order_by(rank)

    def rows(self) -> list[QueueRow]:
        """The hits as the queue's rows (workflow.selectors.QueueRow, what workflow.markup.queue_rows shows), in rank
        order: one query."""
        if not self.hits:
            return []
        values = RecordRequest.objects.for_tenant(self.tenant).filter(pk__in=self.ids)
        by_id = {row.pk: row for row in map(_queue_row, values.values_list(*_QUEUE_ROW_VALUES.values()))}
        return [by_id[pk] for pk in self.ids if pk in by_id]


def request_search(*, tenant: Tenant, term: str, user: Any, today: date | None = None) -> SearchResults:
    """The tenant's requests matching `term`, best first. Raises SearchTermError for a term too short or too long.

    `user` decides which restricted requests may be found under the patient's identity (the module's docstring)."""
    today = today or timezone.localdate(clock.now(), timezone=tenant.tzinfo)
    parsed = parse_term(term, today=today)
    sql, params = _search_sql(tenant=tenant, term=parsed, user=user)
    # The candidate functions take the tenant from the signed scope: a page or API call already acts for `tenant`;
    # other callers (a platform job, a shell) act for it here.
    acting = nullcontext() if rls.current().tenant_id == tenant.pk else rls.tenant_scope(tenant.pk)
    with acting, connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    hits = [SearchHit(request_id=pk, score=float(score), kinds=_ordered(kinds)) for pk, score, kinds in found]
    return SearchResults(tenant=tenant, term=parsed, hits=hits[:SEARCH_LIMIT], more=len(hits) > SEARCH_LIMIT)


def _ordered(kinds: list[str]) -> tuple[str, ...]:
    return tuple(kind for kind in MatchKind.ORDER if kind in kinds)


# --- The statement ---------------------------------------------------------------------------------------------
# Each kind of match is one branch of a UNION ALL giving (request id, kind, score, received_at); the outer query
# keeps each request once with its best score and every kind it matched. Every branch names the tenant, which is also
# the first column of each index.
#
# The branches that compare an expression (a tracking number without hyphens, an upper-case MRN, a phone's digits)
# or a similarity (pg_trgm's `%`) take their candidates from the SECURITY DEFINER functions of
# workflow/migrations/0021: under row-level security PostgreSQL uses an index for a condition only when every
# function in it is leakproof, and these are not, so written here they would read the tenant's every row. The
# functions run as the owner, filter on the signed scope's tenant themselves, and return ids and scores only. A date
# of birth is a plain column compared with `=`, which its index serves under the policy as it is.

_FULL_NAME = "(p.first_name || ' ' || p.last_name)"


def _search_sql(*, tenant: Tenant, term: SearchTerm, user: Any) -> tuple[str, dict[str, Any]]:
    patient = Patient._meta.db_table
    request = RecordRequest._meta.db_table
    params: dict[str, Any] = {
        "tenant": tenant.pk,
        "tracking": term.tracking,
        "mrn": term.mrn,
        "text": term.text,
        "threshold": SIMILARITY_THRESHOLD,
        "candidates": NAME_CANDIDATES,
        "requestor_candidates": REQUESTOR_CANDIDATES,
        "limit": SEARCH_LIMIT + 1,
    }
    # Requests found through a patient: not a restricted one the user may not open (the module's docstring).
    openable = ""
    if tenant.restricted_requests_need_break_glass:
        params["user"] = user.pk
        grant = ""
        if role_in(user, tenant) in SUPERVISING_ROLES:
            params["now"] = clock.now()
            grant = (
                f" OR EXISTS (SELECT 1 FROM {BreakGlassGrant._meta.db_table} g WHERE g.tenant_id = %(tenant)s "
                "AND g.request_id = r.id AND g.user_id = %(user)s AND g.expires_at > %(now)s)"
            )
        openable = f" AND (r.sensitive_categories = '{{}}' OR r.assignee_id = %(user)s{grant})"

    def through_patients(kind: str, patients: str) -> str:
        return (
            f"SELECT r.id, '{kind}' AS kind, h.score, r.received_at FROM ({patients}) h "
            f"JOIN {request} r ON r.tenant_id = %(tenant)s AND r.patient_id = h.id{openable}"
        )

    def through_requestors(requestors: str) -> str:
        # A law firm or an insurer may have sent thousands of requests: each requestor's most recent ones only, as
        # many as a page can list (its older requests rank below them and would not be shown).
        return (
            f"WITH h AS ({requestors}) SELECT r.request_id AS id, h.kind, h.score, r.received_at FROM h "
            "JOIN workflow_search_recent_requests(ARRAY(SELECT id FROM h), %(limit)s) r ON r.requestor_id = h.id"
        )

    real_patient = "p.tenant_id = %(tenant)s AND NOT p.is_placeholder"
    branches = [
        f"SELECT r.id, '{MatchKind.TRACKING_NUMBER}' AS kind, {_EXACT_SCORE[MatchKind.TRACKING_NUMBER]} AS score, "
        f"r.received_at FROM workflow_search_requests_by_tracking(%(tracking)s) h "
        f"JOIN {request} r ON r.tenant_id = %(tenant)s AND r.id = h.request_id",
        through_patients(
            MatchKind.MRN,
            f"SELECT patient_id AS id, {_EXACT_SCORE[MatchKind.MRN]} AS score "
            "FROM workflow_search_patients_by_mrn(%(mrn)s)",
        ),
    ]
    if term.date_of_birth is not None:
        # A plain column compared with `=`: its index serves the search under the tenant policy too.
        params["dob"] = term.date_of_birth
        if term.name_with_date:
            params["name_with_date"] = term.name_with_date
            branches.append(
                through_patients(
                    MatchKind.PATIENT_NAME_AND_DOB,
                    f"SELECT p.id, {_NAME_AND_DOB_BASE} + similarity({_FULL_NAME}, %(name_with_date)s) AS score "
                    f"FROM {patient} p WHERE {real_patient} AND p.date_of_birth = %(dob)s "
                    f"AND similarity({_FULL_NAME}, %(name_with_date)s) >= %(threshold)s",
                )
            )
        else:
            branches.append(
                through_patients(
                    MatchKind.DATE_OF_BIRTH,
                    f"SELECT p.id, {_EXACT_SCORE[MatchKind.DATE_OF_BIRTH]} AS score FROM {patient} p "
                    f"WHERE {real_patient} AND p.date_of_birth = %(dob)s",
                )
            )
    if term.phones:
        params["phones"] = list(term.phones)
        branches.append(
            through_requestors(
                f"SELECT requestor_id AS id, '{MatchKind.REQUESTOR_PHONE}' AS kind, "
                f"{_EXACT_SCORE[MatchKind.REQUESTOR_PHONE]} AS score "
                "FROM workflow_search_requestors_by_phone(%(phones)s::text[])"
            )
        )
    if term.has_letters and term.date_of_birth is None:
        branches.append(
            through_patients(
                MatchKind.PATIENT_NAME,
                "SELECT patient_id AS id, score FROM workflow_search_patients_by_name(%(text)s, %(candidates)s)",
            )
        )
        email_score = _EXACT_SCORE[MatchKind.REQUESTOR_EMAIL]
        branches.append(
            through_requestors(
                f"SELECT requestor_id AS id, CASE WHEN email_exact THEN '{MatchKind.REQUESTOR_EMAIL}' "
                f"WHEN email_score >= name_score AND email_score >= organization_score "
                f"THEN '{MatchKind.REQUESTOR_EMAIL}' "
                f"WHEN organization_score > name_score THEN '{MatchKind.REQUESTOR_ORGANIZATION}' "
                f"ELSE '{MatchKind.REQUESTOR_NAME}' END AS kind, "
                f"CASE WHEN email_exact THEN {email_score} "
                "ELSE greatest(name_score, organization_score, email_score) END AS score "
                "FROM workflow_search_requestors_by_text(%(text)s, %(requestor_candidates)s)"
            )
        )
    # Each branch keeps its best SEARCH_LIMIT + 1 only (a common surname or an insurer brings thousands): a request
    # below them in its branch ranks below them in the answer too.
    union = "\nUNION ALL\n".join(
        f"(SELECT * FROM ({branch}) b ORDER BY score DESC, received_at DESC, id LIMIT %(limit)s)" for branch in branches
    )
    sql = (
        f"SELECT id, max(score) AS score, array_agg(DISTINCT kind) FROM ({union}) hits "
        "GROUP BY id ORDER BY max(score) DESC, max(received_at) DESC, id LIMIT %(limit)s"
    )
    return sql, params


def search_access_record(*, results: SearchResults, actor: Any, request: Any, where: str) -> None:
    """The search's access event: how many requests it listed and the kinds matched, with the term's keyed hash
    (term_digest), never the term. `where` says which door ("page", "api"); `request` is the HTTP request."""
    count = f"{len(results.hits)}{'+' if results.more else ''}"
    kinds = ", ".join(MatchKind.LABELS[kind] for kind in results.kinds) or "nothing"
    access_record(
        tenant=results.tenant,
        actor=actor,
        action=AccessAction.SEARCH_REQUESTS,
        request=request,
        detail=f"search ({where}): {count} results; matched {kinds}; term {term_digest(results.term.text)}",
    )
