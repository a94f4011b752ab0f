"""The benchmark data set (benchmarks/dataset.py) writes its rows with SQL, not through the models: a NOT NULL column
added later without a database default breaks `make bench` on its first insert. Each INSERT must name every such
column of its table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

DATASET = Path(settings.BASE_DIR) / "benchmarks" / "dataset.py"
INSERT = re.compile(r"INSERT INTO (\w+)\s*\(([^)]*)\)")
# Filled by a BEFORE INSERT trigger, not by the statement.
FILLED_BY_TRIGGER = {"roi_accessevent": {"prev_hash", "row_hash"}}


@pytest.mark.django_db
def test_every_insert_of_the_benchmark_data_set_names_the_required_columns():
    inserts = INSERT.findall(DATASET.read_text())
    assert len(inserts) > 10
    missing = {}
    with connection.cursor() as cursor:
        for table, columns in inserts:
            named = {column.strip() for column in columns.split(",")}
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
                "AND column_default IS NULL AND column_name <> 'id'",
                [table],
            )
            required = {row[0] for row in cursor.fetchall()} - FILLED_BY_TRIGGER.get(table, set())
            assert required, f"{table}: no such table"
            if required - named:
                missing[table] = sorted(required - named)
    assert missing == {}
