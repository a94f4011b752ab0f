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

Then the events a supervisor's dashboard aggregates (ensure_events: assignees, status calls, portal status views,
exception episodes, escalations, extensions, duplicates, release packets, QC reviews, deliveries and resends), added
once, in their own transaction, also to a data set built before they existed (about 1.5 minutes for 1,000,000).

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


def _bench_database_url(url: str, suffix: str) -> str:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/") or "openroi"
    if not name.endswith(suffix):
        name += suffix
    return urlunparse(parsed._replace(path="/" + name))


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
    benchmark whose parent already migrated pass migrate=False.

    Row-level security (roi/rls.py): the owner (DATABASE_OWNER_URL, given by `make bench`) creates the database and
    runs the migrations; everything else, measured code included, runs as the app role (DATABASE_URL), as in
    production. Without DATABASE_OWNER_URL, DATABASE_URL's role does both."""
    app_url = _bench_database_url(os.environ["DATABASE_URL"], suffix)
    owner_url = _bench_database_url(os.environ.get("DATABASE_OWNER_URL") or app_url, suffix)
    os.environ["DATABASE_URL"] = app_url
    if migrate:
        _ensure_database(owner_url)
        if os.environ.get("DATABASE_OWNER_URL"):
            os.environ["DATABASE_OWNER_URL"] = owner_url  # roi/management/commands/migrate.py logs in as it
    else:
        os.environ.pop("DATABASE_OWNER_URL", None)  # a client process is the app: the app role only
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roi.settings")
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # The test client speaks plain http; with DEBUG off every page would be a redirect to https.
    os.environ["SECURE_SSL_REDIRECT"] = "false"
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
    print(f"database {urlparse(app_url).path.lstrip('/')}: {role_summary()}", flush=True)


def role_summary() -> str:
    """Who the benchmark's queries run as, and whether the tenant wall applies to it: printed beside the figures,
    which differ between the two."""
    from roi import rls

    report = rls.role_report()
    if report["enforced"]:
        return f"connected as {report['role']}, row-level security enforced"
    why = (
        "superuser" if report["superuser"] else "BYPASSRLS" if report["bypassrls"] else "tables it owns or unprotected"
    )
    return f"connected as {report['role']} ({why}): row-level security NOT in force"


def bypass(where: str) -> Any:
    """The tenant wall lifted, recorded (a PlatformAccess row), for building and resetting benchmark data across
    tenants: never around what is measured. Only the platform credential can (DATABASE_OWNER_URL): from the first
    bypass on, this process logs in with it, and runs everything else as the app role all the same (roi/rls.py)."""
    from django.db import connection

    from roi import rls

    if not rls.is_platform_login(connection) and os.environ.get("DATABASE_OWNER_URL"):
        rls.use_platform_credential()
    return rls.bypass("benchmark data set", where=f"benchmarks/{where}")


def vacuum_analyze(tables: list[str] | tuple[str, ...] = ()) -> None:
    """VACUUM ANALYZE after a bulk load, so that index-only scans can be used (visibility map) and the planner knows
    the new rows. Only a table's owner may vacuum it, and not inside a transaction: a connection of its own as the
    owner (DATABASE_OWNER_URL, else DATABASE_URL), outside any tenant scope."""
    import psycopg

    with psycopg.connect(os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"], autocommit=True) as conn:
        for table in tables or [""]:
            conn.execute(f"VACUUM ANALYZE {table}")


# --- The data set -----------------------------------------------------------------------------------------------

# Names as common as they are in the United States (the Census Bureau's most frequent surnames and given names): a
# name search must find one patient among many similar names, and a common surname must match hundreds of patients,
# as it does in a hospital. An index drawn as floor(n * random()^2) picks the first names of each list most often.
FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Christopher",
    "Karen",
    "Charles",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Margaret",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Andrew",
    "Emily",
    "Paul",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Jason",
    "Sharon",
    "Edward",
    "Laura",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Dorothy",
    "Jacob",
    "Amy",
    "Gary",
    "Kathleen",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Emma",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Nicole",
    "Scott",
    "Anna",
    "Brandon",
    "Samantha",
    "Benjamin",
    "Katherine",
    "Samuel",
    "Christine",
    "Gregory",
    "Debra",
    "Alexander",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Frank",
    "Janet",
    "Raymond",
    "Maria",
    "Jack",
    "Olivia",
    "Dennis",
    "Heather",
    "Jerry",
    "Helen",
    "Tyler",
    "Catherine",
    "Aaron",
    "Diane",
    "Jose",
    "Julie",
    "Adam",
    "Victoria",
    "Nathan",
    "Joyce",
    "Henry",
    "Lauren",
    "Zachary",
    "Kelly",
    "Douglas",
    "Christina",
    "Peter",
    "Ruth",
    "Kyle",
    "Joan",
    "Noah",
    "Virginia",
    "Ethan",
    "Judith",
    "Jeremy",
    "Evelyn",
    "Christian",
    "Hannah",
    "Walter",
    "Andrea",
    "Keith",
    "Megan",
    "Austin",
    "Cheryl",
    "Roger",
    "Jacqueline",
    "Terry",
    "Madison",
    "Sean",
    "Teresa",
    "Gerald",
    "Abigail",
    "Carl",
    "Sophia",
    "Dylan",
    "Martha",
    "Harold",
    "Sara",
    "Jordan",
    "Gloria",
    "Jesse",
    "Janice",
    "Bryan",
    "Kathryn",
    "Lawrence",
    "Ann",
    "Arthur",
    "Isabella",
    "Gabriel",
    "Judy",
    "Bruce",
    "Charlotte",
    "Logan",
    "Julia",
    "Billy",
    "Grace",
    "Joe",
    "Amber",
    "Alan",
    "Alice",
    "Juan",
    "Jean",
    "Elijah",
    "Denise",
    "Willie",
    "Frances",
    "Albert",
    "Danielle",
    "Wayne",
    "Marilyn",
    "Randy",
    "Natalie",
    "Mason",
    "Beverly",
    "Vincent",
    "Diana",
    "Liam",
    "Brittany",
    "Roy",
    "Theresa",
    "Bobby",
    "Kayla",
    "Caleb",
    "Alexis",
    "Bradley",
    "Doris",
    "Russell",
    "Lori",
    "Lucas",
    "Tiffany",
    "Aisha",
    "Wei",
    "Fatima",
    "Priya",
    "Carlos",
    "Luis",
    "Miguel",
    "Ana",
    "Sofia",
    "Mohammed",
    "Ahmed",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Chidi",
    "Ngozi",
    "Oluwaseun",
    "Dmitri",
    "Olga",
    "Giovanni",
    "Rosa",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Chen",
    "Freeman",
    "Webb",
    "Tucker",
    "Guzman",
    "Burns",
    "Crawford",
    "Olson",
    "Simpson",
    "Porter",
    "Hunter",
    "Gordon",
    "Mendez",
    "Silva",
    "Shaw",
    "Snyder",
    "Mason",
    "Dixon",
    "Munoz",
    "Hunt",
    "Hicks",
    "Holmes",
    "Palmer",
    "Wagner",
    "Black",
    "Robertson",
    "Boyd",
    "Rose",
    "Stone",
    "Salazar",
    "Fox",
    "Warren",
    "Mills",
    "Meyer",
    "Rice",
    "Schmidt",
    "Garza",
    "Daniels",
    "Ferguson",
    "Nichols",
    "Stephens",
    "Soto",
    "Weaver",
    "Ryan",
    "Gardner",
    "Payne",
    "Grant",
    "Dunn",
    "Kelley",
    "Spencer",
    "Hawkins",
    "Arnold",
    "Pierce",
    "Vazquez",
    "Hansen",
    "Peters",
    "Santos",
    "Hart",
    "Bradley",
    "Knight",
    "Elliott",
    "Cunningham",
    "Duncan",
    "Armstrong",
    "Hudson",
    "Carroll",
    "Lane",
    "Riley",
    "Andrews",
    "Alvarado",
    "Ray",
    "Delgado",
    "Berry",
    "Perkins",
    "Hoffman",
    "Johnston",
    "Matthews",
    "Pena",
    "Richards",
    "Contreras",
    "Willis",
    "Carpenter",
    "Lawrence",
    "Sandoval",
    "Guerrero",
    "George",
    "Chapman",
    "Rios",
    "Estrada",
    "Ortega",
    "Watkins",
    "Greene",
    "Nunez",
    "Wheeler",
    "Valdez",
    "Harper",
    "Burke",
    "Larson",
    "Santiago",
    "Maldonado",
    "Morrison",
    "Franklin",
    "Carlson",
    "Austin",
    "Dominguez",
    "Carr",
    "Lawson",
    "Jacobs",
    "Obrien",
    "Lynch",
    "Singh",
    "Vega",
    "Bishop",
    "Montgomery",
    "Oliver",
    "Jensen",
    "Harvey",
    "Williamson",
    "Gilbert",
    "Dean",
    "Sims",
    "Espinoza",
    "Howell",
    "Li",
    "Wong",
    "Reid",
    "Hanson",
    "Le",
    "McCoy",
    "Garrett",
    "Burton",
    "Fuller",
    "Wang",
    "Weber",
    "Welch",
    "Rojas",
    "Lucas",
    "Marquez",
    "Fields",
    "Park",
    "Yang",
    "Little",
    "Banks",
    "Padilla",
    "Day",
    "Walsh",
    "Bowman",
    "Schultz",
    "Luna",
    "Fowler",
    "Mejia",
    "Davidson",
    "Acosta",
    "Brewer",
    "May",
    "Holland",
    "Juarez",
    "Newman",
    "Pearson",
    "Curtis",
    "Cortez",
    "Douglas",
    "Schneider",
    "Joseph",
    "Barrett",
    "Navarro",
    "Figueroa",
    "Keller",
    "Avila",
    "Wade",
    "Molina",
    "Stanley",
    "Hopkins",
    "Campos",
    "Barnett",
    "Bates",
    "Chambers",
    "Caldwell",
    "Beck",
    "Lambert",
    "Miranda",
    "Byrd",
    "Craig",
    "Ayala",
    "Lowe",
    "Frazier",
    "Powers",
    "Neal",
    "Leonard",
    "Gregory",
    "Carrillo",
    "Sutton",
    "Fleming",
    "Rhodes",
    "Shelton",
    "Schwartz",
    "Norris",
    "Jennings",
    "Watts",
    "Duran",
    "Walters",
    "Cohen",
    "McDaniel",
    "Moran",
    "Parks",
    "Steele",
    "Vaughn",
    "Becker",
    "Holt",
    "Deleon",
    "Barker",
    "Terry",
    "Hale",
    "Leon",
    "Hail",
    "Okafor",
    "Achterberg",
    "Nakamura",
    "Kowalski",
    "Novak",
    "Ivanova",
    "Haddad",
    "Mensah",
    "Okonkwo",
    "Lindqvist",
    "Bergstrom",
    "Fitzgerald",
]
LAW_FIRM_WORDS = ("LLP", "Law Group", "& Associates", "Legal", "Law Offices", "PC")
INSURERS = (
    "Blue Cross Claims", "United Health Records", "Aetna Medical Review", "Cigna Records Unit", "Humana Claims",
    "Liberty Mutual Claims", "State Farm Claims", "Progressive Casualty", "Social Security DDS", "Veterans Affairs",
)  # fmt: skip

PATIENTS_SQL = """
WITH inserted AS (
    INSERT INTO workflow_patient (tenant_id, mrn, first_name, last_name, date_of_birth, created_at)
    SELECT %(tenant_id)s, 'B' || lpad(g::text, 8, '0'),
           (%(first_names)s::text[])[1 + floor(cardinality(%(first_names)s::text[]) * random() ^ 2)::int],
           (%(last_names)s::text[])[1 + floor(cardinality(%(last_names)s::text[]) * random() ^ 2)::int],
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
    SELECT %(tenant_id)s, k.kind, k.first || ' ' || k.last, k.organization,
           lower(left(k.first, 1) || k.last) || g || '@' || CASE WHEN k.organization = '' THEN 'mail.example.com'
               ELSE lower(regexp_replace(k.organization, '[^A-Za-z]', '', 'g')) || '.example.com' END,
           '(555) 555-' || lpad((g %% 10000)::text, 4, '0'), '(555) 556-' || lpad((g %% 10000)::text, 4, '0'),
           g || ' Main Street', '', 'Springfield', %(state)s, lpad((g %% 99999)::text, 5, '0'), 'en',
           %(anchor)s::timestamptz - interval '3 years'
    FROM generate_series(1, %(count)s) AS g
    CROSS JOIN LATERAL (SELECT random() AS u, g AS gg) r
    CROSS JOIN LATERAL (
        SELECT CASE WHEN u < 0.30 THEN 'patient' WHEN u < 0.40 THEN 'personal_representative'
                    WHEN u < 0.65 THEN 'attorney' WHEN u < 0.80 THEN 'insurer' WHEN u < 0.92 THEN 'provider'
                    WHEN u < 0.97 THEN 'government' ELSE 'other' END AS kind,
               CASE WHEN u < 0.40 THEN ''
                    WHEN u < 0.80 THEN (%(last_names)s::text[])[1 + (gg %% 97)] || ' '
                         || (%(law_words)s::text[])[1 + (gg %% 6)]
                    ELSE (%(insurers)s::text[])[1 + (gg %% 10)] END AS organization,
               (%(first_names)s::text[])[1 + floor(cardinality(%(first_names)s::text[]) * random() ^ 2)::int] AS first,
               (%(last_names)s::text[])[1 + floor(cardinality(%(last_names)s::text[]) * random() ^ 2)::int] AS last
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
    delivered_at, closed_at, created_at, updated_at, last_activity_at, unencrypted_email_accepted_how)
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
       received_at, last_activity_at, last_activity_at, ''
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


# --- Events: what a supervisor's dashboard aggregates ----------------------------------------------------------
#
# Added to the requests above in one transaction, set-based, and only once (the marker: status calls exist for the
# bench tenants), so a data set built before these existed gets them without a rebuild. Every draw is a hash of a
# row's id and a salt (bench_u below), not random(): the same requests give the same events whichever order
# PostgreSQL visits them in. Shapes:
#   - assignee on most requests (a specialist; 3 in 4 open ones, the rest wait in "claim next"), qc_passed_at on
#     delivered and closed ones; a right-of-access request with an extension has its legal due date moved 30 days;
#     a fifth of the cancelled requests were closed as duplicates of the request before them (same patient);
#   - status calls: about 0.4 per request, mostly while it is open;
#   - portal status views (access events): about 1 per portal request, 0.35 for other channels;
#   - exception episodes: the open one of every request in exception, a resolved one for each request whose
#     exception_seconds_before says it was in exception before;
#   - escalation events: the tenant's default rules, about 3% of requests, 70% acknowledged hours later;
#   - extensions: 5% of right-of-access requests;
#   - release packets, QC reviews and deliveries for requests delivered in the 400 days before ANCHOR (about 380,000
#     of the 850,000 finished ones: enough for any dashboard period, without a million rows each): 6% fail QC once
#     (a failed review of version 1, a passed one of version 2), 4% are resent.

EVENTS_SETUP_SQL = [
    # A uniform draw in [0, 1) from a key and a salt; pg_temp: gone with the session.
    """CREATE OR REPLACE FUNCTION pg_temp.bench_u(key bigint, salt integer) RETURNS double precision
       LANGUAGE sql IMMUTABLE AS $$ SELECT (hashint8extended(key, salt) & 2147483647)::float8 / 2147483648 $$""",
    """DROP TABLE IF EXISTS bench_staff""",
    """CREATE TEMP TABLE bench_staff ON COMMIT DROP AS
       SELECT tenant_id,
              array_agg(user_id ORDER BY user_id) FILTER (WHERE role = 'specialist') AS specialists,
              min(user_id) FILTER (WHERE role = 'supervisor') AS supervisor
       FROM roi_membership WHERE tenant_id = ANY(%(tenant_ids)s) GROUP BY tenant_id""",
]

# (what, statement): run in this order; each returns its row count.
EVENTS_SQL = [
    (
        "requests: assignee, QC passed, extended due dates",
        """
UPDATE workflow_recordrequest r
SET assignee_id = CASE
        WHEN r.state IN ('received', 'validated', 'in_fulfillment', 'exception') AND pg_temp.bench_u(r.id, 1) >= 0.75
            THEN NULL
        WHEN r.state = 'cancelled' AND pg_temp.bench_u(r.id, 1) >= 0.5 THEN NULL
        -- uneven work: the first specialist takes the most
        ELSE s.specialists[1 + floor(power(pg_temp.bench_u(r.id, 2), 1.4) * cardinality(s.specialists))::int] END,
    qc_passed_at = CASE WHEN r.state IN ('delivered', 'closed') THEN r.delivered_at - interval '1 hour' END,
    qc_passed_by_id = CASE WHEN r.state IN ('delivered', 'closed') THEN s.supervisor END,
    legal_due_date = r.legal_due_date
        + CASE WHEN r.request_type = 'right_of_access' AND pg_temp.bench_u(r.id, 3) < 0.05 THEN 30 ELSE 0 END
FROM bench_staff s
WHERE r.tenant_id = s.tenant_id
""",
    ),
    (
        "requests: closed as duplicates",
        """
UPDATE workflow_recordrequest r
SET duplicate_of_id = o.id, patient_id = o.patient_id, requestor_id = o.requestor_id,
    duplicate_reviewed_at = r.closed_at
FROM workflow_recordrequest o
-- the request before it (ids run consecutively within a tenant), when that one stands
WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.state = 'cancelled' AND pg_temp.bench_u(r.id, 5) < 0.2
  AND o.id = r.id - 1 AND o.tenant_id = r.tenant_id AND o.state <> 'cancelled'
""",
    ),
    (
        "intake_extension",
        """
INSERT INTO intake_extension (tenant_id, request_id, original_due_date, new_due_date, reason, granted_by_id,
                              granted_at)
SELECT r.tenant_id, r.id, r.legal_due_date - 30, r.legal_due_date,
       'Records held off-site; retrieval needs more time. Notice sent to the requestor.', r.assignee_id,
       -- before the original due date and before the request finished
       r.received_at + (0.3 + 0.6 * pg_temp.bench_u(r.id, 4))
           * (LEAST(COALESCE(r.delivered_at, r.closed_at, %(anchor)s), r.received_at + interval '29 days')
              - r.received_at)
FROM workflow_recordrequest r
WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.request_type = 'right_of_access' AND pg_temp.bench_u(r.id, 3) < 0.05
ON CONFLICT DO NOTHING
""",
    ),
    (
        "workflow_statuscall",
        """
INSERT INTO workflow_statuscall (tenant_id, request_id, caller, outcome, logged_by_id, at)
SELECT r.tenant_id, r.id,
       CASE WHEN u1 < 0.6 THEN 'requestor' WHEN u1 < 0.9 THEN 'patient' ELSE 'other' END,
       CASE WHEN u2 < 0.55 THEN 'status_given' WHEN u2 < 0.70 THEN 'voicemail' WHEN u2 < 0.85 THEN 'callback'
            ELSE 'redirected' END,
       COALESCE(r.assignee_id, s.specialists[1 + floor(u3 * cardinality(s.specialists))::int]),
       CASE WHEN finish = %(anchor)s OR u3 < 0.85 THEN r.received_at + u4 * (finish - r.received_at)
            -- a few after delivery ("did you send it?"), within a month
            ELSE LEAST(finish + u4 * interval '30 days', %(anchor)s) END
FROM workflow_recordrequest r
JOIN bench_staff s ON s.tenant_id = r.tenant_id
CROSS JOIN LATERAL (SELECT pg_temp.bench_u(r.id, 10) AS u,
                           LEAST(r.delivered_at, r.closed_at, %(anchor)s) AS finish) f
CROSS JOIN LATERAL generate_series(1, CASE WHEN u < 0.70 THEN 0 WHEN u < 0.92 THEN 1 WHEN u < 0.98 THEN 2 ELSE 3 END) k
CROSS JOIN LATERAL (SELECT pg_temp.bench_u(r.id * 4 + k, 11) AS u1, pg_temp.bench_u(r.id * 4 + k, 12) AS u2,
                           pg_temp.bench_u(r.id * 4 + k, 13) AS u3, pg_temp.bench_u(r.id * 4 + k, 14) AS u4) c
""",
    ),
    (
        "roi_accessevent (portal status views)",
        """
INSERT INTO roi_accessevent (tenant_id, at, actor_id, actor_label, action, object_type, object_id, request_id,
                             patient_id, detail, ip_address, user_agent)
SELECT r.tenant_id,
       -- while open, and in the week after it finished (to see that it did)
       LEAST(r.received_at + pg_temp.bench_u(r.id * 4 + k, 21) * (finish + interval '7 days' - r.received_at),
             %(anchor)s),
       NULL, 'portal requestor', 'portal_status_view', 'workflow.RecordRequest', r.id::text, r.id, r.patient_id,
       'Status page: ' || CASE WHEN r.state IN ('delivered', 'closed') THEN 'Sent'
                               WHEN r.state IN ('denied', 'cancelled') THEN 'Closed'
                               WHEN r.state = 'exception' THEN 'Action needed' ELSE 'In progress' END,
       ('203.0.113.' || (1 + floor(pg_temp.bench_u(r.id, 22) * 250)::int))::inet,
       'Mozilla/5.0 (benchmark)'
FROM workflow_recordrequest r
CROSS JOIN LATERAL (SELECT pg_temp.bench_u(r.id, 20) AS u,
                           LEAST(r.delivered_at, r.closed_at, %(anchor)s) AS finish) f
CROSS JOIN LATERAL generate_series(1, CASE WHEN r.channel = 'portal'
                                           THEN CASE WHEN u < 0.35 THEN 0 WHEN u < 0.75 THEN 1 WHEN u < 0.9 THEN 2
                                                     ELSE 3 END
                                           ELSE CASE WHEN u < 0.70 THEN 0 WHEN u < 0.95 THEN 1 ELSE 2 END END) k
WHERE r.tenant_id = ANY(%(access_tenant_ids)s) AND r.received_at >= %(access_since)s
""",
    ),
    (
        "exceptions_exceptionepisode (open)",
        """
INSERT INTO exceptions_exceptionepisode (tenant_id, request_id, reason, detail, deficiency_codes, opened_at,
                                         opened_by_id, owner_id, next_step, next_action_due, escalation_level,
                                         resolved_at, resolved_by_id, resolution)
SELECT r.tenant_id, r.id, r.exception_reason, 'Opened by staff: ' || replace(r.exception_reason, '_', ' ') || '.',
       '[]', r.exception_since, r.assignee_id, COALESCE(r.assignee_id, s.supervisor),
       CASE r.exception_reason
            WHEN 'incomplete_authorization' THEN 'Send a deficiency letter for a complete authorization'
            WHEN 'expired_authorization' THEN 'Ask the requestor for a new signed authorization'
            WHEN 'identity_not_verified' THEN 'Ask for a copy of a photo ID'
            WHEN 'scope_unclear' THEN 'Call the requestor to confirm the dates of care'
            WHEN 'awaiting_department' THEN 'Follow up with imaging'
            WHEN 'legal_review' THEN 'Counsel to review the subpoena'
            ELSE 'Remind the requestor of the fee' END,
       (r.exception_since AT TIME ZONE t.timezone)::date + t.deficiency_follow_up_days,
       0, NULL, NULL, ''
FROM workflow_recordrequest r
JOIN roi_tenant t ON t.id = r.tenant_id
JOIN bench_staff s ON s.tenant_id = r.tenant_id
WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.state = 'exception'
ON CONFLICT DO NOTHING
""",
    ),
    (
        "exceptions_exceptionepisode (resolved)",
        """
INSERT INTO exceptions_exceptionepisode (tenant_id, request_id, reason, detail, deficiency_codes, opened_at,
                                         opened_by_id, owner_id, next_step, next_action_due, escalation_level,
                                         resolved_at, resolved_by_id, resolution)
SELECT r.tenant_id, r.id, reason, 'Opened by staff: ' || replace(reason, '_', ' ') || '.', '[]',
       opened_at, r.assignee_id, owner_id, 'Follow up', (opened_at AT TIME ZONE t.timezone)::date + 5, 0,
       LEAST(opened_at + r.exception_seconds_before * interval '1 second', bound), owner_id,
       'Resolved: ' || replace(reason, '_', ' ') || ' settled.'
FROM workflow_recordrequest r
JOIN roi_tenant t ON t.id = r.tenant_id
JOIN bench_staff s ON s.tenant_id = r.tenant_id
CROSS JOIN LATERAL (
    SELECT (ARRAY['incomplete_authorization','expired_authorization','identity_not_verified','scope_unclear',
                  'awaiting_department','legal_review','payment_pending'])[1 + floor(pg_temp.bench_u(r.id, 30) * 7)::int]
               AS reason,
           COALESCE(r.assignee_id, s.supervisor) AS owner_id,
           -- before the current episode, and before the request finished
           LEAST(r.exception_since, r.delivered_at, r.closed_at, %(anchor)s) AS bound
) x
CROSS JOIN LATERAL (SELECT LEAST(r.received_at + interval '2 hours', bound) AS opened_at) o
WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.exception_seconds_before > 0
""",
    ),
    (
        "exceptions_escalationevent",
        """
INSERT INTO exceptions_escalationevent (tenant_id, rule_id, request_id, level, episode_id, fired_at, summary,
                                        acknowledged_at, acknowledged_by_id)
SELECT p.tenant_id, rule.id, p.id, rule.level, e.id, p.fired_at, rule.name || ': ' || p.tracking_number,
       CASE WHEN pg_temp.bench_u(p.id, 41) < 0.7
                 AND p.fired_at + (1 + 30 * power(pg_temp.bench_u(p.id, 42), 2)) * interval '1 hour' <= %(anchor)s
            THEN p.fired_at + (1 + 30 * power(pg_temp.bench_u(p.id, 42), 2)) * interval '1 hour' END,
       CASE WHEN pg_temp.bench_u(p.id, 41) < 0.7
                 AND p.fired_at + (1 + 30 * power(pg_temp.bench_u(p.id, 42), 2)) * interval '1 hour' <= %(anchor)s
            THEN s.supervisor END
FROM (
    SELECT r.id, r.tenant_id, r.tracking_number, rule_name,
           GREATEST(r.received_at, LEAST(
               CASE rule_name
                    WHEN 'Exception open 7 days' THEN r.exception_since + interval '7 days'
                    WHEN 'Legal due date passed' THEN ((r.legal_due_date + 1)::timestamp + interval '7 hours')
                                                      AT TIME ZONE t.timezone
                    ELSE ((r.legal_due_date - 5)::timestamp + interval '7 hours') AT TIME ZONE t.timezone END,
               COALESCE(r.delivered_at, r.closed_at, %(anchor)s) - interval '1 hour')) AS fired_at
    FROM workflow_recordrequest r
    JOIN roi_tenant t ON t.id = r.tenant_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r.state = 'exception' AND r.exception_since < %(anchor)s - interval '7 days'
                        THEN 'Exception open 7 days'
                    WHEN r.legal_due_date < (%(anchor)s AT TIME ZONE t.timezone)::date
                         AND r.state IN ('received', 'validated', 'in_fulfillment', 'exception')
                        THEN 'Legal due date passed'
                    ELSE 'Legal due within 5 days' END AS rule_name
    ) n
    WHERE r.tenant_id = ANY(%(tenant_ids)s) AND pg_temp.bench_u(r.id, 40) < 0.03
) p
JOIN exceptions_escalationrule rule ON rule.tenant_id = p.tenant_id AND rule.name = p.rule_name
JOIN bench_staff s ON s.tenant_id = p.tenant_id
LEFT JOIN exceptions_exceptionepisode e
       ON e.request_id = p.id AND e.resolved_at IS NULL AND p.rule_name = 'Exception open 7 days'
ON CONFLICT DO NOTHING
""",
    ),
    (
        "fulfillment_releasepacket",
        """
INSERT INTO fulfillment_releasepacket (tenant_id, request_id, version, file, sha256, page_count, record_pages,
                                       recipient, contents, includes_part2, built_by_id, built_at, superseded_at)
SELECT r.tenant_id, r.id, v, 'packets/benchmark/' || r.tracking_number || '-v' || v || '.pdf',
       md5(r.id || '/' || v) || md5(v || '/' || r.id), pages + 1, pages, 'Requestor of ' || r.tracking_number,
       '[]', false, r.assignee_id,
       -- the version delivered is built two hours before delivery; a version that failed QC two hours earlier
       r.delivered_at - CASE WHEN v = versions THEN interval '2 hours' ELSE interval '4 hours' END,
       CASE WHEN v < versions THEN r.delivered_at - interval '3 hours' END
FROM workflow_recordrequest r
CROSS JOIN LATERAL (SELECT CASE WHEN pg_temp.bench_u(r.id, 50) < 0.06 THEN 2 ELSE 1 END AS versions,
                           5 + floor(power(pg_temp.bench_u(r.id, 51), 2) * 400)::int AS pages) x
CROSS JOIN LATERAL generate_series(1, versions) v
WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.state IN ('delivered', 'closed')
  AND r.delivered_at >= %(anchor)s - interval '400 days'
""",
    ),
    (
        "fulfillment_qcreview",
        """
INSERT INTO fulfillment_qcreview (tenant_id, request_id, packet_id, reviewer_id, reviewed_at, outcome, checks,
                                  failures, note, release_facts)
SELECT p.tenant_id, p.request_id, p.id, s.supervisor,
       COALESCE(p.superseded_at, p.built_at + interval '1 hour'),
       CASE WHEN p.superseded_at IS NULL THEN 'passed' ELSE 'failed' END,
       CASE WHEN p.superseded_at IS NULL
            THEN '{"patient": true, "scope": true, "basis": true, "sensitive": true, "recipient": true, "fee": true}'
            ELSE '{"patient": false, "scope": true, "basis": true, "sensitive": true, "recipient": true, "fee": true}'
            END::jsonb,
       CASE WHEN p.superseded_at IS NULL THEN '[]'
            ELSE '[{"code": "patient", "message": "A page of another patient is in the packet."}]' END::jsonb,
       '', '{}'::jsonb
FROM fulfillment_releasepacket p
JOIN bench_staff s ON s.tenant_id = p.tenant_id
WHERE p.tenant_id = ANY(%(tenant_ids)s)
""",
    ),
    (
        "fulfillment_delivery",
        """
INSERT INTO fulfillment_delivery (tenant_id, request_id, packet_id, method, destination, delivered_at, delivered_by_id,
                                  fax_confirmation, mail_tracking_number, pickup_id_description, evidence,
                                  resend_of_id, resend_reason, resend_note)
SELECT r.tenant_id, r.id, p.id, r.delivery_method, r.delivery_destination, r.delivered_at, r.assignee_id,
       CASE WHEN r.delivery_method = 'fax' THEN r.delivery_evidence ELSE '' END,
       CASE WHEN r.delivery_method = 'mail' THEN '9400 1000 0000 ' || lpad(r.id::text, 8, '0') ELSE '' END,
       '', r.delivery_evidence, NULL, '', ''
FROM fulfillment_releasepacket p
JOIN workflow_recordrequest r ON r.id = p.request_id
WHERE p.tenant_id = ANY(%(tenant_ids)s) AND p.superseded_at IS NULL
""",
    ),
    (
        "fulfillment_delivery (resends)",
        """
INSERT INTO fulfillment_delivery (tenant_id, request_id, packet_id, method, destination, delivered_at, delivered_by_id,
                                  fax_confirmation, mail_tracking_number, pickup_id_description, evidence,
                                  resend_of_id, resend_reason, resend_note)
SELECT d.tenant_id, d.request_id, d.packet_id, d.method, d.destination,
       LEAST(d.delivered_at + (1 + 9 * pg_temp.bench_u(d.request_id, 61)) * interval '1 day', %(anchor)s),
       d.delivered_by_id, d.fax_confirmation, d.mail_tracking_number, '', 'Resent: ' || d.evidence, d.id,
       (ARRAY['wrong_destination','missing_records','unreadable','not_received','additional_records'])
           [1 + floor(pg_temp.bench_u(d.request_id, 62) * 5)::int],
       'Requestor called'
FROM fulfillment_delivery d
WHERE d.tenant_id = ANY(%(tenant_ids)s) AND d.resend_of_id IS NULL AND pg_temp.bench_u(d.request_id, 60) < 0.04
""",
    ),
]
EVENT_TABLES = [
    "workflow_recordrequest",
    "intake_extension",
    "workflow_statuscall",
    "roi_accessevent",
    "exceptions_exceptionepisode",
    "exceptions_escalationevent",
    "fulfillment_releasepacket",
    "fulfillment_qcreview",
    "fulfillment_delivery",
]
# A per-row BEFORE INSERT trigger on access events (a hash chain, say) makes 400,000 inserts slow: then only the
# largest tenant's last 400 days get portal status views.
ACCESS_EVENTS_LIMITED_DAYS = 400


def _access_event_insert_trigger(cursor: Any) -> bool:
    # tgtype bits: 2 BEFORE, 4 INSERT (pg_trigger.h)
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'roi_accessevent'::regclass AND NOT tgisinternal"
        " AND tgtype & 6 = 6)"
    )
    return cursor.fetchone()[0]


def ensure_events(stats: dict[str, Any]) -> None:
    """Add the events to a data set that has none yet (see above); one transaction, timed and printed."""
    from django.db import connection

    tenant_ids = stats["tenant_ids"]
    with bypass("dataset.ensure_events"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM workflow_statuscall WHERE tenant_id = ANY(%s))", [tenant_ids])
            if cursor.fetchone()[0]:
                return
        started = time.perf_counter()
        print("adding the events a dashboard reads (once per database)", flush=True)
        _events_add(stats)
    vacuum_analyze(EVENT_TABLES)
    print(f"events added in {time.perf_counter() - started:.1f} s (vacuum and analyze included)", flush=True)


def _events_add(stats: dict[str, Any]) -> None:
    from datetime import timedelta

    from django.db import connection, transaction

    from exceptions.escalations import escalation_rules_seed_defaults

    tenant_ids = stats["tenant_ids"]
    with transaction.atomic(), connection.cursor() as cursor:
        for tenant in _bench_tenants():
            escalation_rules_seed_defaults(tenant)
        params: dict[str, Any] = {"tenant_ids": tenant_ids, "anchor": ANCHOR, "access_tenant_ids": tenant_ids,
                                  "access_since": ANCHOR - timedelta(days=3650)}  # fmt: skip
        if _access_event_insert_trigger(cursor):
            params["access_tenant_ids"] = [stats["largest_tenant_id"]]
            params["access_since"] = ANCHOR - timedelta(days=ACCESS_EVENTS_LIMITED_DAYS)
            print(f"  roi_accessevent has a BEFORE INSERT trigger: portal status views for the largest tenant's "
                  f"last {ACCESS_EVENTS_LIMITED_DAYS} days only", flush=True)  # fmt: skip
        for sql in EVENTS_SETUP_SQL:
            cursor.execute(sql, params if "%(" in sql else None)
        for label, sql in EVENTS_SQL:
            step = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  {label:<52} {cursor.rowcount:>9,} rows   {time.perf_counter() - step:6.1f} s", flush=True)


NAME_LISTS = {
    "first_names": list(FIRST_NAMES),
    "last_names": list(LAST_NAMES),
    "law_words": list(LAW_FIRM_WORDS),
    "insurers": list(INSURERS),
}

# A data set built before the names were realistic ("Requestor 17", twelve first names): renamed in place, as the
# generator now names them (the same lists and draws; ids and everything else unchanged). Search needs it.
RENAME_SQL = [
    """UPDATE workflow_patient p SET
           first_name = (%(first_names)s::text[])[1 + floor(cardinality(%(first_names)s::text[]) * random() ^ 2)::int],
           last_name = (%(last_names)s::text[])[1 + floor(cardinality(%(last_names)s::text[]) * random() ^ 2)::int]
       WHERE p.tenant_id = ANY(%(tenant_ids)s)""",
    """UPDATE workflow_requestor q SET name = k.first || ' ' || k.last, organization = k.organization,
           email = lower(left(k.first, 1) || k.last) || q.id || '@' || CASE WHEN k.organization = ''
               THEN 'mail.example.com' ELSE lower(regexp_replace(k.organization, '[^A-Za-z]', '', 'g'))
               || '.example.com' END
       FROM (SELECT id,
                    (%(first_names)s::text[])[1 + floor(cardinality(%(first_names)s::text[]) * random() ^ 2)::int]
                        AS first,
                    (%(last_names)s::text[])[1 + floor(cardinality(%(last_names)s::text[]) * random() ^ 2)::int]
                        AS last,
                    CASE WHEN organization = '' THEN ''
                         WHEN random() < 0.67 THEN (%(last_names)s::text[])[1 + (id %% 97)::int] || ' '
                              || (%(law_words)s::text[])[1 + (id %% 6)::int]
                         ELSE (%(insurers)s::text[])[1 + (id %% 10)::int] END AS organization
             FROM workflow_requestor WHERE tenant_id = ANY(%(tenant_ids)s)) k
       WHERE q.id = k.id""",
]


def ensure_realistic_names(stats: dict[str, Any]) -> None:
    """Rename the patients and requestors of a data set built with the old placeholder names (once)."""
    from django.db import connection, transaction

    from roi import rls

    with rls.tenant_scope(stats["largest_tenant_id"]), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM workflow_requestor WHERE name LIKE 'Requestor %%'")
        if not cursor.fetchone()[0]:
            return
    started = time.perf_counter()
    print("renaming patients and requestors with realistic names (once per database)", flush=True)
    with bypass("dataset.ensure_realistic_names"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.5)")
        for sql in RENAME_SQL:
            cursor.execute(sql, {**NAME_LISTS, "tenant_ids": stats["tenant_ids"]})
    vacuum_analyze(("workflow_patient", "workflow_requestor"))
    print(f"renamed in {time.perf_counter() - started:.1f} s", flush=True)


def _bench_tenants():
    from roi.models import Tenant

    return Tenant.objects.filter(slug__startswith=SLUG_PREFIX)


def dataset_stats() -> dict[str, Any]:
    """Counted tenant by tenant, each in its own scope (roi/rls.py), as the app's platform jobs go."""
    from django.db import connection

    from roi import rls

    tenants = list(_bench_tenants().order_by("pk"))
    tenant_ids = [tenant.pk for tenant in tenants]
    by_state: dict[str, int] = {}
    by_tenant: dict[int, int] = {}
    for tenant in rls.each_tenant(tenants):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT state, count(*) FROM workflow_recordrequest WHERE tenant_id = %s GROUP BY state", [tenant.pk]
            )
            for state, count in cursor.fetchall():
                by_state[state] = by_state.get(state, 0) + count
                by_tenant[tenant.pk] = by_tenant.get(tenant.pk, 0) + count
    open_states = ("received", "validated", "in_fulfillment", "exception")
    return {
        "tenants": len(tenant_ids),
        "tenant_ids": tenant_ids,
        "requests": sum(by_state.values()),
        "open_requests": sum(by_state.get(s, 0) for s in open_states),
        "by_state": by_state,
        "largest_tenant_id": max(by_tenant, key=by_tenant.__getitem__) if by_tenant else None,
    }


def events_stats(tenant_ids: list[int]) -> dict[str, int]:
    """Rows of each event table that belong to the given tenants (counted in each tenant's scope)."""
    from django.db import connection

    from roi import rls
    from roi.models import Tenant

    counts = dict.fromkeys(EVENT_TABLES[1:], 0)
    for _tenant in rls.each_tenant(Tenant.objects.filter(pk__in=tenant_ids).order_by("pk")):
        with connection.cursor() as cursor:
            for table in EVENT_TABLES[1:]:
                cursor.execute(f"SELECT count(*) FROM {table}")
                counts[table] += cursor.fetchone()[0]
    return counts


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
        ensure_events(stats)
        return stats
    if not 1 <= tenants <= len(TENANTS):
        raise ValueError(f"tenants must be between 1 and {len(TENANTS)}")

    started = time.perf_counter()
    print(f"building the data set: {requests:,} requests across {tenants} tenants (once per database)", flush=True)
    password = make_password(None)  # unusable: nobody logs in as a benchmark user
    offset = 0
    # Rows of twenty tenants in one transaction: the tenant wall is lifted for the build, and the lifting recorded.
    with bypass("dataset.ensure_dataset"), transaction.atomic(), connection.cursor() as cursor:
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
            common = {"tenant_id": tenant.pk, "anchor": ANCHOR, "state": state, **NAME_LISTS}
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
    vacuum_analyze(("workflow_recordrequest", "workflow_patient", "workflow_requestor"))
    stats = dataset_stats()
    print(f"built in {time.perf_counter() - started:.1f} s: {stats['requests']:,} requests, "
          f"{stats['open_requests']:,} open", flush=True)  # fmt: skip
    ensure_events(stats)
    return stats


if __name__ == "__main__":
    setup_django()
    built = ensure_dataset()
    for table, rows in events_stats(built["tenant_ids"]).items():
        print(f"  {table:<32} {rows:>10,}")
