"""Restore drill: dump a database, restore it into a new one, and check that what makes it OpenROI's came back.

    python -m ops.restore_drill --source postgres://postgres@127.0.0.1:5432/openroi_dev [--target openroi_drill]
                                [--bin /usr/lib/postgresql/15/bin]

`--source` is the owner's URL of the database to copy (a copy of production, or any development database). The drill
times `pg_dump -Fc` and `pg_restore` into `--target` (dropped first if it exists), then, connected to the restored
database as the app role (`openroi_app`, as the app runs):
- `manage.py rls_status`: every tenant table's policy enabled and forced, the app role unable to bypass them;
- `manage.py verify_audit_chain`: every tenant's access-event hash chain intact;
- the row counts of the main tables, per tenant, equal to the source's.
Exit code 1 if any check fails. docs/operations.md has the figures of the last run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
COUNTED = ["workflow_recordrequest", "workflow_patient", "roi_accessevent", "workflow_requesttransition"]


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _counts(url: str) -> dict[str, list[tuple[int, int]]]:
    """Per table, (tenant, rows): read as the owner with the tenant wall lifted for this session."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('roi.bypass', 'on', false)")
        return {
            table: conn.execute(
                f"SELECT tenant_id, count(*) FROM {table} GROUP BY tenant_id ORDER BY tenant_id"
            ).fetchall()
            for table in COUNTED
        }


def _manage(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True, text=True, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.restore_drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="owner URL of the database to copy")
    parser.add_argument("--target", default="openroi_drill", help="name of the database to restore into")
    parser.add_argument("--bin", default="", help="folder of pg_dump and pg_restore (default: PATH)")
    parser.add_argument("--dump", default="var/ops/restore-drill.dump", help="where the dump file goes")
    args = parser.parse_args(argv)
    tool = (lambda name: str(Path(args.bin) / name)) if args.bin else (lambda name: name)
    dump = ROOT / args.dump
    dump.parent.mkdir(parents=True, exist_ok=True)
    target_url = _with_database(args.source, args.target)
    failures: list[str] = []

    started = time.monotonic()
    subprocess.run([tool("pg_dump"), "-Fc", "-f", str(dump), "-d", args.source], check=True)
    dumped = time.monotonic() - started
    with psycopg.connect(_with_database(args.source, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.target}"')
        conn.execute(f'CREATE DATABASE "{args.target}"')
    started = time.monotonic()
    subprocess.run([tool("pg_restore"), "--exit-on-error", "-d", target_url, str(dump)], check=True)
    restored = time.monotonic() - started
    print(f"pg_dump: {dumped:.1f} s, {dump.stat().st_size / 1e6:.1f} MB; pg_restore: {restored:.1f} s")

    source_counts, target_counts = _counts(args.source), _counts(target_url)
    for table in COUNTED:
        rows = sum(n for _tenant, n in target_counts[table])
        same = source_counts[table] == target_counts[table]
        print(
            f"{table}: {rows} rows in {len(target_counts[table])} tenant(s), {'same as' if same else 'DIFFERENT from'} the source"
        )
        if not same:
            failures.append(f"{table} counts differ")

    # The app's own view of the restored database: the app role, under the tenant wall.
    from roi.devstack import app_database_url

    env = {**os.environ, "DATABASE_URL": app_database_url(target_url), "DATABASE_OWNER_URL": target_url}
    env.setdefault("SECRET_KEY", "restore-drill-" + "x" * 40)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    code, output = _manage(env, "migrate", "--check")  # the app role exists and the schema is complete
    if code != 0:
        failures.append("migrate --check: " + output.splitlines()[-1] if output else "migrate --check failed")
    env.pop("DATABASE_OWNER_URL")
    for command in (["rls_status"], ["verify_audit_chain"]):
        code, output = _manage(env, *command)
        print(f"manage.py {' '.join(command)}:\n  " + "\n  ".join(output.splitlines()))
        if code != 0:
            failures.append(f"{command[0]} failed")
    print("restore drill: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
