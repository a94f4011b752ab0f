from django.db import models


class Role(models.TextChoices):
    """What a staff member may do inside one tenant. Platform operators are Django superusers instead."""

    SPECIALIST = "specialist", "Release specialist"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMIN = "admin", "Tenant admin"


# Roles that may act as a supervisor (admins supervise too).
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
STAFF_ROLES = frozenset(Role)


class AccessAction(models.TextChoices):
    VIEW_REQUEST = "view_request", "Viewed request"
    LIST_REQUESTS = "list_requests", "Listed requests"
    DOWNLOAD_DOCUMENT = "download_document", "Downloaded document"
    # The document viewer opened on one document (workflow/views/viewer.py): its page images are fetched under the
    # grant this open issued and write no event of their own.
    VIEW_DOCUMENT = "view_document", "Viewed document pages"
    EXPORT = "export", "Exported data"
    SEARCH_PATIENTS = "search_patients", "Searched patients"
    # The search box of every staff page and the API's ?q= (workflow/search.py): the detail holds the number of
    # results, the kinds matched and a keyed hash of the term, never the term (a patient's name, MRN or birth date).
    SEARCH_REQUESTS = "search_requests", "Searched requests"
    VIEW_PATIENT = "view_patient", "Viewed patient"
    # The audit pages show patients' names and what was done with their records: reading them is an access too.
    VIEW_AUDIT = "view_audit", "Viewed audit trail"
    # The requestor portal: actors are requestors, not staff (actor_label says how they were verified).
    PORTAL_LOOKUP = "portal_lookup", "Portal: verified status lookup"
    PORTAL_STATUS_VIEW = "portal_status_view", "Portal: viewed status"
    PORTAL_LOCKOUT = "portal_lockout", "Portal: lookups slowed after failures"
    PORTAL_UPLOAD = "portal_upload", "Portal: uploaded a document"
    STAFF_LOCKOUT = "staff_lockout", "Staff sign-in slowed after failures"
    # Emergency access to a restricted request outside one's assignment (workflow/break_glass.py); the detail
    # holds the reason the user gave.
    BREAK_GLASS = "break_glass", "Break-glass access to a restricted request"
    # Integration clients (roi/api_auth.py): every call with a token, refused ones included (the detail names the
    # token's prefix, the method and the path); and every change a tenant admin or an operator makes to a client or
    # its tokens (roi/services.py).
    API_CALL = "api_call", "API call by an integration client"
    INTEGRATION_CHANGE = "integration_change", "Integration client or token changed"
    # An internal note written or edited on a request (workflow/notes.py); the detail says which note and version.
    REQUEST_NOTE = "request_note", "Wrote an internal note on a request"


class ApiScope(models.TextChoices):
    """What an integration client's token may do. Each API operation declares the one scope it needs
    (`token_scopes` on the API views, checked by roi.api_auth.HasTokenScope); staff signed in through the browser
    have no scopes, their role decides."""

    READ = "read", "Read requests"
    INTAKE = "intake", "Record new requests and their intake"
    TRANSITIONS = "transitions", "Move, assign and extend requests"
    # Requests with a sensitive category open only for their assignee (workflow/break_glass.py); an integration has
    # no assignment, so without this scope they are missing from every answer it gets.
    RESTRICTED = "restricted", "See restricted requests (sensitive categories)"


# The roles an integration client may act with in the services: never a tenant admin's, which configures the
# organisation rather than working its requests.
INTEGRATION_ROLES = [(Role.SPECIALIST.value, Role.SPECIALIST.label), (Role.SUPERVISOR.value, Role.SUPERVISOR.label)]


US_STATES = [
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
    ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("DC", "District of Columbia"),
    ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"),
    ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"),
    ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
    ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
    ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"), ("SD", "South Dakota"),
    ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"),
    ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
]  # fmt: skip
