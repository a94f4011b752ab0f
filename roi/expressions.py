"""SQL expressions the ORM lacks, for keyset pagination: a row comparison and a negated sort key.

A page after the row (v, id) in the order (key, id) is `ROW(key, id) > ROW(v, id)`: PostgreSQL turns that into
one index range scan on (key, id) that starts at the cursor. Spelled as `key > v OR (key = v AND id > id0)`, it
has to scan and discard every earlier row with the same key, which is most of the table when thousands of closed
requests share a priority of 0. A descending key (priority, highest first) with ascending ties is made ascending
by negation, stored as a generated column with an index (RecordRequest.priority_key), so the whole order is one
direction and one row compare."""

from __future__ import annotations

from django.db import models


class Negated(models.Func):
    """-x, spelled without a parameter (a generated column's expression)."""

    template = "(-%(expressions)s)"
    arity = 1


class Row(models.Func):
    """ROW(a, b, ...) for comparing with GreaterThan / LessThan as one value."""

    function = "ROW"
    output_field = models.IntegerField()  # a lookup asks for one; the row itself is never read back
