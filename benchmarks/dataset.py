"""A large, realistic data set for benchmarks, built in SQL (INSERT ... SELECT generate_series), not row by row.

    from benchmarks.dataset import setup_django, ensure_dataset
    setup_django()                  # the benchmark database: the configured one with a `_bench` suffix
    ensure_dataset(requests=1_000_000)

Twenty tenants named `bench-...` across time zones and states, a few staff each, patients, requestors and requests
whose shape follows portal/demo.py: request types and channels with the demo's weights, receipts skewed recent over
three years, about 15% still open (received, validated, in fulfillment, exception), the rest delivered, closed,
denied or cancelled; due dates computed from receipt as workflow/deadlines.py does (30 days, 60 for an accounting;
internal target in business days). Rows are written without history or transition-log rows: the benchmarks that use
this set read and refresh requests, they do not page through timelines.

Built once, in one transaction (a crash leaves nothing half-built); a later call finds the tenants and returns their
statistics. Only rows of `bench-` tenants are created or read.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse, urlunparse

SLUG_PREFIX = "bench-"
# The data set is anchored on a fixed moment so that two builds with the same seed are the same data set.
ANCHOR = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

# (name, time zone, state, internal target in business days, stalled after days, type weights)
TENANTS = [
    ("Riverside Regional Medical Center", "America/New_York", "NY", 5, 5, {"legal": 10}),
    ("Lakeshore Health", "America/Chicago", "IL", 5, 5, {}),
    ("Pacific Crest Hospital", "America/Los_Angeles", "CA", 4, 3, {"right_of_access": 5}),
    ("Desert Valley Medical", "America/Phoenix", "AZ", 5, 5, {}),
    ("Mile High Health", "America/Denver", "CO", 6, 7, {}),
    ("Aloha Medical Center", "Pacific/Honolulu", "HI", 5, 5, {}),
    ("Northern Lights Hospital", "America/Anchorage", "AK", 7, 7, {}),
    ("Lone Star Health System", "America/Chicago", "TX", 5, 4, {"legal": 15}),
    ("Sunshine Coast Hospital", "America/New_York", "FL", 5, 5, {}),
    ("Peach State Medical", "America/New_York", "GA", 5, 5, {"continuity_of_care": 8}),
    ("Bay State Health", "America/New_York", "MA", 3, 3, {}),
    ("Keystone Regional", "America/New_York", "PA", 5, 5, {}),
    ("Evergreen Medical", "America/Los_Angeles", "WA", 5, 5, {}),
    ("Rose City Hospital", "America/Los_Angeles", "OR", 5, 6, {}),
    ("Great Lakes Health", "America/Detroit", "MI", 5, 5, {}),
    ("Buckeye Medical Center", "America/New_York", "OH", 10, 10, {}),
    ("Twin Cities Health", "America/Chicago", "MN", 5, 5, {}),
    ("Bluegrass Regional", "America/Kentucky/Louisville", "KY", 5, 5, {}),
    ("Crescent City Medical", "America/Chicago", "LA", 5, 5, {"legal": 5}),
    ("Silver State Hospital", "America/Los_Angeles", "NV", 5, 5, {}),
]
STAFF_PER_TENANT = [("specialist", 3), ("supervisor", 1), ("admin", 1)]
REQUESTS_PER_PATIENT = 2
REQUESTS_PER_REQUESTOR = 100


# --- Django setup, shared by every benchmark ------------------------------------------------------------


def _bench_database_url(suffix: str) -> str:
    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/") or "openroi"
    if not name.endswith(suffix):
        name += suffix
    return urlunparse(url._replace(path="/" + name))


def _ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        name = parsed.path.lstrip("/")
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(suffix: str = "_bench", *, migrate: bool = True) -> None:
    """Point Django at a benchmark database (the configured one with `suffix`; created if missing), set it up and
    migrate it. Every benchmark starts here, so none ever touches the data of `make run`. Client processes of a
    benchmark whose parent already migrated pass migrate=False."""
    os.environ["DATABASE_URL"] = _bench_database_url(suffix)
    _ensure_database(os.environ["DATABASE_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roi.settings")
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # Seeding sends requestor emails; kept in memory, not printed between the figures.
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    import django

    django.setup()
    if not migrate:
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from roi.staticfiles import collect_static_if_stale

    collect_static_if_stale()  # pages render with the manifest storage of DEBUG off


# --- The data set -----------------------------------------------------------------------------------------------

PATIENTS_SQL = """
WITH inserted AS (
    INSERT INTO workflow_patient (tenant_id, mrn, first_name, last_name, date_of_birth, created_at)
    SELECT %(tenant_id)s, 'B' || lpad(g::text, 8, '0'),
           (ARRAY['Maria','James','Linda','Robert','Aisha','Wei','Carlos','Fatima','John','Priya','Emma','Noah'])
               [1 + floor(random() * 12)::int],
           (ARRAY['Garcia','Smith','Nguyen','Johnson','Patel','Williams','Kim','Brown','Lopez','Okafor','Chen'])
               [1 + floor(random() * 11)::int],
           date '1932-01-01' + floor(random() * 32000)::int,
           %(anchor)s::timestamptz - interval '3 years'
    FROM generate_series(1, %(count)s) AS g
    ORDER BY g
    RETURNING id
)
SELECT min(id), max(id), count(*) FROM inserted
"""

REQUESTORS_SQL = """
WITH inserted AS (
    INSERT INTO workflow_requestor (tenant_id, kind, name, organization, email, phone, fax, address_line1,
                                    address_line2, city, state, postal_code, language, created_at)
    SELECT %(tenant_id)s, k.kind, 'Requestor ' || g, k.organization, 'records' || g || '@example.com',
           '(555) 555-' || lpad((g %% 10000)::text, 4, '0'), '(555) 556-' || lpad((g %% 10000)::text, 4, '0'),
           g || ' Main Street', '', 'Springfield', %(state)s, lpad((g %% 99999)::text, 5, '0'), 'en',
           %(anchor)s::timestamptz - interval '3 years'
    FROM generate_series(1, %(count)s) AS g
    CROSS JOIN LATERAL (SELECT random() AS u, g AS gg) r
    CROSS JOIN LATERAL (
        SELECT CASE WHEN u < 0.30 THEN 'patient' WHEN u < 0.40 THEN 'personal_representative'
                    WHEN u < 0.65 THEN 'attorney' WHEN u < 0.80 THEN 'insurer' WHEN u < 0.92 THEN 'provider'
                    WHEN u < 0.97 THEN 'government' ELSE 'other' END AS kind,
               CASE WHEN u < 0.40 THEN '' ELSE 'Organisation ' || (gg %% 500) END AS organization
    ) k
    ORDER BY g
    RETURNING id
)
SELECT min(id), max(id), count(*) FROM inserted
"""

# One tenant's requests. Each row draws its uniforms once (x), then derives its phase and age (a), dates (b) and
# states (c). Weights: types and channels as portal/demo.py; ~15% open.
REQUESTS_SQL = """
INSERT INTO workflow_recordrequest (
    tenant_id, tracking_number, patient_id, requestor_id, request_type, channel, received_at, state,
    state_before_exception, aging_band, is_stalled, priority_score, priority_reasons, priority_boost,
    exception_reason, exception_since, exception_seconds_before, legal_due_date, internal_target_date,
    record_types, scope_notes, sensitive_categories, urgency_date, urgency_reason, delivery_method,
    delivery_destination, needs_intake_completion, intake_completed_at, delivery_evidence, denial_basis,
    delivered_at, closed_at, created_at, updated_at, last_activity_at)
SELECT %(tenant_id)s, 'ROI-B' || lpad((%(offset)s + g)::text, 9, '0'),
       %(patient_min)s + floor(u_patient * %(patient_count)s)::bigint,
       %(requestor_min)s + floor(u_requestor * %(requestor_count)s)::bigint,
       request_type, channel, received_at, state,
       CASE WHEN state = 'exception' THEN (ARRAY['received','validated','in_fulfillment'])[1 + floor(u_sub2 * 3)::int]
            ELSE '' END,
       0, false, 0, '',
       CASE WHEN is_open AND u_misc > 0.97 THEN 25 WHEN is_open AND u_misc > 0.94 THEN 10 ELSE 0 END,
       CASE WHEN state = 'exception' THEN (ARRAY['incomplete_authorization','expired_authorization',
            'identity_not_verified','scope_unclear','awaiting_department','legal_review','payment_pending'])
            [1 + floor(u_exception * 7)::int] ELSE '' END,
       CASE WHEN state = 'exception' THEN exception_since END,
       CASE WHEN u_exception < 0.10 THEN floor(u_sub2 * 12 * 86400)::int ELSE 0 END,
       local_received + CASE WHEN request_type = 'accounting' THEN 60 ELSE 30 END,
       -- %(target_days)s business days after receipt (a weekend receipt counts from the Friday before)
       start_friday + %(target_days)s + 2 * ((extract(isodow FROM start_friday)::int - 1 + %(target_days)s) / 5),
       '{discharge_summary,lab}', '', '{}',
       CASE WHEN u_misc < 0.05 THEN local_received + 7 + floor(u_sub2 * 35)::int END,
       CASE WHEN u_misc < 0.05 THEN 'Appointment' ELSE '' END,
       CASE WHEN channel = 'fax' THEN 'fax' WHEN channel = 'portal' THEN 'portal_download' ELSE 'mail' END,
       CASE WHEN channel = 'fax' THEN '(555) 556-0100' WHEN channel = 'portal' THEN 'patient@example.com'
            ELSE '100 Main Street, Springfield IL 62701' END,
       false,
       CASE WHEN state <> 'received' THEN received_at + interval '2 hours' END,
       CASE WHEN state IN ('delivered','closed') THEN 'Fax confirmation ' || g ELSE '' END,
       CASE WHEN state = 'denied' THEN 'not_held' ELSE '' END,
       CASE WHEN state IN ('delivered','closed') THEN finished_at END,
       CASE WHEN state IN ('closed','denied','cancelled') THEN finished_at + interval '1 hour' END,
       received_at, last_activity_at, last_activity_at
FROM generate_series(1, %(count)s) AS g
CROSS JOIN LATERAL (
    SELECT random() AS u_state, random() AS u_sub, random() AS u_sub2, random() AS u_age, random() AS u_type,
           random() AS u_channel, random() AS u_activity, random() AS u_exception, random() AS u_misc,
           random() AS u_patient, random() AS u_requestor, g AS gg
) x
CROSS JOIN LATERAL (
    SELECT u_state < 0.15 AS is_open,
           CASE WHEN u_state < 0.15
                -- open work is mostly recent, with a tail of stuck requests
                THEN 40 * power(u_age, 1.8) + CASE WHEN u_misc BETWEEN 0.5 AND 0.54 THEN 90 * u_sub2 ELSE 0 END
                ELSE 1095 * power(u_age, 1.6) + 0.5 END AS age_days,
           CASE WHEN u_type < 0.34 THEN 'right_of_access' WHEN u_type < 0.66 THEN 'authorization'
                WHEN u_type < 0.78 THEN 'continuity_of_care' WHEN u_type < 0.90 THEN 'legal'
                WHEN u_type < 0.93 THEN 'accounting' ELSE 'other' END AS request_type,
           CASE WHEN u_channel < 0.34 THEN 'fax' WHEN u_channel < 0.48 THEN 'mail' WHEN u_channel < 0.64 THEN 'portal'
                WHEN u_channel < 0.78 THEN 'email' WHEN u_channel < 0.83 THEN 'phone' WHEN u_channel < 0.95 THEN 'api'
                ELSE 'walk_in' END AS channel
) a
CROSS JOIN LATERAL (
    SELECT %(anchor)s::timestamptz - age_days * interval '1 day' AS received_at,
           CASE WHEN is_open
                THEN CASE WHEN u_sub < 0.35 THEN 'received' WHEN u_sub < 0.55 THEN 'validated'
                          WHEN u_sub < 0.85 THEN 'in_fulfillment' ELSE 'exception' END
                ELSE CASE WHEN u_sub < 0.75 THEN 'closed' WHEN u_sub < 0.85 THEN 'delivered'
                          WHEN u_sub < 0.89 THEN 'denied' ELSE 'cancelled' END END AS state
) b
CROSS JOIN LATERAL (
    SELECT (received_at AT TIME ZONE %(timezone)s)::date AS local_received,
           -- finished within the age, 1 to ~25 days after receipt
           received_at + LEAST(age_days - 0.01, 1 + 24 * power(u_activity, 1.5)) * interval '1 day' AS finished_at,
           received_at + age_days * (0.3 + 0.7 * u_exception) * interval '1 day' AS exception_since,
           -- open work: last touched somewhere between receipt and now, often recently
           received_at + age_days * (1 - power(u_activity, 3)) * interval '1 day' AS open_activity_at
) c
CROSS JOIN LATERAL (
    SELECT local_received - GREATEST(extract(isodow FROM local_received)::int - 5, 0) AS start_friday,
           CASE WHEN NOT is_open THEN finished_at + interval '1 hour'
                WHEN state = 'exception' THEN GREATEST(open_activity_at, exception_since)
                ELSE open_activity_at END AS last_activity_at
) d
"""


def _bench_tenants():
    from roi.models import Tenant

    return Tenant.objects.filter(slug__startswith=SLUG_PREFIX)


def dataset_stats() -> dict[str, Any]:
    from django.db import connection

    tenant_ids = list(_bench_tenants().values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, count(*) FROM workflow_recordrequest WHERE tenant_id = ANY(%s) GROUP BY state",
            [tenant_ids],
        )
        by_state = dict(cursor.fetchall())
    open_states = ("received", "validated", "in_fulfillment", "exception")
    return {
        "tenants": len(tenant_ids),
        "tenant_ids": tenant_ids,
        "requests": sum(by_state.values()),
        "open_requests": sum(by_state.get(s, 0) for s in open_states),
        "by_state": by_state,
    }


def _tenant_sizes(requests: int, tenants: int) -> list[int]:
    """Unequal tenants, as in life: the largest about six times the smallest."""
    weights = [1 / (i + 1) ** 0.6 for i in range(tenants)]
    sizes = [int(requests * w / sum(weights)) for w in weights]
    sizes[0] += requests - sum(sizes)
    return sizes


def ensure_dataset(*, requests: int = 1_000_000, tenants: int = 20, seed: int = 42) -> dict[str, Any]:
    """Build the data set in the current database unless its tenants are already there; return its statistics."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from roi.models import Membership, Tenant, User

    if _bench_tenants().exists():
        stats = dataset_stats()
        print(f"data set found: {stats['tenants']} tenants, {stats['requests']:,} requests "
              f"({stats['open_requests']:,} open)", flush=True)  # fmt: skip
        return stats
    if not 1 <= tenants <= len(TENANTS):
        raise ValueError(f"tenants must be between 1 and {len(TENANTS)}")

    started = time.perf_counter()
    print(f"building the data set: {requests:,} requests across {tenants} tenants (once per database)", flush=True)
    password = make_password(None)  # unusable: nobody logs in as a benchmark user
    offset = 0
    with transaction.atomic(), connection.cursor() as cursor:
        # setseed takes [-1, 1]; random() in one backend then repeats exactly for the same seed.
        cursor.execute("SELECT setseed(%s)", [(seed % 2000) / 1000 - 1])
        for index, size in enumerate(_tenant_sizes(requests, tenants)):
            name, tz, state, target_days, stalled_days, weights = TENANTS[index]
            slug = SLUG_PREFIX + name.lower().split()[0].replace("'", "")
            tenant = Tenant.objects.create(
                name=f"{name} (benchmark)",
                slug=f"{slug}-{index + 1}",
                timezone=tz,
                jurisdiction=state,
                internal_target_business_days=target_days,
                stalled_after_days=stalled_days,
                priority_type_weights=weights,
            )
            users = User.objects.bulk_create(
                User(username=f"{tenant.slug}-{role}-{n}", first_name=role.title(), last_name=str(n),
                     email=f"{role}{n}@{tenant.slug}.example.org", password=password)
                for role, count in STAFF_PER_TENANT
                for n in range(1, count + 1)
            )  # fmt: skip
            roles = [role for role, count in STAFF_PER_TENANT for _ in range(count)]
            Membership.objects.bulk_create(
                Membership(tenant=tenant, user=user, role=role) for user, role in zip(users, roles, strict=True)
            )
            common = {"tenant_id": tenant.pk, "anchor": ANCHOR, "state": state}
            cursor.execute(PATIENTS_SQL, {**common, "count": max(1, size // REQUESTS_PER_PATIENT)})
            patient_min, patient_max, patient_count = cursor.fetchone()
            cursor.execute(REQUESTORS_SQL, {**common, "count": max(1, size // REQUESTS_PER_REQUESTOR)})
            requestor_min, requestor_max, requestor_count = cursor.fetchone()
            # Ids are drawn as min + k: one INSERT in a database nobody else writes gives consecutive ids.
            assert patient_max - patient_min + 1 == patient_count, "patient ids are not consecutive"
            assert requestor_max - requestor_min + 1 == requestor_count, "requestor ids are not consecutive"
            cursor.execute(
                REQUESTS_SQL,
                {
                    **common,
                    "count": size,
                    "offset": offset,
                    "timezone": tz,
                    "target_days": target_days,
                    "patient_min": patient_min,
                    "patient_count": patient_count,
                    "requestor_min": requestor_min,
                    "requestor_count": requestor_count,
                },
            )
            offset += size
            print(f"  {tenant.slug:<32} {size:>9,} requests   total {offset:>10,}   "
                  f"{time.perf_counter() - started:6.1f} s", flush=True)  # fmt: skip
    with connection.cursor() as cursor:
        for table in ("workflow_recordrequest", "workflow_patient", "workflow_requestor"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    stats = dataset_stats()
    print(f"built in {time.perf_counter() - started:.1f} s: {stats['requests']:,} requests, "
          f"{stats['open_requests']:,} open", flush=True)  # fmt: skip
    return stats


if __name__ == "__main__":
    setup_django()
    ensure_dataset()
